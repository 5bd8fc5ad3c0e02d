package app

import (
	"testing"

	"github.com/technifold/technifold/store"
)

func TestOfferConsentRules(t *testing.T) {
	tests := []struct {
		status                 string
		personalise, marketing bool
		reason                 string
	}{
		{store.MarketingSubscribed, true, true, ""},
		{store.MarketingPending, true, false, reasonPending},
		{store.MarketingUnsubscribed, false, false, reasonUnsubscribed},
		{store.MarketingBounced, false, false, reasonBounced},
		{"", false, false, reasonUnknownStatus},
		{"active", false, false, reasonUnknownStatus}, // legacy values are normalised on import, not here
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			if got := mayPersonalise(tt.status); got != tt.personalise {
				t.Errorf("mayPersonalise(%q) = %v, want %v", tt.status, got, tt.personalise)
			}
			if got := maySendMarketing(tt.status); got != tt.marketing {
				t.Errorf("maySendMarketing(%q) = %v, want %v", tt.status, got, tt.marketing)
			}
			k := store.Contact{ID: "K", CompanyID: "C", Email: "k@example.com", MarketingStatus: tt.status}
			if got := offerIneligibility(k); got != tt.reason {
				t.Errorf("offerIneligibility(%q) = %q, want %q", tt.status, got, tt.reason)
			}
		})
	}
	subscribed := store.Contact{ID: "K", CompanyID: "C", Email: " ", MarketingStatus: store.MarketingSubscribed}
	if got := offerIneligibility(subscribed); got != reasonNoEmail {
		t.Errorf("blank e-mail: %q", got)
	}
	subscribed.Email, subscribed.CompanyID = "k@example.com", ""
	if got := offerIneligibility(subscribed); got != reasonNoCompany {
		t.Errorf("no company: %q", got)
	}
}
