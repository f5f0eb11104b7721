package endpoint_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/endpoint"
	"github.com/hf-cli/hf/pkg/signature"
	"github.com/hf-cli/hf/pkg/webhook"
)

// TestOpenKeepsVerifiedDeliveries: with Keep and a secret, each delivery
// the receiver verified reaches Keep raw; a forged one does not; without a
// secret nothing does (unsigned deliveries are only wake-ups).
func TestOpenKeepsVerifiedDeliveries(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, tc := range []struct {
		name, secret string
		want         int
	}{{"signed", secret, 1}, {"unsigned", "", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var kept []webhook.RawDelivery
			s := endpoint.Settings{Secret: tc.secret, Sandbox: true, // a local endpoint
				Keep: func(d webhook.RawDelivery) { mu.Lock(); kept = append(kept, d); mu.Unlock() }}
			var sk sink
			w, err := endpoint.Open(context.Background(), s, sk.emit)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			addr := w.URL()
			body := []byte(`{"request_id":"r1","status":"completed","images":[{"url":"https://cdn.example/a.png"}]}`)
			post := func(sig string) int {
				req, _ := http.NewRequest(http.MethodPost, addr, bytes.NewReader(body))
				now := time.Now()
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("webhook-id", "msg_1")
				req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
				if sig == "" && tc.secret != "" {
					var err error
					if sig, err = signature.Sign(tc.secret, "msg_1", now, body); err != nil {
						t.Fatal(err)
					}
				}
				if sig != "" {
					req.Header.Set("webhook-signature", sig)
				}
				resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := post(""); code != 200 {
				t.Fatalf("delivery answered %d", code)
			}
			if tc.secret != "" {
				if code := post("v1,Zm9yZ2Vk"); code != 401 {
					t.Fatalf("forged delivery answered %d", code)
				}
			}
			if err := w.Close(); err != nil { // waits for deliveries being kept
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(kept) != tc.want {
				t.Fatalf("kept %d deliveries, want %d", len(kept), tc.want)
			}
			if tc.want == 1 && (!bytes.Equal(kept[0].Body, body) || kept[0].Header.Get("webhook-id") != "msg_1") {
				t.Errorf("kept %q %v", kept[0].Body, kept[0].Header)
			}
		})
	}
}
