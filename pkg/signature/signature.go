// Package signature owns Standard Webhooks signing and verification
// (https://www.standardwebhooks.com): the "whsec_<base64>" secret format,
// the v1 HMAC-SHA256 signature over "<webhook-id>.<webhook-timestamp>.<body>",
// and the timestamp tolerance. It is a leaf package (standard library only),
// shared by the webhook receiver, the fake API, hf doctor and hf listen.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a delivery's timestamp may be from now, either
// way, when Verify is given a tolerance ≤ 0.
const DefaultTolerance = 5 * time.Minute

// Header names of a Standard Webhooks delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

var (
	// ErrUnverified is wrapped by every reason Verify rejects a delivery
	// (ErrMissingHeaders, ErrTimestamp, ErrSignature), not by ErrSecret.
	ErrUnverified = errors.New("webhook not verified")
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeaders = errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	// ErrTimestamp: webhook-timestamp is not a Unix time, or is outside the
	// tolerance (too old or in the future).
	ErrTimestamp = errors.New("bad webhook-timestamp")
	// ErrSignature: no v1 entry of webhook-signature matches the body.
	ErrSignature = errors.New("no matching signature")
	// ErrSecret: the secret is not "whsec_" followed by base64. It is a
	// configuration error, not a rejected delivery.
	ErrSecret = errors.New("malformed webhook secret")
)

// Error is a rejected delivery: Reason is one of ErrMissingHeaders,
// ErrTimestamp or ErrSignature, Detail says more (may be empty).
// errors.Is matches both Reason and ErrUnverified.
type Error struct {
	Reason error
	Detail string
}

func (e *Error) Error() string {
	msg := ErrUnverified.Error() + ": " + e.Reason.Error()
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Is reports ErrUnverified as well as the reason.
func (e *Error) Is(target error) bool { return target == ErrUnverified }

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Reason }

// DecodeSecret returns the HMAC key of a "whsec_<base64>" secret. The error
// wraps ErrSecret and never contains the secret.
func DecodeSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, fmt.Errorf(`%w: want "whsec_" followed by base64 (Console → Settings)`, ErrSecret)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("%w: the part after whsec_ is not base64", ErrSecret)
	}
	return key, nil
}

// Sign returns the webhook-signature header value "v1,<base64>" of body:
// HMAC-SHA256 keyed with the decoded secret over "msgID.<ts as Unix
// seconds>.body". It fails only on a malformed secret (ErrSecret).
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return SignKey(key, msgID, ts, body), nil
}

// SignKey is Sign with an already decoded key.
func SignKey(key []byte, msgID string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, strconv.FormatInt(ts.Unix(), 10), body))
}

// Verify checks a Standard Webhooks delivery: the three headers present,
// webhook-timestamp within tolerance of now (either way; ≤ 0 means
// DefaultTolerance), and one of the space-separated "v1,<base64>" entries of
// webhook-signature equal to the HMAC of the body. A rejected delivery is an
// *Error (errors.Is ErrUnverified and its reason); a malformed secret wraps
// ErrSecret.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := DecodeSecret(secret)
	if err != nil {
		return err
	}
	return VerifyKey(key, h, body, now, tolerance)
}

// VerifyKey is Verify with an already decoded key.
func VerifyKey(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return &Error{Reason: ErrMissingHeaders}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return &Error{Reason: ErrTimestamp, Detail: "not a Unix time"}
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	switch age := now.Sub(time.Unix(sec, 0)); {
	case age > tolerance:
		return &Error{Reason: ErrTimestamp, Detail: fmt.Sprintf("timestamp too old: %s", age.Truncate(time.Second))}
	case age < -tolerance:
		return &Error{Reason: ErrTimestamp, Detail: fmt.Sprintf("timestamp in the future: %s ahead", (-age).Truncate(time.Second))}
	}
	want := mac(key, id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return &Error{Reason: ErrSignature}
}

func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return m.Sum(nil)
}
