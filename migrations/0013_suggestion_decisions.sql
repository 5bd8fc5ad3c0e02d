-- Staff decisions on suggestions: a dismissed suggestion (company + action type) stays hidden
-- until restored; a snoozed one until hidden_until. Each decision is also in audit_log.
CREATE TABLE suggestion_decisions (
    company_id   TEXT NOT NULL,
    action_type  TEXT NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('dismissed', 'snoozed')),
    hidden_until TEXT,            -- snoozed: when it shows again; dismissed: NULL
    user_id      INTEGER,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (company_id, action_type),
    CHECK ((decision = 'snoozed') = (hidden_until IS NOT NULL))
);

-- What was last done for a company (the suggestions page's "acted on" line).
CREATE INDEX idx_audit_target ON audit_log (target, action, id);
