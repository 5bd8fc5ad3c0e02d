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

// RotationPrefix starts a rotation list in TOKEN_SECRET.
const RotationPrefix = "rotate:"

// ParseKeyring parses the TOKEN_SECRET config value. It has two forms:
//
//   - "rotate:k2=NEW,k1=OLD" is a rotation list: entries kid=secret separated by commas or
//     newlines (spaces around entries are ignored), the first entry signs new tokens and every
//     entry verifies tokens that name its kid. kid is made of [A-Za-z0-9_-]; the secret runs
//     from the first '=' to the end of the entry, so it may hold '=' and ':' but not ',',
//     whitespace or newlines. A value starting "rotate:" that is not such a list is an error,
//     never a plain secret.
//   - anything else is one plain secret used verbatim (tokens minted without a "kid", exactly as
//     the legacy Node.js system did), so a plain secret is never split.
//
// The old list form "k2:NEW,k1:OLD" (documented until 2026-12) could not be told from a plain
// secret containing ':'; a value of that shape is refused with ErrAmbiguous and a message
// saying how to write it.
//
// When rotating away from a plain secret, give it a kid starting with "legacy" (e.g.
// "rotate:k2=NEW,legacy=OLD"): links without a kid verify against the keys marked that way.
func ParseKeyring(s string) (*Keyring, error) {
	if s == "" {
		return nil, ErrNoSecret
	}
	if rest, ok := strings.CutPrefix(s, RotationPrefix); ok {
		keys, err := parseRotationList(rest)
		if err != nil {
			return nil, err
		}
		return &Keyring{keys: keys}, nil
	}
	if ids, ok := oldRotationList(s); ok {
		return nil, fmt.Errorf("%w: it has the old %q form (key ids %s), which a plain secret containing ':' "+
			"is mistaken for; write a rotation list as %q (same key ids and secrets: every link keeps verifying), "+
			"or a plain secret containing ':' as %q", ErrAmbiguous, "kid:secret,…", strings.Join(ids, ", "),
			RotationPrefix+"k2=SECRET,k1=SECRET", RotationPrefix+"legacy=SECRET")
	}
	return &Keyring{keys: []key{{secret: []byte(s)}}, legacy: true}, nil
}

// parseRotationList parses the entries after RotationPrefix.
func parseRotationList(s string) ([]key, error) {
	var keys []key
	seen := map[string]bool{}
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		id, secret, found := strings.Cut(e, "=")
		switch {
		case !found || !validKeyID(id):
			return nil, fmt.Errorf("parse token keyring: entry %d is not kid=secret with a kid of letters, digits, '_' or '-'", len(keys)+1)
		case secret == "":
			return nil, fmt.Errorf("parse token keyring: key %q: %w", id, ErrNoSecret)
		case strings.ContainsAny(secret, " \t\r"):
			return nil, fmt.Errorf("parse token keyring: key %q: the secret contains whitespace", id)
		case seen[id]:
			// A duplicate would make verification depend on list order.
			return nil, fmt.Errorf("parse token keyring: duplicate key id %q", id)
		}
		seen[id] = true
		keys = append(keys, key{id: id, secret: []byte(secret)})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("parse token keyring: %w: %q names no key", ErrNoSecret, RotationPrefix)
	}
	return keys, nil
}

// oldRotationList reports whether s has the shape of the old "kid:secret,kid:secret" list, and
// its key ids.
func oldRotationList(s string) ([]string, bool) {
	var ids []string
	for _, e := range strings.Split(s, ",") {
		id, _, found := strings.Cut(e, ":")
		if !found || !validKeyID(id) {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// Secrets returns each key's id ("" for a plain secret) and secret length, for start-up checks.
func (k *Keyring) Secrets() (ids []string, lengths []int) {
	if k == nil {
		return nil, nil
	}
	for _, c := range k.keys {
		ids, lengths = append(ids, c.id), append(lengths, len(c.secret))
	}
	return ids, lengths
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
// list, against every key marked legacy (so "rotate:k2=new,legacy=old" keeps old links working),
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
