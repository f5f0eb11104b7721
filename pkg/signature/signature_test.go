package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	testKey    = []byte("0123456789abcdef0123456789abcdef")
	testSecret = "whsec_" + base64.StdEncoding.EncodeToString(testKey)
	testNow    = time.Unix(1_780_000_000, 0)
)

// sign returns a v1 signature of body as Higgsfield would send it.
func sign(key []byte, id string, ts int64, body string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func signedHeader(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestVerify(t *testing.T) {
	const body = `{"request_id":"r1","status":"completed"}`
	now := testNow.Unix()
	good := sign(testKey, "msg_1", now, body)
	otherKey := sign([]byte("another key entirely"), "msg_1", now, body)
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   string
		err    string // "" = verified
		reason error
	}{
		{"good", testSecret, signedHeader("msg_1", now, good), body, "", nil},
		{"multiple signatures one valid", testSecret, signedHeader("msg_1", now, otherKey+" v1,bm9wZQ== "+good), body, "", nil},
		{"rotated: old and new", testSecret, signedHeader("msg_1", now, good+" "+otherKey), body, "", nil},
		{"old but within tolerance", testSecret, signedHeader("msg_1", now-299, sign(testKey, "msg_1", now-299, body)), body, "", nil},
		{"bad signature", testSecret, signedHeader("msg_1", now, otherKey), body, "no matching signature", ErrSignature},
		{"tampered body", testSecret, signedHeader("msg_1", now, good), strings.Replace(body, "completed", "failed", 1), "no matching signature", ErrSignature},
		{"other webhook id", testSecret, signedHeader("msg_2", now, good), body, "no matching signature", ErrSignature},
		{"v2 scheme ignored", testSecret, signedHeader("msg_1", now, "v2,"+strings.TrimPrefix(good, "v1,")), body, "no matching signature", ErrSignature},
		{"garbage signature", testSecret, signedHeader("msg_1", now, "v1,!!!"), body, "no matching signature", ErrSignature},
		{"stale", testSecret, signedHeader("msg_1", now-301, sign(testKey, "msg_1", now-301, body)), body, "timestamp too old", ErrTimestamp},
		{"future", testSecret, signedHeader("msg_1", now+301, sign(testKey, "msg_1", now+301, body)), body, "timestamp in the future", ErrTimestamp},
		{"bad timestamp", testSecret, http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {"soon"}, "Webhook-Signature": {good}}, body, "bad webhook-timestamp", ErrTimestamp},
		{"missing headers", testSecret, http.Header{}, body, "missing webhook-id", ErrMissingHeaders},
		{"malformed secret", "sk_live_abc", signedHeader("msg_1", now, good), body, `want "whsec_"`, ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, []byte(tt.body), testNow, 5*time.Minute)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want containing %q", err, tt.err)
			}
			if !errors.Is(err, tt.reason) {
				t.Errorf("err %v does not wrap %v", err, tt.reason)
			}
			if got := errors.Is(err, ErrUnverified); got != (tt.reason != ErrSecret) {
				t.Errorf("errors.Is(%v, ErrUnverified) = %v", err, got)
			}
			var e *Error
			if errors.As(err, &e) != (tt.reason != ErrSecret) {
				t.Errorf("errors.As(%v, *Error) mismatch", err)
			}
		})
	}
}

func TestVerifyDefaultTolerance(t *testing.T) {
	const body = `{}`
	for _, tt := range []struct {
		age time.Duration
		ok  bool
	}{{4 * time.Minute, true}, {6 * time.Minute, false}, {-6 * time.Minute, false}} {
		ts := testNow.Add(-tt.age).Unix()
		err := Verify(testSecret, signedHeader("m", ts, sign(testKey, "m", ts, body)), []byte(body), testNow, 0)
		if (err == nil) != tt.ok {
			t.Errorf("age %s: err = %v, want ok=%v", tt.age, err, tt.ok)
		}
	}
}

func TestSignVector(t *testing.T) {
	// The example of the Standard Webhooks specification.
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Fatalf("Sign = %s, %v; want %s", got, err, want)
	}
}

func TestSignRoundTrip(t *testing.T) {
	body := []byte(`{"request_id":"r1"}`)
	sig, err := Sign(testSecret, "msg_9", testNow, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := sign(testKey, "msg_9", testNow.Unix(), string(body)); sig != want {
		t.Fatalf("Sign = %s, independent HMAC = %s", sig, want)
	}
	if err := Verify(testSecret, signedHeader("msg_9", testNow.Unix(), sig), body, testNow, 0); err != nil {
		t.Fatalf("Verify(Sign) = %v", err)
	}
	for _, bad := range []string{"", "sk_abc", "whsec_", "whsec_!!!"} {
		if _, err := Sign(bad, "m", testNow, body); !errors.Is(err, ErrSecret) {
			t.Errorf("Sign(%q) err = %v, want ErrSecret", bad, err)
		}
		if _, err := DecodeSecret(bad); !errors.Is(err, ErrSecret) {
			t.Errorf("DecodeSecret(%q) = %v", bad, err)
		}
	}
}
