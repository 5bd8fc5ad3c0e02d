package app

import (
	"fmt"

	"github.com/technifold/technifold/store"
)

// withSubject puts what was being done in front of err, unless err is a store error whose
// message already says it (`company "NOPE" not found`, `job 7 not found`): CLI errors read as
// one statement, never `company "NOPE": company "NOPE" not found`.
func withSubject(subject string, err error) error {
	if err == nil {
		return nil
	}
	if code := store.ErrorCode(err); code != store.EINTERNAL && code != store.EUNAVAILABLE {
		return err
	}
	return fmt.Errorf("%s: %w", subject, err)
}
