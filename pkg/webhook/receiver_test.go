package webhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hf-cli/hf/pkg/signature"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: testNow} }
func body(id, status string) string  { return fmt.Sprintf(`{"request_id":%q,"status":%q}`, id, status) }
func recv(t *testing.T, o Options) *Receiver {
	t.Helper()
	r, err := NewReceiver(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// padded is a valid delivery for r1 of exactly n bytes.
func padded(n int) string {
	const head, tail = `{"request_id":"r1","status":"completed","pad":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// post sends one request to r and returns the response.
func post(r *Receiver, method, path, ctype, b string, h http.Header) *http.Response {
	req := httptest.NewRequest(method, path, strings.NewReader(b))
	for k, v := range h {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w.Result()
}

// signed returns the headers of a delivery signed at the clock's time.
func signed(c *clock, id, b string) http.Header {
	ts := c.Now().Unix()
	return signedHeader(id, ts, sign(testKey, id, ts, b))
}

// drain returns what is waiting on ch.
func drain(ch <-chan Delivery) []Delivery {
	var out []Delivery
	for {
		select {
		case d := <-ch:
			out = append(out, d)
		default:
			return out
		}
	}
}

func TestNewReceiver(t *testing.T) {
	tests := []struct {
		secret string
		ok     bool
	}{
		{"", true},
		{testSecret, true},
		{"c2VjcmV0", false}, // no whsec_ prefix
		{"whsec_not base64!", false},
		{"whsec_", false},
	}
	for _, tt := range tests {
		if _, err := NewReceiver(Options{Secret: tt.secret}); (err == nil) != tt.ok {
			t.Errorf("NewReceiver(%q): err = %v, want ok=%v", tt.secret, err, tt.ok)
		}
	}
	a, b := recv(t, Options{}), recv(t, Options{})
	if !regexp.MustCompile(`^/hf/[0-9a-f]{32}$`).MatchString(a.Path()) || a.Path() == b.Path() {
		t.Errorf("paths %q, %q: want distinct /hf/<32 hex>", a.Path(), b.Path())
	}
	// Each receiver answers on its own path only.
	if resp := post(b, "POST", a.Path(), "application/json", body("r1", "completed"), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("b answered %d on a's path", resp.StatusCode)
	}
}

// TestOnRejectedOnce: the first delivery failing verification is reported
// once, with a reason RejectionWarning turns into the right hint; good
// deliveries and wrong paths are not reported.
func TestOnRejectedOnce(t *testing.T) {
	c := newClock()
	var got []error
	r := recv(t, Options{Secret: testSecret, Now: c.Now, OnRejected: func(err error) { got = append(got, err) }})
	done := body("r1", "completed")
	post(r, "POST", "/elsewhere", "application/json", done, nil)
	post(r, "POST", r.Path(), "application/json", done, signed(c, "msg_0", done))
	if len(got) != 0 {
		t.Fatalf("reported %v before any rejection", got)
	}
	for i := range 5 {
		id := fmt.Sprintf("msg_%d", i+1)
		post(r, "POST", r.Path(), "application/json", done, signedHeader(id, c.Now().Unix(), sign([]byte("an old secret"), id, c.Now().Unix(), done)))
	}
	if len(got) != 1 || !errors.Is(got[0], signature.ErrSignature) {
		t.Fatalf("reported %v, want one ErrSignature", got)
	}
	if w := RejectionWarning(got[0]); !strings.Contains(w, "signature did not verify: is HF_WEBHOOK_SECRET the account's current secret?") {
		t.Fatalf("warning %q", w)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{{signature.ErrTimestamp, "clock"}, {signature.ErrMissingHeaders, "not signed"}} {
		if w := RejectionWarning(&signature.Error{Reason: tt.err}); !strings.Contains(w, tt.want) {
			t.Errorf("RejectionWarning(%v) = %q", tt.err, w)
		}
	}
}

func TestReceiverRefuses(t *testing.T) {
	r := recv(t, Options{})
	r.Expect("r1")
	ok := body("r1", "completed")
	tests := []struct {
		name, method, path, ctype, body string
		code                            int
	}{
		{"wrong path", "POST", "/hf/0123", "application/json", ok, 404},
		{"path with input to reflect", "POST", "/<script>alert(1)</script>", "application/json", ok, 404},
		{"secret path plus suffix", "POST", r.Path() + "/x", "application/json", ok, 404},
		{"root", "POST", "/", "application/json", ok, 404},
		{"GET", "GET", r.Path(), "", "", 405},
		{"PUT", "PUT", r.Path(), "application/json", ok, 405},
		{"text/plain", "POST", r.Path(), "text/plain", ok, 415},
		{"form", "POST", r.Path(), "application/x-www-form-urlencoded", "a=b", 415},
		{"no content type", "POST", r.Path(), "", ok, 415},
		{"too large", "POST", r.Path(), "application/json", padded(1<<20 + 1), 413},
		{"not JSON", "POST", r.Path(), "application/json", "{nope", 400},
		{"no status", "POST", r.Path(), "application/json", `{"request_id":"r1"}`, 400},
		{"no request id", "POST", r.Path(), "application/json", `{"status":"completed"}`, 400},
		{"json with charset", "POST", r.Path(), "application/json; charset=utf-8", ok, 200},
		{"exactly the limit is fine", "POST", r.Path(), "application/json", padded(1 << 20), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(r, tt.method, tt.path, tt.ctype, tt.body, nil)
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.code, got)
			}
			if tt.code == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if tt.code != 200 && string(got) != http.StatusText(tt.code)+"\n" {
				t.Errorf("body = %q, want the generic status text", got)
			}
			if tt.code == 200 && string(got) != "{\"ok\":true}\n" {
				t.Errorf("body = %q", got)
			}
		})
	}
	want := Stats{Received: int64(len(tests) - 4), Rejected: int64(len(tests) - 6), Accepted: 2}
	if got := r.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestReceiverChunkedTooLarge(t *testing.T) {
	r := recv(t, Options{MaxBody: 64})
	req := httptest.NewRequest("POST", r.Path(), io.MultiReader(strings.NewReader(`{"a":"`), strings.NewReader(strings.Repeat("x", 100)+`"}`)))
	req.ContentLength = -1 // unknown length: only the reader can stop it
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != 413 {
		t.Fatalf("status = %d, want 413", w.Code)
	}
}

func TestSignedDeliveries(t *testing.T) {
	c := newClock()
	r := recv(t, Options{Secret: testSecret, Now: c.Now})
	ch := r.Expect("r1")
	done := body("r1", "completed")

	steps := []struct {
		name    string
		header  http.Header
		body    string
		code    int
		forward bool
	}{
		{"forged first, same webhook-id", signedHeader("msg_1", c.Now().Unix(), sign([]byte("wrong"), "msg_1", c.Now().Unix(), done)), done, 401, false},
		{"unsigned", nil, done, 401, false},
		{"stale", signedHeader("msg_1", c.Now().Unix()-600, sign(testKey, "msg_1", c.Now().Unix()-600, done)), done, 401, false},
		{"the true one", signed(c, "msg_1", done), done, 200, true},
		{"redelivery", signed(c, "msg_1", done), done, 200, false},
		{"another event", signed(c, "msg_2", body("r1", "failed")), body("r1", "failed"), 200, true},
	}
	for _, s := range steps {
		resp := post(r, "POST", r.Path(), "application/json", s.body, s.header)
		if resp.StatusCode != s.code {
			t.Fatalf("%s: status = %d, want %d", s.name, resp.StatusCode, s.code)
		}
		got := drain(ch)
		if s.forward != (len(got) == 1) || len(got) > 1 {
			t.Fatalf("%s: forwarded %d, want forward=%v", s.name, len(got), s.forward)
		}
		if s.forward {
			d := got[0]
			if !d.Verified || d.RequestID != "r1" || d.WebhookID != s.header.Get("webhook-id") || !d.ReceivedAt.Equal(c.Now()) || d.Status == nil {
				t.Fatalf("%s: delivery = %+v", s.name, d)
			}
		}
	}
	if got, want := r.Stats(), (Stats{Received: 6, Rejected: 3, Accepted: 2, Duplicates: 1}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestUnsignedDeliveriesAreWakeUps(t *testing.T) {
	r := recv(t, Options{})
	ch := r.Expect("r1")
	b := body("r1", "completed")
	// The same delivery twice, the second carrying signature headers that
	// nobody can check: both are forwarded, neither is verified.
	post(r, "POST", r.Path(), "application/json", b, nil)
	post(r, "POST", r.Path(), "application/json", b, signedHeader("msg_1", testNow.Unix(), sign(testKey, "msg_1", testNow.Unix(), b)))
	got := drain(ch)
	if len(got) != 2 {
		t.Fatalf("forwarded %d, want 2", len(got))
	}
	for _, d := range got {
		if d.Verified || d.Status.Status != "completed" {
			t.Errorf("delivery = %+v, want unverified completed", d)
		}
	}
	if got[1].WebhookID != "msg_1" {
		t.Errorf("WebhookID = %q", got[1].WebhookID)
	}
}

func TestPendingBeforeExpect(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		sent   int           // deliveries for distinct unknown ids r0, r1, …
		wait   time.Duration // between sending and Expect
		expect string
		want   int
	}{
		{"early delivery handed over", "", 1, 0, "r0", 1},
		{"early signed delivery handed over", testSecret, 1, 0, "r0", 1},
		{"kept for a minute", "", 1, 59 * time.Second, "r0", 1},
		{"dropped after a minute", "", 1, 61 * time.Second, "r0", 0},
		{"oldest dropped beyond 32", "", 40, 0, "r7", 0},
		{"newest 32 kept", "", 40, 0, "r8", 1},
		{"other ids stay out", "", 3, 0, "r9", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			r := recv(t, Options{Secret: tt.secret, Now: c.Now})
			for i := range tt.sent {
				id := fmt.Sprintf("r%d", i)
				b := body(id, "completed")
				var h http.Header
				if tt.secret != "" {
					h = signed(c, "msg_"+id, b)
				}
				if resp := post(r, "POST", r.Path(), "application/json", b, h); resp.StatusCode != 200 {
					t.Fatalf("status = %d", resp.StatusCode)
				}
			}
			if got := r.Stats().Ignored; got != int64(tt.sent) {
				t.Errorf("Ignored = %d, want %d", got, tt.sent)
			}
			c.Add(tt.wait)
			got := drain(r.Expect(tt.expect))
			if len(got) != tt.want {
				t.Fatalf("Expect(%s) got %d deliveries, want %d", tt.expect, len(got), tt.want)
			}
			if tt.want == 1 && (got[0].RequestID != tt.expect || got[0].Verified != (tt.secret != "")) {
				t.Errorf("delivery = %+v", got[0])
			}
			if len(drain(r.Expect(tt.expect))) != 0 {
				t.Error("a pending delivery was handed over twice")
			}
		})
	}
}

func TestExpectNeverBlocksTheSender(t *testing.T) {
	r := recv(t, Options{})
	ch := r.Expect("r1")
	if r.Expect("r1") != ch {
		t.Fatal("Expect twice returned another channel")
	}
	for range 20 { // nobody reads: the channel fills, the sender still gets 200
		if resp := post(r, "POST", r.Path(), "application/json", body("r1", "completed"), nil); resp.StatusCode != 200 {
			t.Fatalf("status = %d", resp.StatusCode)
		}
	}
	if n := len(drain(ch)); n != 16 {
		t.Errorf("buffered %d, want 16", n)
	}
	r.Forget("r1")
	post(r, "POST", r.Path(), "application/json", body("r1", "completed"), nil)
	if n := len(drain(ch)); n != 0 {
		t.Errorf("forwarded %d after Forget", n)
	}
	if got := r.Stats().Ignored; got != 1 {
		t.Errorf("Ignored = %d, want 1", got)
	}
}
