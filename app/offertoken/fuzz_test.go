package offertoken

import (
	"strings"
	"testing"
)

// FuzzVerify checks that Verify never panics on arbitrary input and that
// anything it accepts is a stable, complete set of claims.
func FuzzVerify(f *testing.F) {
	k := mustKeyring(f, "rotate:k2=new:secret/2,k1=old")
	legacy := mustKeyring(f, "legacy-secret")
	payload, sig, _ := strings.Cut(vectorLegacyFull, ".")
	for _, seed := range []string{
		vectorLegacyFull,
		vectorLegacyMinimal,
		vectorRotatedK2,
		vectorOldK1,
		signRaw(f, "old", `{"company_id":"c","expires_at":1700000000000,"kid":"k1","x":[1,{"y":null}]}`),
		signRaw(f, "legacy-secret", `{"company_id":"c","expires_at":1.7e12}`),
		signRaw(f, "legacy-secret", `{"company_id":"c","expires_at":"1700000000000"}`),
		signRaw(f, "legacy-secret", `[1,2]`),
		"",
		".",
		"..",
		payload,
		payload + "." + sig + ".",
		payload + "=." + sig,
		payload + "." + sig[:len(sig)-1] + "9",
		"eyJ9.AAAA",
		strings.Repeat("A", MaxTokenLen+1),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		for _, kr := range []*Keyring{k, legacy} {
			claims, err := kr.Verify(token, testNow)
			if err != nil {
				if claims != (Claims{}) {
					t.Fatalf("Verify returned claims %+v with error %v", claims, err)
				}
				continue
			}
			if claims.CompanyID == "" {
				t.Fatalf("Verify accepted %q with empty CompanyID", token)
			}
			if testNow.UnixMilli() > claims.ExpiresAt.UnixMilli() {
				t.Fatalf("Verify accepted expired token %q", token)
			}
			again, err := kr.Verify(token, testNow)
			if err != nil || again != claims {
				t.Fatalf("re-verify of %q = %+v, %v; first %+v", token, again, err, claims)
			}
		}
	})
}
