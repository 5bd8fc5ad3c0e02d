package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// "Send me a fresh link" (POST /x/fresh-link, field t = the expired token): the expired-link
// page's way out. It queues the ordinary send_offer_email job for the token's contact when
// the token's signature is good, the contact may be sent marketing and no fresh link was
// queued for them in the last hour. Whatever happens, the answer is the same page and status,
// so nobody learns whether a contact exists, is subscribed or was throttled, nor an address.

// freshLinkEvery is the least time between two fresh links for one contact.
const freshLinkEvery = time.Hour

// freshLinkKeyPrefix is the dedupe-key prefix of a contact's fresh-link jobs; the throttle
// looks for the newest job with it. The contact id is hashed to a fixed length so no id's
// prefix is another id's ("K1" vs "K10").
func freshLinkKeyPrefix(contactID string) string {
	sum := sha256.Sum256([]byte(contactID))
	return string(store.JobSendOfferEmail) + ":fresh:" + hex.EncodeToString(sum[:16]) + ":"
}

// freshLinkOutcome says what a request did, for the log only (never for the answer).
type freshLinkOutcome string

const (
	freshQueued       freshLinkOutcome = "queued"
	freshBadToken     freshLinkOutcome = "token not expired or not valid"
	freshNoContact    freshLinkOutcome = "no contact"
	freshNotEligible  freshLinkOutcome = "contact may not be sent offers"
	freshThrottled    freshLinkOutcome = "throttled"
	freshStillCurrent freshLinkOutcome = "link has not expired"
)

// handleFreshLink serves POST /x/fresh-link.
func (h *offerHandlers) handleFreshLink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	token := ""
	if err := r.ParseForm(); err == nil {
		token = r.PostForm.Get("t")
	}
	outcome, jobID, err := h.queueFreshLink(ctx, token)
	if err != nil {
		// Logged for operators; the customer still gets the same answer.
		h.s.logger.ErrorContext(ctx, "fresh offer link failed", "token", offertoken.Redact(token), "error", err,
			"request_id", requestID(ctx))
	} else {
		h.s.logger.InfoContext(ctx, "fresh offer link requested", "token", offertoken.Redact(token),
			"outcome", string(outcome), "job_id", jobID)
	}
	p := offerMessagePage{pageBase: h.base("Check your inbox", ""), Heading: "Check your inbox",
		Paragraphs: []string{"If this link was sent to you and you still receive our e-mails, a fresh link is on its way to the address it was sent to. We send at most one an hour.",
			"Nothing arrived? Look in your spam folder, or get in touch and we will help."},
		Support: h.contactSupport()}
	h.render(w, r, http.StatusOK, "offer_message", p.Nonce, p)
}

// queueFreshLink does the work of handleFreshLink and says what it did.
func (h *offerHandlers) queueFreshLink(ctx context.Context, token string) (freshLinkOutcome, int64, error) {
	claims, outcome := h.verify(ctx, token, true)
	switch {
	case outcome == tokenValid:
		return freshStillCurrent, 0, nil
	case outcome != tokenExpired || claims.CompanyID == "":
		return freshBadToken, 0, nil
	case claims.ContactID == "":
		return freshNoContact, 0, nil
	}
	k, err := h.s.db.GetContact(ctx, claims.ContactID)
	if store.ErrorCode(err) == store.ENOTFOUND {
		return freshNoContact, 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	if offerIneligibility(k) != "" || k.CompanyID != claims.CompanyID {
		return freshNotEligible, 0, nil
	}
	prefix := freshLinkKeyPrefix(k.ID)
	var res freshLinkOutcome
	var id int64
	err = h.s.db.Update(ctx, func(tx *store.Tx) error {
		// Checked and queued in one write transaction (the writer is serial), so two requests
		// at once cannot both pass the throttle.
		last, ok, err := tx.LatestJobCreatedWithKeyPrefix(ctx, prefix)
		if err != nil {
			return err
		}
		if ok && tx.Now().Sub(last) < freshLinkEvery {
			res, id = freshThrottled, 0
			return nil
		}
		res = freshQueued
		job := store.NewJobFor(store.SendOfferEmailArgs{ContactID: k.ID, CompanyID: k.CompanyID,
			OfferKey: claims.OfferKey, CampaignKey: claims.CampaignKey})
		job.CompanyID, job.DedupeKey = k.CompanyID, prefix+store.FormatTime(tx.Now())
		id, _, err = tx.Enqueue(ctx, job)
		return err
	})
	if err != nil {
		return "", 0, err
	}
	return res, id, nil
}
