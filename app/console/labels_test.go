package console

import (
	"regexp"
	"strings"
	"testing"
)

// TestAuditFilterLabelsAreDistinct: every audit action the console records has its own
// label (no two alike), and the groups read as words ("Any API action").
func TestAuditFilterLabelsAreDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, o := range auditActionOptions() {
		if prev, ok := seen[o.Label]; ok {
			t.Errorf("%q and %q are both labelled %q", prev, o.Name, o.Label)
		}
		seen[o.Label] = o.Name
		if strings.Contains(o.Label, "_") || regexp.MustCompile(`Any (api|zoho|login) `).MatchString(o.Label) {
			t.Errorf("option %q reads %q", o.Name, o.Label)
		}
	}
	for _, action := range []string{"suggestion.restore", "payment_link.create", "suggestion.dismiss", "offer.link"} {
		if _, ok := auditLabels[action]; !ok {
			t.Errorf("audit action %s has no label", action)
		}
	}
}
