package app

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzStripeSignatureHeader feeds arbitrary Stripe-Signature headers and bodies to the
// verifier: it must never panic, never accept a header without a matching v1, and always
// accept the signature Stripe would send.
func FuzzStripeSignatureHeader(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	secrets := []string{"whsec_a", "whsec_b"}
	body := []byte(`{"id":"evt_1","type":"charge.refunded"}`)
	f.Add(signStripe("whsec_a", now, body), body, int64(0))
	f.Add("t=1800000000,v1=00,v1="+stripeSignature("whsec_b", now.Unix(), body), body, int64(-299))
	f.Add("t=,v1=", []byte{}, int64(400))
	f.Add("v1=abc,t=99999999999999999999", []byte("{}"), int64(1))
	f.Add(strings.Repeat("v1=ff,", 100), []byte("x"), int64(0))
	f.Fuzz(func(t *testing.T, header string, body []byte, skew int64) {
		err := verifyStripeSignature(header, body, secrets, now, stripeSignatureTolerance)
		if err == nil {
			ts, sigs, perr := parseStripeSignature(header)
			if perr != nil || len(sigs) == 0 {
				t.Fatalf("accepted %q that does not parse: %v", header, perr)
			}
			matched := false
			for _, s := range secrets {
				want := stripeSignature(s, ts, body)
				if strings.Contains(strings.ToLower(header), want) {
					matched = true
				}
			}
			if !matched {
				t.Fatalf("accepted %q without a matching signature", header)
			}
		}
		skew %= 1 << 20
		at := now.Add(time.Duration(skew) * time.Second)
		good := signStripe(secrets[int(uint64(skew)%2)], at, body)
		err = verifyStripeSignature(good, body, secrets, now, stripeSignatureTolerance)
		inTolerance := skew >= -300 && skew <= 300
		if (err == nil) != inTolerance {
			t.Fatalf("genuine signature with skew %ds: %v", skew, err)
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
