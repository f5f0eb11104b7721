package webhook

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
	}{
		{"good", testSecret, signedHeader("msg_1", now, good), body, ""},
		{"multiple signatures one valid", testSecret, signedHeader("msg_1", now, otherKey+" v1,bm9wZQ== "+good), body, ""},
		{"rotated: old and new", testSecret, signedHeader("msg_1", now, good+" "+otherKey), body, ""},
		{"old but within tolerance", testSecret, signedHeader("msg_1", now-299, sign(testKey, "msg_1", now-299, body)), body, ""},
		{"bad signature", testSecret, signedHeader("msg_1", now, otherKey), body, "no matching signature"},
		{"tampered body", testSecret, signedHeader("msg_1", now, good), strings.Replace(body, "completed", "failed", 1), "no matching signature"},
		{"other webhook id", testSecret, signedHeader("msg_2", now, good), body, "no matching signature"},
		{"v2 scheme ignored", testSecret, signedHeader("msg_1", now, "v2,"+strings.TrimPrefix(good, "v1,")), body, "no matching signature"},
		{"garbage signature", testSecret, signedHeader("msg_1", now, "v1,!!!"), body, "no matching signature"},
		{"stale", testSecret, signedHeader("msg_1", now-301, sign(testKey, "msg_1", now-301, body)), body, "timestamp too old"},
		{"future", testSecret, signedHeader("msg_1", now+301, sign(testKey, "msg_1", now+301, body)), body, "timestamp in the future"},
		{"bad timestamp", testSecret, http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {"soon"}, "Webhook-Signature": {good}}, body, "bad webhook-timestamp"},
		{"missing headers", testSecret, http.Header{}, body, "missing webhook-id"},
		{"malformed secret", "sk_live_abc", signedHeader("msg_1", now, good), body, `want "whsec_"`},
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
			if tt.secret == testSecret && !errors.Is(err, ErrUnverified) {
				t.Errorf("err %v does not wrap ErrUnverified", err)
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
