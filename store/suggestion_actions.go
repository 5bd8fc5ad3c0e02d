package store

// ActionType is a next-best-action rule (v_next_best_actions.action_type). The rules are
// declared once, below, with what the admin UI offers for each; the view computes them and
// TestDeclaredActionTypesMatchTheView keeps the two in step.
type ActionType string

// The declared suggestion rules.
const (
	ActionReorderReminder  ActionType = "reorder_reminder"
	ActionEngagementNeeded ActionType = "engagement_needed"
	ActionPortalInvite     ActionType = "portal_invite"
)

// ActionTypeSpec is one declared rule and its properties.
type ActionTypeSpec struct {
	Type  ActionType
	Label string // the view's action_label
	// OfferKey is the offer that answers the suggestion (sent or linked from the admin UI).
	OfferKey string
}

var actionTypes = [...]ActionTypeSpec{
	{ActionReorderReminder, "Send a reorder reminder", "reorder"},
	{ActionEngagementNeeded, "Re-engage this customer", "winback"},
	{ActionPortalInvite, "Invite to the reorder portal", "portal"},
}

// ActionTypes lists the declared rules (a fresh slice).
func ActionTypes() []ActionTypeSpec { return append([]ActionTypeSpec(nil), actionTypes[:]...) }

// LookupActionType returns the declaration of a rule; an unknown type is an EINVALID error.
func LookupActionType(t string) (ActionTypeSpec, error) {
	for _, a := range actionTypes {
		if string(a.Type) == t {
			return a, nil
		}
	}
	return ActionTypeSpec{}, Errorf(EINVALID, "unknown suggestion action type %q", t)
}
