#!/usr/bin/env bash
# Mutation check: applies each one-line mutation of a critical rule to a temporary copy of the
# tree (never the working tree), runs the tests that must catch it, and reports caught or
# survived. Exits non-zero when a mutation survives, does not apply, or does not build.
#
#   scripts/mutation-check.sh            all mutations
#   scripts/mutation-check.sh NAME...    only these
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0

names=() files=() olds=() news=() pkgs=() runs=()
# mutation NAME FILE OLD NEW PACKAGE RUN: OLD must occur exactly once in FILE.
mutation() {
  names+=("$1") files+=("$2") olds+=("$3") news+=("$4") pkgs+=("$5") runs+=("$6")
}

# A late checkout.session.expired turns a paid order into an expired one.
mutation expiry-unpays-paid store/stripe_events.go \
  $'if o.Status == OrderPending {\n\t\t\to.Status = OrderExpired' \
  $'if o.Status == OrderPending || o.Status == OrderPaid {\n\t\t\to.Status = OrderExpired' \
  ./store 'TestStripeTransitionsAreForwardOnly|TestSettledOrderIsUnchangedByLaterEvents'
# markPaid without its already-paid guard: a later payment event rewrites paid_at.
mutation markpaid-guard store/stripe_events.go \
  $'\tif o.Status == OrderPaid {\n\t\treturn nil\n\t}\n\tif o.Status == OrderCancelled {' \
  $'\tif o.Status == OrderCancelled {' \
  ./store 'TestStripeTransitionsAreForwardOnly|TestSettledOrderIsUnchangedByLaterEvents'
# The webhook's event-id dedupe: a repeat delivery is applied again instead of only counted.
mutation event-id-dedupe store/stripe_events.go \
  'if attempts > 1 && prev != DeliveryFailed {' \
  'if false && attempts > 1 && prev != DeliveryFailed {' \
  ./store 'TestStripeCompletionPaysOnce|TestStripeWithoutPreparedStatements'
# The outbox claim takes processing jobs whose lease is still live (two workers, one job).
mutation outbox-claim-live-lease store/outbox.go \
  "WHERE status = 'processing' AND locked_until < ?1 ORDER BY locked_until" \
  "WHERE status = 'processing' ORDER BY locked_until" \
  ./store 'Claim|Lease|Outbox'
# The forward-only expiry rule: an expiry expires any order that is not already expired.
mutation expiry-forward-only store/stripe_events.go \
  $'if o.Status == OrderPending {\n\t\t\to.Status = OrderExpired' \
  $'if o.Status != OrderExpired {\n\t\t\to.Status = OrderExpired' \
  ./store 'TestStripeStateRules|TestStripeTransitionsAreForwardOnly'
# Beyond the five above: a failed shared commit fails every request of the batch instead of
# rerunning each alone.
mutation group-commit-fallback store/commit.go \
  'db.finish([]*writeReq{r}, []error{db.runAlone(r)})' \
  'db.finish([]*writeReq{r}, []error{err})' \
  ./store 'TestGroupCommitFallsBackWhenTheSharedCommitFails|TestGroupCommitIsolatesFailures'
# A webhook whose database write failed is acknowledged (200), so Stripe never retries it.
mutation webhook-ack-on-failure app/stripe_webhook.go \
  $'\t\twriteError(w, r, s.logger, err)\n\t\treturn\n\t}\n\twriteJSON(w, http.StatusOK, map[string]bool{"received": true})' \
  $'\t\twriteJSON(w, http.StatusOK, map[string]bool{"received": true})\n\t\treturn\n\t}\n\twriteJSON(w, http.StatusOK, map[string]bool{"received": true})' \
  ./app 'TestStripeWebhookWriteFailureAnswers5xxAndLeavesNothing|TestStripeWebhookFailingDeliveryTableAnswers5xx'

# Issue 14's hazard: the app files the order sync under another name (every paid order's
# Zoho job would die with "no handler").
mutation job-kind-renamed-app-side app/jobs.go \
  'registerJob(reg, zoho.syncOrderJob)' \
  'reg.Register("zoho_sync_orders", jobHandler(zoho.syncOrderJob))' \
  ./app 'TestEveryDeclaredJobKindHasAHandler'
# Issue 14's hazard: charge.dispute.created declared as a charge event (its dispute id would be
# stored as the charge id).
mutation dispute-as-charge store/stripe_event_types.go \
  $'\t{StripeChargeRefunded, StripeObjectCharge, EventChargeRefunded},\n}' \
  $'\t{StripeChargeRefunded, StripeObjectCharge, EventChargeRefunded},\n\t{"charge.dispute.created", StripeObjectCharge, EventChargeRefunded},\n}' \
  ./store 'TestStripeEventTypesNameTheirObject'
# Issue 12 §3: staff may cancel jobs.
mutation staff-may-cancel app/console/ops.go \
  'path: "/admin/jobs/:id/cancel", role: roleAdmin,' \
  'path: "/admin/jobs/:id/cancel", role: roleStaff,' \
  ./app/console 'TestDeclaredRolesFollowTheRoleRules'
# Issue 12 §3: the page guard forgets the role.
mutation role-check-skipped app/console/auth.go \
  $'if !need.allows(p) {\n\t\t\ts.renderStatus' \
  $'if false && !need.allows(p) {\n\t\t\ts.renderStatus' \
  ./app 'TestStaffAreRefusedEveryAdminOnlyRoute'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
survived=0 broken=0 ran=0
printf '%-26s %s\n' MUTATION RESULT
for i in "${!names[@]}"; do
  name=${names[$i]} file=${files[$i]} pkg=${pkgs[$i]} run=${runs[$i]}
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  ran=$((ran + 1))
  tree="$tmp/$name"
  mkdir -p "$tree"
  # The tracked and untracked (not ignored) files as they are now, uncommitted edits included.
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$tree"
  if ! OLD="${olds[$i]}" NEW="${news[$i]}" perl -0777 -i -pe '
      my $n = () = /\Q$ENV{OLD}\E/g;
      die "the text to mutate occurs $n times, want 1\n" unless $n == 1;
      s/\Q$ENV{OLD}\E/$ENV{NEW}/;' "$tree/$file" 2>"$tmp/$name.err"; then
    printf '%-26s %s\n' "$name" "NOT APPLIED: $file: $(tr -d '\n' <"$tmp/$name.err")"
    broken=$((broken + 1))
    continue
  fi
  if ! (cd "$tree" && go vet "$pkg" >"$tmp/$name.log" 2>&1); then
    printf '%-26s %s\n' "$name" "DOES NOT BUILD"
    sed 's/^/    /' "$tmp/$name.log" | head -20
    broken=$((broken + 1))
    continue
  fi
  if (cd "$tree" && go test "$pkg" -run "$run" -count=1 >"$tmp/$name.log" 2>&1); then
    printf '%-26s %s\n' "$name" "SURVIVED: go test $pkg -run '$run' passed"
    survived=$((survived + 1))
  else
    failed=$(grep -o -- '--- FAIL: [^ ]*' "$tmp/$name.log" | sed 's/--- FAIL: //' | cut -d/ -f1 | sort -u | tr '\n' ' ')
    printf '%-26s %s\n' "$name" "caught by ${failed:-go test $pkg (no test named; see its output)}"
  fi
  rm -rf "$tree"
done
echo "mutation check: $ran run, $((ran - survived - broken)) caught, $survived survived, $broken not applied or not building"
[ $((survived + broken)) -eq 0 ]
