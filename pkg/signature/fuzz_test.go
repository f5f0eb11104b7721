package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fuzzDelivery = `{"request_id":"d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff","status":"completed"}`

// FuzzVerify checks Verify against an independent reading of the Standard
// Webhooks rules.
//
// Invariants: no panic; it accepts only when the secret is well formed, the
// three headers are present, the timestamp is an integer within tolerance of
// now, and one "v1,<base64>" entry equals HMAC-SHA256(key, id.ts.body); it
// accepts every such delivery carrying a valid signature; a rejection with
// a good secret wraps ErrUnverified; error messages are one short line and
// never echo the headers.
func FuzzVerify(f *testing.F) {
	now := strconv.FormatInt(testNow.Unix(), 10)
	f.Add(testSecret, "msg_1", now, "", []byte(`{"request_id":"r1","status":"completed"}`), int64(0), true)
	f.Add(testSecret, "msg_1", now, "v1,bm9wZQ== v2,abc", []byte(fuzzDelivery), int64(5*time.Minute), true)
	f.Add(testSecret, "msg_1", now, "v1,bm9wZQ==", []byte(fuzzDelivery), int64(0), false)
	f.Add(testSecret, "msg_1", strconv.FormatInt(testNow.Unix()+300, 10), "", []byte(`{}`), int64(0), true)
	f.Add(testSecret, "msg_1", strconv.FormatInt(testNow.Unix()-301, 10), "", []byte(`{}`), int64(0), true)
	f.Add(testSecret, "msg_1", "+"+now, "", []byte(`{}`), int64(time.Second), true)
	f.Add(testSecret, "", now, "", []byte(`{}`), int64(0), true)
	f.Add("whsec_", "msg_1", now, "v1,AAAA", []byte(`{}`), int64(0), true)
	f.Add("sk_live_abc", "msg_1", now, "v1,AAAA", []byte(`{}`), int64(0), true)
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`), int64(0), false)
	f.Fuzz(func(t *testing.T, secret, id, ts, sig string, payload []byte, tol int64, addValid bool) {
		tolerance := time.Duration(tol % int64(24*time.Hour)) // an option, not input: keep it sane
		key, keyErr := fuzzDecodeSecret(secret)
		if addValid {
			k := key
			if k == nil {
				k = testKey
			}
			sig = strings.TrimSpace(sig + " " + fuzzSign(k, id, ts, payload))
		}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)

		err := Verify(secret, h, payload, testNow, tolerance)

		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || len(msg) > 200 {
				t.Fatalf("error is not one short line: %q", msg)
			}
			for _, in := range []string{id, ts, sig} {
				if len(in) >= 8 && strings.Contains(msg, in) {
					t.Fatalf("error %q echoes the header value %q", msg, in)
				}
			}
			if keyErr == nil && !errors.Is(err, ErrUnverified) {
				t.Fatalf("rejection %v does not wrap ErrUnverified", err)
			}
		}

		// Independent oracle.
		ok := keyErr == nil && id != "" && ts != "" && sig != ""
		if ok {
			sec, perr := strconv.ParseInt(ts, 10, 64)
			ok = perr == nil && fuzzWithin(sec, tolerance)
		}
		matched := false
		if ok {
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(id + "." + ts + "."))
			mac.Write(payload)
			want := mac.Sum(nil)
			for _, s := range strings.Fields(sig) {
				if b64, found := strings.CutPrefix(s, "v1,"); found {
					if got, derr := base64.StdEncoding.DecodeString(b64); derr == nil && bytes.Equal(got, want) {
						matched = true
					}
				}
			}
		}
		if (err == nil) != (ok && matched) {
			t.Fatalf("Verify = %v; oracle: secret ok %v, headers/timestamp ok %v, signature matches %v", err, keyErr == nil, ok, matched)
		}
		if addValid && ok && err != nil {
			t.Fatalf("a validly signed, timely delivery was rejected: %v", err)
		}
	})
}

// fuzzDecodeSecret reads "whsec_<base64>" the way the Standard Webhooks
// libraries do.
func fuzzDecodeSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New("no whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err == nil && len(key) == 0 {
		err = errors.New("empty key")
	}
	return key, err
}

// fuzzWithin reports whether Unix second sec is within tolerance (≤ 0: the
// default) of testNow, in exact arithmetic.
func fuzzWithin(sec int64, tolerance time.Duration) bool {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	age := new(big.Int).Sub(big.NewInt(testNow.Unix()), big.NewInt(sec))
	age.Mul(age, big.NewInt(int64(time.Second)))
	age.Abs(age)
	return age.Cmp(big.NewInt(int64(tolerance))) <= 0
}

// fuzzSign is a v1 signature of the raw bytes id.ts.body.
func fuzzSign(key []byte, id, ts string, payload []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(payload)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
