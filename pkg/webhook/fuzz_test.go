package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/signature"
)

// Fuzz seeds: the f.Add calls below plus testdata/fuzz/<FuzzName>/. Plain
// `go test` runs them all; scripts/fuzz.sh runs the fuzzers for a while.

// Flags of FuzzReceiver, one bit each.
const (
	fuzzSigned      = 1 << iota // the receiver has testSecret
	fuzzAddValidSig             // append a valid v1 signature of id.ts.body to webhook-signature
	fuzzExpectFirst             // Expect the body's request_id before the delivery (else after it)
	fuzzSmallBody               // MaxBody 64 instead of the default 1 MiB
	fuzzChunked                 // ContentLength -1: only the body reader can enforce the limit
	fuzzTwoHeaders              // send each webhook-* header twice, the fuzzed value first
)

const fuzzDelivery = `{"request_id":"d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff","status":"completed","status_url":"https://api.higgsfield.ai/requests/d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff/status","images":[{"url":"https://cdn.higgsfield.ai/out/a.png"}]}`

// FuzzReceiver sends one fuzzed delivery (method, path, Content-Type, body,
// Standard Webhooks headers) to a fresh Receiver with and without a secret.
//
// Invariants: no panic; memory allocated grows linearly with the body; the
// status is one of the documented ones and the one the documented rules
// give; the response (body and headers) is a fixed text that reflects
// nothing of the input; a signed receiver answers 2xx only if Verify
// accepts the delivery; exactly one delivery reaches the Expect()ed id on
// 200 and none otherwise, Verified only when the signature verifies; the
// counters agree.
func FuzzReceiver(f *testing.F) {
	now := strconv.FormatInt(testNow.Unix(), 10)
	failed := `{"request_id":"r1","status":"failed","error":{"message":"Generation fail message"}}`
	for _, s := range []struct {
		method, path, ctype string
		payload             string
		id, ts, sig         string
		flags               uint8
	}{
		{"POST", "", "application/json", fuzzDelivery, "", "", "", fuzzExpectFirst},
		{"POST", "", "application/json", fuzzDelivery, "msg_1", now, "", fuzzSigned | fuzzAddValidSig | fuzzExpectFirst},
		{"POST", "", "application/json; charset=utf-8", failed, "msg_2", now, "v1,bm9wZQ==", fuzzSigned | fuzzAddValidSig},
		{"POST", "", "application/json", `{"request_id":"r1","status":"nsfw"}`, "msg_3", now, "v1,bm9wZQ==", fuzzSigned},
		{"POST", "", "application/json", `{"request_id":"r1","status":"completed"}`, "msg_4", strconv.FormatInt(testNow.Unix()-301, 10), "", fuzzSigned | fuzzAddValidSig},
		{"POST", "", "application/json", `{"request_id":"r1","status":"completed","video":{"url":"https://v/a.mp4"}}`, "", "", "", fuzzSmallBody | fuzzChunked},
		{"POST", "", "text/plain", `{"request_id":"r1","status":"completed"}`, "", "", "", 0},
		{"GET", "", "", "", "", "", "", 0},
		{"POST", "{path}/x", "application/json", `{"request_id":"<script>","status":"completed"}`, "", "", "", 0},
		{"POST", "/hf/00000000000000000000000000000000", "application/json", fuzzDelivery, "", "", "", 0},
		{"POST", "", "application/json", `{"status":"completed"}`, "msg_5", now, "", fuzzSigned | fuzzAddValidSig},
		{"POST", "", "application/json", `{"request_id":"r1"}`, "", "", "", 0},
		{"POST", "", "application/json", `{nope`, "", "", "", 0},
		{"POST", "", "application/json", fuzzDelivery, "msg_1", now, "", fuzzSigned | fuzzAddValidSig | fuzzTwoHeaders},
	} {
		f.Add(s.method, s.path, s.ctype, []byte(s.payload), s.id, s.ts, s.sig, s.flags)
	}
	f.Fuzz(func(t *testing.T, method, path, ctype string, payload []byte, id, ts, sig string, flags uint8) {
		signedRecv := flags&fuzzSigned != 0
		opts := Options{Now: func() time.Time { return testNow }}
		if signedRecv {
			opts.Secret = testSecret
		}
		if flags&fuzzSmallBody != 0 {
			opts.MaxBody = 64
		}
		r, err := NewReceiver(opts)
		if err != nil {
			t.Fatal(err)
		}
		maxBody := opts.MaxBody
		if maxBody == 0 {
			maxBody = 1 << 20
		}
		if flags&fuzzAddValidSig != 0 {
			sig = strings.TrimSpace(sig + " " + fuzzSign(testKey, id, ts, payload))
		}

		req := httptest.NewRequest(http.MethodPost, r.Path(), bytes.NewReader(payload))
		req.Method = method
		if path != "" {
			req.URL.Path = strings.ReplaceAll(path, "{path}", r.Path())
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for _, kv := range [][2]string{{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sig}} {
			req.Header.Add(kv[0], kv[1])
			if flags&fuzzTwoHeaders != 0 {
				req.Header.Add(kv[0], "v1,AAAA") // only the first value counts
			}
		}
		if flags&fuzzChunked != 0 {
			req.ContentLength = -1
		}

		// The request id the sender would have registered.
		expected := "r1"
		if st, err := higgsfield.ParseStatus(payload); err == nil && st.RequestID != "" {
			expected = st.RequestID
		}
		var ch <-chan Delivery
		if flags&fuzzExpectFirst != 0 {
			ch = r.Expect(expected)
		}

		w := httptest.NewRecorder()
		if n, limit := fuzzAllocs(func() { r.ServeHTTP(w, req) }), 128*uint64(len(payload))+256<<10; n > limit {
			t.Fatalf("one delivery of %d bytes made the receiver allocate %d bytes (limit %d): ParseStatus's flattenMessage re-decodes the rest of the body at every level of a nested \"error\" object, quadratic in the body, before any signature or request-id check in unsigned mode", len(payload), n, limit)
		}
		if ch == nil {
			ch = r.Expect(expected)
		}
		resp := w.Result()
		got, _ := io.ReadAll(resp.Body)
		code := resp.StatusCode

		switch code {
		case 200, 204, 400, 401, 404, 405, 413, 415:
		default:
			t.Fatalf("status %d is not a documented answer", code)
		}

		// Nothing of the input comes back: the body is one of the fixed
		// texts and every header one of the fixed values.
		if code/100 == 2 {
			if s := string(got); s != "{\"ok\":true}\n" && s != "" {
				t.Fatalf("2xx body %q is not the fixed acknowledgement", got)
			}
		} else if string(got) != http.StatusText(code)+"\n" {
			t.Fatalf("%d body %q is not the generic status text", code, got)
		}
		for k, vs := range resp.Header {
			for _, v := range vs {
				switch {
				case k == "Content-Type" && (v == "text/plain; charset=utf-8" || v == "application/json"),
					k == "X-Content-Type-Options" && v == "nosniff",
					k == "Allow" && v == http.MethodPost,
					k == "Connection" && v == "close" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed):
				default:
					t.Fatalf("response header %s: %q is not a fixed value", k, v)
				}
			}
		}

		// Verification as an outside party would do it, on the headers sent.
		verified := signature.Verify(testSecret, req.Header, payload, testNow, 0) == nil
		if signedRecv && code/100 == 2 && !verified {
			t.Fatalf("signed receiver answered %d to a delivery Verify rejects", code)
		}

		// The documented answer for this request.
		want := http.StatusOK
		mt, _, mtErr := mime.ParseMediaType(ctype)
		st, stErr := higgsfield.ParseStatus(payload)
		switch {
		case req.URL.Path != r.Path():
			want = http.StatusNotFound
		case method != http.MethodPost:
			want = http.StatusMethodNotAllowed
		case mtErr != nil || mt != "application/json":
			want = http.StatusUnsupportedMediaType
		case int64(len(payload)) > maxBody:
			want = http.StatusRequestEntityTooLarge
		case signedRecv && !verified:
			want = http.StatusUnauthorized
		case stErr != nil || st.RequestID == "":
			want = http.StatusBadRequest
		}
		if code != want {
			t.Fatalf("status %d, want %d", code, want)
		}

		// What reached the registered id.
		var delivered []Delivery
		for len(ch) > 0 {
			delivered = append(delivered, <-ch)
		}
		if n := len(delivered); code == http.StatusOK && n != 1 || code != http.StatusOK && n != 0 {
			t.Fatalf("status %d but %d deliveries forwarded to %q", code, n, expected)
		}
		for _, d := range delivered {
			if d.Verified && !(signedRecv && verified) {
				t.Fatalf("delivery marked Verified although the signature does not verify (signed receiver: %v)", signedRecv)
			}
			if signedRecv != d.Verified {
				t.Fatalf("Verified = %v on a receiver with secret = %v", d.Verified, signedRecv)
			}
			if d.RequestID != expected || d.Status == nil || d.Status.RequestID != d.RequestID || !d.ReceivedAt.Equal(testNow) {
				t.Fatalf("delivery %+v for expected id %q", d, expected)
			}
			if d.WebhookID != req.Header.Get("webhook-id") {
				t.Fatalf("WebhookID %q, header %q", d.WebhookID, req.Header.Get("webhook-id"))
			}
		}

		onPath := int64(0)
		if req.URL.Path == r.Path() {
			onPath = 1
		}
		wantStats := Stats{Received: onPath, Accepted: int64(len(delivered))}
		if onPath == 1 && code != http.StatusOK {
			wantStats.Rejected = 1
		}
		if code == http.StatusOK && flags&fuzzExpectFirst == 0 {
			wantStats.Ignored = 1 // kept pending, then handed over by Expect
		}
		if s := r.Stats(); s != wantStats {
			t.Fatalf("Stats %+v, want %+v", s, wantStats)
		}
	})
}

// fuzzAllocs returns how many bytes f allocates.
func fuzzAllocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// fuzzSign is a v1 signature of the raw bytes id.ts.body.
func fuzzSign(key []byte, id, ts string, payload []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(payload)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
