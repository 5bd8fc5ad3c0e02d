package console

import "testing"

// Actions and job kinds without a label are named by their words (moved from the page tests
// TestNoDeveloperNamesOutsideTechnicalDetails and TestJobKindsAreLabelled in app).
func TestLabelsFallBackToWords(t *testing.T) {
	if got := auditLabel("something.new_thing"); got != "Something: new thing" {
		t.Errorf("auditLabel fallback = %q", got)
	}
	if jobLabel("some_new_kind") != "Some new kind" {
		t.Error("jobLabel fallback")
	}
}
