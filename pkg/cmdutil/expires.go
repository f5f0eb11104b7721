package cmdutil

import (
	"fmt"
	"time"
)

// MinExpiresAfter is the shortest retention the API takes (Hf-Expires-After
// 3600); the longest is the account's, which only the API knows.
const MinExpiresAfter = time.Hour

// CheckExpiresAfter refuses an --expires-after the API would answer 422
// whatever the account: under 1 hour, or not whole seconds. The upper bound
// stays the API's to judge.
func CheckExpiresAfter(d time.Duration) error {
	if d < MinExpiresAfter || d%time.Second != 0 {
		return &FlagError{Err: fmt.Errorf("--expires-after %s: want whole seconds from 1h (the API's minimum) up to the account's retention", d),
			Hint: "e.g. --expires-after 2h, or 3600 (a bare number is seconds)"}
	}
	return nil
}
