package app

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzStripeSignatureHeader feeds arbitrary Stripe-Signature headers and bodies to the
// verifier (stripe-go's webhook.ValidatePayloadWithTolerance behind our bounds): it must
// never panic, never accept a header without a v1 that matches one of its timestamps, and
// always accept the signature Stripe would send within the tolerance (either way) and
// refuse it beyond.
func FuzzStripeSignatureHeader(f *testing.F) {
	now := time.Now() // the library checks the tolerance against the wall clock
	secrets := []string{"whsec_a", "whsec_b"}
	body := []byte(`{"id":"evt_1","type":"charge.refunded"}`)
	f.Add(signStripe("whsec_a", now, body), body, int64(0))
	f.Add("t="+strconv.FormatInt(now.Unix()-200, 10)+",v1=00,v1="+stripeSignature("whsec_b", now.Unix()-200, body), body, int64(-250))
	f.Add("t=,v1=", []byte{}, int64(400))
	f.Add("v1=abc,t=99999999999999999999", []byte("{}"), int64(1))
	f.Add(strings.Repeat("v1=ff,", 100), []byte("x"), int64(0))
	f.Add(" t = 1 , v1 = ff ", []byte("x"), int64(-400))
	f.Fuzz(func(t *testing.T, header string, body []byte, skew int64) {
		err := verifyStripeSignature(header, body, secrets, stripeSignatureTolerance)
		if err == nil {
			matched := false
			for _, part := range strings.Split(strings.NewReplacer(" ", "", "\t", "").Replace(header), ",") {
				v, ok := strings.CutPrefix(part, "t=")
				ts, perr := strconv.ParseInt(v, 10, 64)
				if !ok || perr != nil {
					continue
				}
				for _, s := range secrets {
					if strings.Contains(strings.ToLower(header), stripeSignature(s, ts, body)) {
						matched = true
					}
				}
			}
			if !matched {
				t.Fatalf("accepted %q without a matching signature", header)
			}
		}
		skew %= 1 << 20
		at := time.Now().Add(time.Duration(skew) * time.Second)
		good := signStripe(secrets[int(uint64(skew)%2)], at, body)
		err = verifyStripeSignature(good, body, secrets, stripeSignatureTolerance)
		switch {
		case skew >= -295 && skew <= 295 && err != nil:
			t.Fatalf("genuine signature with skew %ds refused: %v", skew, err)
		case (skew < -305 || skew > 305) && err != errStripeStale:
			t.Fatalf("genuine signature with skew %ds: %v, want stale", skew, err)
		}
	})
}

// FuzzStripeWebhookBody feeds arbitrary bodies to the event parser: it must never panic,
// and whatever it accepts has an id and a type.
func FuzzStripeWebhookBody(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(stripeFixtureDir, "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","payment_intent":{"id":"pi_1"},"metadata":{"order_id":"ORD-000001"}}}}`))
	f.Add([]byte(`{"id":"evt_1","type":"charge.refunded","data":{"object":{"id":"ch_1","payment_intent":7}}}`))
	f.Add([]byte(`{"id":"evt_1","type":"invoice.paid","data":{"object":null}}`))
	f.Add([]byte(`{"id":"evt_1","type":"x.y","data":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := parseStripeEvent(body)
		// The one-pass decoder must read every body exactly as the envelope-first one does.
		slow, slowErr := parseStripeEventSlow(body)
		if fmt.Sprint(err) != fmt.Sprint(slowErr) || !reflect.DeepEqual(e, slow) {
			t.Fatalf("%q: one pass gives %+v, %v; envelope first gives %+v, %v", body, e, err, slow, slowErr)
		}
		if err != nil {
			return
		}
		if e.ID == "" || e.Type == "" || e.Body != string(body) || e.Amount < 0 || e.AmountRefunded < 0 {
			t.Fatalf("accepted %q as %+v", body, e)
		}
	})
}
