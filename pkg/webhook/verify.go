package webhook

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

// DefaultTolerance is how far a delivery's timestamp may be from now.
const DefaultTolerance = 5 * time.Minute

// ErrUnverified wraps every reason Verify rejects a delivery.
var ErrUnverified = errors.New("webhook not verified")

// decodeSecret returns the HMAC key of a "whsec_<base64>" secret.
func decodeSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`webhook secret: want "whsec_" followed by base64 (Console → Settings)`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook secret: the part after whsec_ is not base64")
	}
	return key, nil
}

// Verify checks a Standard Webhooks signature: webhook-timestamp within
// tolerance of now (either way; ≤ 0 means DefaultTolerance), and one of the
// space-separated "v1,<base64>" entries of webhook-signature equal to
// HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"), where key is
// the base64-decoded secret after "whsec_".
func Verify(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	return verify(key, header, body, now, tolerance)
}

func verify(key []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: missing webhook-id, webhook-timestamp or webhook-signature", ErrUnverified)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad webhook-timestamp", ErrUnverified)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	switch age := now.Sub(time.Unix(sec, 0)); {
	case age > tolerance:
		return fmt.Errorf("%w: timestamp too old (%s)", ErrUnverified, age.Truncate(time.Second))
	case age < -tolerance:
		return fmt.Errorf("%w: timestamp in the future (%s ahead)", ErrUnverified, (-age).Truncate(time.Second))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no matching signature", ErrUnverified)
}
