package offertoken

import (
	"fmt"
	"strings"
)

// Keyring holds the HMAC secrets offer tokens are signed and verified with.
// The first key signs new tokens; every key verifies tokens that name it.
//
// A Keyring is immutable after ParseKeyring and safe for concurrent use.
type Keyring struct {
	keys []key
	// legacy is set when the config was one plain secret: tokens are then
	// minted without a "kid", exactly as the legacy Node.js system did.
	legacy bool
}

type key struct {
	id     string
	secret []byte
}

// ParseKeyring parses the TOKEN_SECRET config value.
//
// If every comma-separated element has the form kid:secret, where kid is
// non-empty and made only of [A-Za-z0-9_-], the value is a rotation list and
// its first entry signs new tokens, e.g. "k2:new-secret,k1:old-secret".
// Anything else is one legacy secret used verbatim, so a legacy secret that
// happens to contain ':' or ',' keeps working. The secret after the first ':'
// may itself contain ':' but not ','. Nothing is trimmed: the legacy secret
// must match the Node.js system byte for byte.
//
// When rotating away from a plain legacy secret, give it a kid starting with
// "legacy" (e.g. "k2:new-secret,legacy:old-secret"): links the legacy system
// sent carry no kid and verify against the keys marked that way.
func ParseKeyring(s string) (*Keyring, error) {
	if s == "" {
		return nil, ErrNoSecret
	}
	keys, ok, err := parseRotationList(s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &Keyring{keys: []key{{secret: []byte(s)}}, legacy: true}, nil
	}
	return &Keyring{keys: keys}, nil
}

// parseRotationList reports ok=false when s is not in rotation-list form.
// It returns an error only for a value that is clearly meant as a list but
// cannot be used, rather than silently treating it as a legacy secret.
func parseRotationList(s string) (keys []key, ok bool, err error) {
	elems := strings.Split(s, ",")
	keys = make([]key, 0, len(elems))
	for _, e := range elems {
		id, secret, found := strings.Cut(e, ":")
		if !found || !validKeyID(id) {
			return nil, false, nil
		}
		keys = append(keys, key{id: id, secret: []byte(secret)})
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if len(k.secret) == 0 {
			return nil, false, fmt.Errorf("parse token keyring: key %q: %w", k.id, ErrNoSecret)
		}
		if seen[k.id] {
			// A duplicate would make verification depend on list order.
			return nil, false, fmt.Errorf("parse token keyring: duplicate key id %q", k.id)
		}
		seen[k.id] = true
	}
	return keys, true, nil
}

func validKeyID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// signingKey returns the key new tokens are signed with.
func (k *Keyring) signingKey() (key, error) {
	if k == nil || len(k.keys) == 0 {
		return key{}, ErrNoSecret
	}
	return k.keys[0], nil
}

// legacyKeyPrefix marks, in a rotation list, the secrets of the legacy system: a key whose
// id starts with it (e.g. "legacy", "legacy-node") verifies tokens that carry no kid.
const legacyKeyPrefix = "legacy"

// verifyingKeys returns the keys a token naming kid may be signed with. A token without a
// kid predates rotation: it is checked against the plain legacy secret, or, in a rotation
// list, against every key marked legacy (so "k2:new,legacy:old" keeps old links working),
// or against the first key when none is marked.
func (k *Keyring) verifyingKeys(kid string) ([]key, error) {
	if k == nil || len(k.keys) == 0 {
		return nil, ErrNoSecret
	}
	if kid == "" {
		var legacy []key
		for _, c := range k.keys {
			if strings.HasPrefix(c.id, legacyKeyPrefix) {
				legacy = append(legacy, c)
			}
		}
		if len(legacy) > 0 {
			return legacy, nil
		}
		return k.keys[:1], nil
	}
	if !k.legacy {
		for _, c := range k.keys {
			if c.id == kid {
				return []key{c}, nil
			}
		}
	}
	return nil, ErrUnknownKey
}

// String describes the keyring without its secrets, so that logging or
// printing a Keyring by mistake cannot leak them.
func (k *Keyring) String() string {
	if k == nil || len(k.keys) == 0 {
		return "offertoken.Keyring(empty)"
	}
	if k.legacy {
		return "offertoken.Keyring(legacy secret)"
	}
	ids := make([]string, len(k.keys))
	for i, c := range k.keys {
		ids[i] = c.id
	}
	return "offertoken.Keyring(" + strings.Join(ids, ",") + ")"
}

// GoString is String for %#v, which would otherwise print the secrets.
func (k *Keyring) GoString() string { return k.String() }
