package console

import (
	"testing"

	"github.com/technifold/technifold/store"
)

func TestOfferKeyForRefusesAnUnknownActionType(t *testing.T) {
	for _, a := range store.ActionTypes() {
		if k, err := offerKeyFor(string(a.Type)); err != nil || k != a.OfferKey {
			t.Errorf("%s: %q %v", a.Type, k, err)
		}
	}
	if k, err := offerKeyFor("fourth_rule"); err == nil {
		t.Fatalf("an unknown action type got offer %q instead of an error", k)
	}
}
