package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/technifold/technifold/app/console"
	"github.com/technifold/technifold/store"
)

// The request and report of offer sending are the console's (POST /api/admin/offers/send and
// the suggestions page show them); the CLI and the demo use them too.
type (
	OfferSendRequest = console.OfferSendRequest
	OfferRecipient   = console.OfferRecipient
	OfferSendReport  = console.OfferSendReport
)

// SendOffers enqueues one send_offer_email job per contact that may be sent marketing, in one
// transaction, and reports every contact asked for. Queuing is idempotent per contact,
// campaign and offer. Callers check offerEmailFeature first; the jobs re-check consent when
// they run.
func SendOffers(ctx context.Context, db *store.DB, req OfferSendRequest) (OfferSendReport, error) {
	req.OfferKey, req.CampaignKey = strings.TrimSpace(req.OfferKey), strings.TrimSpace(req.CampaignKey)
	switch {
	case req.OfferKey == "":
		return OfferSendReport{}, invalidf("offer_key: required")
	case len(req.OfferKey) > 100 || len(req.CampaignKey) > 100:
		return OfferSendReport{}, invalidf("offer_key and campaign_key: at most 100 characters")
	case len(req.CompanyIDs) == 0 && len(req.ContactIDs) == 0:
		return OfferSendReport{}, invalidf("company_ids or contact_ids: at least one id is required")
	}
	aud, err := db.FindOfferAudience(ctx, req.CompanyIDs, req.ContactIDs)
	if err != nil {
		return OfferSendReport{}, err
	}
	rep := OfferSendReport{OfferKey: req.OfferKey, CampaignKey: req.CampaignKey, Eligible: []OfferRecipient{}, Ineligible: []OfferRecipient{}}
	for _, id := range aud.UnknownCompanies {
		rep.Ineligible = append(rep.Ineligible, OfferRecipient{CompanyID: id, Reason: reasonUnknownCompany})
	}
	for _, id := range aud.EmptyCompanies {
		rep.Ineligible = append(rep.Ineligible, OfferRecipient{CompanyID: id, Reason: reasonNoContacts})
	}
	for _, id := range aud.UnknownContacts {
		rep.Ineligible = append(rep.Ineligible, OfferRecipient{ContactID: id, Reason: reasonUnknownContact})
	}
	var eligible []store.Contact
	for _, k := range aud.Contacts {
		if reason := offerIneligibility(k); reason != "" {
			rep.Ineligible = append(rep.Ineligible, recipient(k, reason))
			continue
		}
		eligible = append(eligible, k)
	}
	err = db.Update(ctx, func(tx *store.Tx) error {
		rep.Eligible, rep.Queued = []OfferRecipient{}, 0 // fn may run again after a group-commit failure
		for _, k := range eligible {
			job := store.NewJobFor(store.SendOfferEmailArgs{ContactID: k.ID, CompanyID: k.CompanyID,
				OfferKey: req.OfferKey, CampaignKey: req.CampaignKey})
			job.CompanyID = k.CompanyID
			job.DedupeKey = string(store.JobSendOfferEmail) + ":" + k.ID + ":" + req.CampaignKey + ":" + req.OfferKey
			id, created, err := tx.Enqueue(ctx, job)
			if err != nil {
				return fmt.Errorf("queue offer e-mail to %s: %w", k.ID, err)
			}
			r := recipient(k, "")
			r.JobID, r.AlreadyQueued = id, !created
			if created {
				rep.Queued++
			}
			rep.Eligible = append(rep.Eligible, r)
		}
		return nil
	})
	return rep, err
}

func recipient(k store.Contact, reason string) OfferRecipient {
	return OfferRecipient{ContactID: k.ID, CompanyID: k.CompanyID, Email: k.Email, Name: k.DisplayName(), Reason: reason}
}

// offerEmailFeature is FeatureEmail plus MAIL_FROM, which sending needs as well.
func offerEmailFeature(cfg *Config) Feature {
	f := cfg.Feature(FeatureEmail)
	if strings.TrimSpace(cfg.MailFrom) == "" {
		f.Missing = append(f.Missing, "MAIL_FROM")
	}
	return f
}
