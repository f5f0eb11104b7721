package listen

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/signature"
	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("golang.ngrok.com/muxado/v2.(*Heartbeat).check"))
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// app is the user's webhook handler: it records what reached it and answers
// with the next of its scripted answers (then 200).
type app struct {
	*httptest.Server
	mu      sync.Mutex
	got     []appRequest
	answers []appAnswer
}

type appRequest struct {
	Method string
	Header http.Header
	Body   []byte
}

type appAnswer struct {
	code  int
	delay time.Duration
}

func newApp(t *testing.T, answers ...appAnswer) *app {
	a := &app{answers: answers}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.got = append(a.got, appRequest{r.Method, r.Header.Clone(), body})
		ans := appAnswer{code: 200}
		if len(a.answers) > 0 {
			ans, a.answers = a.answers[0], a.answers[1:]
		}
		a.mu.Unlock()
		if ans.delay > 0 {
			select {
			case <-time.After(ans.delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(ans.code)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *app) requests() []appRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appRequest(nil), a.got...)
}

func (a *app) hook() string { return a.URL + "/webhooks" }

// running is a relay served on a loopback endpoint by Run.
type running struct {
	url    string
	events *recorder
	done   chan error
	cancel context.CancelFunc
}

type recorder struct {
	mu sync.Mutex
	ev []Event
}

func (r *recorder) add(e Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }
func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.ev...)
}

func (r *recorder) kinds(k Kind) []Event {
	var out []Event
	for _, e := range r.all() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func start(t *testing.T, o Options, ro RunOptions) *running {
	t.Helper()
	ep, err := tunnel.Static{Listen: "127.0.0.1:0"}.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, ep, o, ro)
}

func startOn(t *testing.T, ep tunnel.Endpoint, o Options, ro RunOptions) *running {
	t.Helper()
	rec := &recorder{}
	o.Emit = rec.add
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	ro.OnReady = func(u string) error { ready <- u; return nil }
	run := &running{events: rec, done: make(chan error, 1), cancel: cancel}
	go func() { run.done <- Run(ctx, ep, r, ro); r.Close() }()
	select {
	case run.url = <-ready:
	case err := <-run.done:
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready within 10s")
	}
	t.Cleanup(func() { cancel(); run.wait(t) })
	return run
}

func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end within 10s")
		return nil
	}
}

// fake is hftest with quick jobs; submit creates one whose webhook is hook.
func fake(t *testing.T, whSecret string) *hftest.Server {
	srv := hftest.New(hftest.WithTiming(10*time.Millisecond, 10*time.Millisecond), hftest.WithWebhookSecret(whSecret))
	t.Cleanup(srv.Close)
	return srv
}

func submit(t *testing.T, srv *hftest.Server, hook string) string {
	t.Helper()
	resp, err := http.Post(srv.URL+"/higgsfield-ai/soul/standard?hf_webhook="+url.QueryEscape(hook), "application/json", strings.NewReader(`{"prompt":"a cat"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		RequestID string `json:"request_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.RequestID == "" {
		t.Fatalf("submit: %d %v", resp.StatusCode, err)
	}
	return st.RequestID
}

// attempts waits until the fake made n webhook attempts and returns them.
func attempts(t *testing.T, srv *hftest.Server, n int) []hftest.WebhookAttempt {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := srv.WebhookAttempts()
		if len(a) >= n {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fake made %d webhook attempts within 10s, want %d: %+v", len(a), n, a)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func codes(as []hftest.WebhookAttempt) []int {
	out := make([]int, len(as))
	for i, a := range as {
		out[i] = a.Code
	}
	return out
}

// sameDelivery fails unless the app got exactly the body and the four
// signed headers the fake sent.
func sameDelivery(t *testing.T, got appRequest, sent hftest.WebhookAttempt) {
	t.Helper()
	if got.Method != http.MethodPost {
		t.Errorf("app got %s, want POST", got.Method)
	}
	if !bytes.Equal(got.Body, sent.Body) {
		t.Errorf("app got body\n%q\nthe fake sent\n%q", got.Body, sent.Body)
	}
	for _, k := range webhook.SignedHeaders {
		if g, w := got.Header.Values(k), sent.Header.Values(k); strings.Join(g, "\x00") != strings.Join(w, "\x00") || len(w) == 0 && k != "webhook-signature" {
			t.Errorf("app got %s %q, the fake sent %q", k, g, w)
		}
	}
}

func TestRelay(t *testing.T) {
	noLeaks(t)
	tests := []struct {
		name       string
		fakeSecret string
		relay      Options
		apps       [][]appAnswer
		wantCodes  []int // what the fake saw, attempt by attempt
		wantHits   []int // requests each app got
		verified   bool
		rejected   bool
	}{
		{name: "signed, app 200", fakeSecret: secret, relay: Options{Secret: secret},
			apps: [][]appAnswer{nil}, wantCodes: []int{200}, wantHits: []int{1}, verified: true},
		{name: "app 204 is mirrored", fakeSecret: secret, relay: Options{Secret: secret},
			apps: [][]appAnswer{{{code: 204}}}, wantCodes: []int{204}, wantHits: []int{1}, verified: true},
		{name: "app 500 then the retry reaches it", fakeSecret: secret, relay: Options{Secret: secret},
			apps: [][]appAnswer{{{code: 500}}}, wantCodes: []int{502, 200}, wantHits: []int{2}, verified: true},
		{name: "app 301 is not followed", relay: Options{},
			apps: [][]appAnswer{{{code: 301}}}, wantCodes: []int{502, 200}, wantHits: []int{2}},
		{name: "app slow past the timeout", fakeSecret: secret, relay: Options{Secret: secret, Timeout: 150 * time.Millisecond},
			apps: [][]appAnswer{{{code: 200, delay: 2 * time.Second}}}, wantCodes: []int{502, 200}, wantHits: []int{2}, verified: true},
		{name: "two targets both 2xx", fakeSecret: secret, relay: Options{Secret: secret},
			apps: [][]appAnswer{nil, {{code: 202}}}, wantCodes: []int{200}, wantHits: []int{1, 1}, verified: true},
		{name: "two targets, one fails", fakeSecret: secret, relay: Options{Secret: secret},
			apps: [][]appAnswer{nil, {{code: 503}}}, wantCodes: []int{502, 200}, wantHits: []int{2, 2}, verified: true},
		{name: "bad signature is not forwarded", fakeSecret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("another account's key")), relay: Options{Secret: secret},
			apps: [][]appAnswer{nil}, wantCodes: []int{401, 401}, wantHits: []int{0}, rejected: true},
		{name: "unsigned without a secret is forwarded unverified", relay: Options{},
			apps: [][]appAnswer{nil}, wantCodes: []int{200}, wantHits: []int{1}},
		{name: "signed without a secret is forwarded unverified", fakeSecret: secret, relay: Options{},
			apps: [][]appAnswer{nil}, wantCodes: []int{200}, wantHits: []int{1}},
		{name: "inspector", fakeSecret: secret, relay: Options{Secret: secret},
			wantCodes: []int{200}, verified: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fake(t, tt.fakeSecret)
			var apps []*app
			o := tt.relay
			for _, answers := range tt.apps {
				a := newApp(t, answers...)
				apps = append(apps, a)
				o.Targets = append(o.Targets, a.hook())
			}
			run := start(t, o, RunOptions{})
			id := submit(t, srv, run.url)
			// A refused delivery is retried for seconds: look at the first ones.
			got := attempts(t, srv, len(tt.wantCodes))[:len(tt.wantCodes)]
			if c := codes(got); fmt.Sprint(c) != fmt.Sprint(tt.wantCodes) {
				t.Fatalf("the fake saw %v, want %v", c, tt.wantCodes)
			}
			for i, a := range apps {
				reqs := a.requests()
				if tt.rejected {
					time.Sleep(100 * time.Millisecond) // a forward would have landed by now
					reqs = a.requests()
				}
				if len(reqs) != tt.wantHits[i] {
					t.Fatalf("app %d got %d requests, want %d", i, len(reqs), tt.wantHits[i])
				}
				for j, r := range reqs {
					sameDelivery(t, r, got[j])
				}
			}
			// Events: one Received and one Answered per attempt, one
			// Forwarded per target and forwarded attempt.
			deadline := time.Now().Add(5 * time.Second)
			for len(run.events.kinds(Answered)) < len(tt.wantCodes) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			answered := run.events.kinds(Answered)
			if len(answered) < len(tt.wantCodes) || len(run.events.kinds(Received)) < len(tt.wantCodes) {
				t.Fatalf("events: %+v", run.events.all())
			}
			answered = answered[:len(tt.wantCodes)]
			forwards := 0
			for i, e := range answered {
				d := e.Delivery
				if d.Answer != tt.wantCodes[i] || d.RequestID != id || d.Status != "completed" || d.Outputs["image"] != 1 || d.WebhookID != "msg_"+id {
					t.Errorf("answered %d: %+v", i, d)
				}
				if d.Verified != tt.verified || (d.Rejected != "") != tt.rejected || d.Signed != (tt.fakeSecret != "") {
					t.Errorf("answered %d: verified %v rejected %q signed %v", i, d.Verified, d.Rejected, d.Signed)
				}
				forwards += len(d.Forwards)
			}
			if n := len(run.events.kinds(Forwarded)); n != forwards {
				t.Errorf("%d Forwarded events, %d forwards in the deliveries", n, forwards)
			}
		})
	}
}

func TestRelayForwardErrors(t *testing.T) {
	noLeaks(t)
	// A port nothing listens on: the connection is refused.
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL + "/webhooks"
	closed.Close()
	srv := fake(t, "")
	slow := newApp(t, appAnswer{code: 200, delay: 2 * time.Second})
	run := start(t, Options{Targets: []string{refused, slow.hook()}, Timeout: 100 * time.Millisecond}, RunOptions{MaxDeliveries: 1})
	submit(t, srv, run.url)
	if err := run.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := attempts(t, srv, 1); got[0].Code != 502 {
		t.Fatalf("fake saw %d", got[0].Code)
	}
	d := run.events.kinds(Answered)[0].Delivery
	if len(d.Forwards) != 2 || d.Forwards[0].Code != 0 || !strings.Contains(d.Forwards[0].Error, "refused") ||
		d.Forwards[1].Code != 0 || d.Forwards[1].Error != "no answer within 100ms" {
		t.Errorf("forwards %+v", d.Forwards)
	}
	if d.Forwards[1].Latency < 100*time.Millisecond || d.Forwards[1].Latency > time.Second {
		t.Errorf("slow latency %s", d.Forwards[1].Latency)
	}
}

func TestRelayRefusesWhatIsNotADelivery(t *testing.T) {
	noLeaks(t)
	a := newApp(t)
	run := start(t, Options{Targets: []string{a.hook()}}, RunOptions{})
	base := strings.TrimSuffix(run.url, "/hf/"+strings.Split(run.url, "/hf/")[1])
	c := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		name, method, url, ctype, body string
		want                           int
	}{
		{"guessed path", "POST", base + "/hf/0123", "application/json", `{}`, 404},
		{"root", "POST", base + "/", "application/json", `{}`, 404},
		{"GET", "GET", run.url, "", "", 405},
		{"not JSON type", "POST", run.url, "text/plain", `{}`, 415},
		{"not JSON body", "POST", run.url, "application/json", `{"a":`, 400},
		{"too big", "POST", run.url, "application/json", `{"a":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if n := len(a.requests()); n != 0 {
		t.Errorf("the app got %d requests", n)
	}
	// What the sender meant as a delivery and the front door refused is
	// shown: the wrong type and the body too big; a GET and other paths are not.
	var refused []string
	for _, e := range run.events.kinds(Warning) {
		refused = append(refused, e.Message)
	}
	if len(refused) != 2 || !strings.Contains(refused[0], `(415 Unsupported Media Type): Content-Type "text/plain" is not application/json`) ||
		!strings.Contains(refused[1], "(413 Request Entity Too Large): body over the 1048576-byte limit") {
		t.Errorf("warnings %q", refused)
	}
}

func TestRunMaxDeliveriesAndJSON(t *testing.T) {
	noLeaks(t)
	srv := fake(t, secret)
	a := newApp(t)
	run := start(t, Options{Secret: secret, Targets: []string{a.hook()}}, RunOptions{MaxDeliveries: 2})
	ids := []string{submit(t, srv, run.url), submit(t, srv, run.url)}
	if err := run.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	answered := run.events.kinds(Answered)
	if len(answered) != 2 {
		t.Fatalf("%d answered", len(answered))
	}
	seen := map[string]bool{}
	for _, e := range answered {
		line, err := json.Marshal(e.Delivery)
		if err != nil || bytes.Contains(line, []byte("\n")) {
			t.Fatalf("%s %v", line, err)
		}
		var got struct {
			Time      time.Time `json:"time"`
			WebhookID string    `json:"webhook_id"`
			RequestID string    `json:"request_id"`
			Status    string    `json:"status"`
			Verified  *bool     `json:"verified"`
			Answer    int       `json:"answer"`
			Forwards  []struct {
				URL       string   `json:"url"`
				Code      int      `json:"code"`
				LatencyMS *float64 `json:"latency_ms"`
			} `json:"forwards"`
		}
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatal(err)
		}
		if got.Time.IsZero() || got.WebhookID == "" || got.Status != "completed" || got.Verified == nil || !*got.Verified || got.Answer != 200 ||
			len(got.Forwards) != 1 || got.Forwards[0].URL != a.hook() || got.Forwards[0].Code != 200 || got.Forwards[0].LatencyMS == nil || *got.Forwards[0].LatencyMS <= 0 {
			t.Errorf("NDJSON line %s", line)
		}
		seen[got.RequestID] = true
	}
	if !seen[ids[0]] || !seen[ids[1]] {
		t.Errorf("request ids %v, want %v", seen, ids)
	}
	// The endpoint is closed: later deliveries fail.
	if _, err := http.Post(run.url, "application/json", strings.NewReader(`{}`)); err == nil {
		t.Error("the endpoint still answers after Run returned")
	}
}

func TestSaveAndReplay(t *testing.T) {
	noLeaks(t)
	srv := fake(t, secret)
	dir := filepath.Join(t.TempDir(), "saved")
	run := start(t, Options{Secret: secret, SaveDir: dir}, RunOptions{MaxDeliveries: 1})
	id := submit(t, srv, run.url)
	if err := run.wait(t); err != nil {
		t.Fatal(err)
	}
	sent := attempts(t, srv, 1)[0]
	path := filepath.Join(dir, "msg_"+id+".http")
	if d := run.events.kinds(Answered)[0].Delivery; d.Saved != path {
		t.Errorf("saved to %q, want %q", d.Saved, path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v", fi, err)
	}
	saved, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t)
	f, err := Send(context.Background(), nil, a.hook(), saved, time.Second, "")
	if err != nil || f.Code != 200 {
		t.Fatalf("replay: %+v %v", f, err)
	}
	reqs := a.requests()
	if len(reqs) != 1 {
		t.Fatalf("app got %d", len(reqs))
	}
	sameDelivery(t, reqs[0], sent)
	// What the app got still verifies (within the tolerance).
	if err := signature.Verify(secret, reqs[0].Header, reqs[0].Body, time.Now(), 0); err != nil {
		t.Errorf("replayed delivery does not verify: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.http")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"msg_2b1c", "msg_2b1c.http"},
		{"../../etc/passwd", "_.._etc_passwd-"},
		{"a/b", "a_b-"},
		{".hidden", "hidden-"},
	} {
		got := FileName(tc.id)
		if !strings.HasPrefix(got, tc.want) || strings.ContainsAny(got, "/\\") || strings.HasPrefix(got, ".") || !strings.HasSuffix(got, ".http") {
			t.Errorf("FileName(%q) = %q, want prefix %q", tc.id, got, tc.want)
		}
	}
	if FileName("a/b") == FileName("a_b") {
		t.Error("two ids share a file name")
	}
	if a, b := FileName(""), FileName(""); a == b || !strings.HasPrefix(a, "delivery-") {
		t.Errorf("no-id names %q %q", a, b)
	}
}

func TestSampleAndSend(t *testing.T) {
	noLeaks(t)
	now := time.Unix(1_760_000_000, 0)
	for _, tc := range []struct {
		o    SampleOptions
		want string
	}{
		{SampleOptions{Status: "completed", RequestID: "r1", Now: func() time.Time { return now }},
			`{"status":"completed","request_id":"r1","status_url":"https://api.higgsfield.ai/requests/r1/status","cancel_url":"https://api.higgsfield.ai/requests/r1/cancel","images":[{"url":"https://images.url/example"}],"expires_at":"2025-10-16T08:53:20Z"}`},
		{SampleOptions{Status: "completed", RequestID: "r1", Kind: "video", Now: func() time.Time { return now }},
			`{"status":"completed","request_id":"r1","status_url":"https://api.higgsfield.ai/requests/r1/status","cancel_url":"https://api.higgsfield.ai/requests/r1/cancel","video":{"url":"https://video.url/example"},"expires_at":"2025-10-16T08:53:20Z"}`},
		{SampleOptions{Status: "failed", RequestID: "r1"}, `{"status":"failed","request_id":"r1","error":"Generation fail message"}`},
		{SampleOptions{Status: "nsfw", RequestID: "r1"}, `{"status":"nsfw","request_id":"r1"}`},
	} {
		got, err := Sample(tc.o)
		if err != nil || string(got) != tc.want {
			t.Errorf("Sample(%+v) =\n%s, %v\nwant\n%s", tc.o, got, err, tc.want)
		}
	}
	for _, bad := range []SampleOptions{{Status: "canceled"}, {Status: "completed", Kind: "audio"}, {Status: "failed", Kind: "video"}} {
		if _, err := Sample(bad); err == nil {
			t.Errorf("Sample(%+v) succeeded", bad)
		}
	}
	if b, _ := Sample(SampleOptions{Status: "nsfw"}); !strings.Contains(string(b), `"request_id":"`) || len(b) < 40 {
		t.Errorf("no generated request id: %s", b)
	}

	body, _ := Sample(SampleOptions{Status: "completed", RequestID: "r1"})
	a := newApp(t)
	d, err := NewDelivery(body, secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f, err := Send(context.Background(), nil, a.hook(), d, time.Second, "")
	if err != nil || f.Code != 200 {
		t.Fatalf("send: %+v %v", f, err)
	}
	got := a.requests()[0]
	if !bytes.Equal(got.Body, body) || got.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(got.Header.Get("webhook-id"), "msg_") {
		t.Fatalf("app got %v %q", got.Header, got.Body)
	}
	// The verifier accepts it...
	if err := signature.Verify(secret, got.Header, got.Body, time.Now(), 0); err != nil {
		t.Errorf("signature.Verify: %v", err)
	}
	// ...and so does an HMAC computed here from the Standard Webhooks spec.
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(got.Header.Get("webhook-id") + "." + got.Header.Get("webhook-timestamp") + "."))
	mac.Write(got.Body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); got.Header.Get("webhook-signature") != want {
		t.Errorf("signature %q, independent HMAC %q", got.Header.Get("webhook-signature"), want)
	}
	if ts, err := strconv.ParseInt(got.Header.Get("webhook-timestamp"), 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("timestamp %q", got.Header.Get("webhook-timestamp"))
	}

	// Unsigned without a secret; a malformed secret is refused.
	d, _ = NewDelivery(body, "", time.Now())
	if d.Header.Get("webhook-signature") != "" {
		t.Error("signed without a secret")
	}
	if _, err := NewDelivery(body, "not-a-secret", time.Now()); err == nil {
		t.Error("malformed secret accepted")
	}
	if _, err := Send(context.Background(), nil, "mailto:x", d, time.Second, ""); err == nil {
		t.Error("a URL that is not http accepted")
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://localhost:3000/webhooks", "http://localhost:3000/webhooks"},
		{"https://h.example/x?a=1", "https://h.example/x?a=1"},
		{"localhost:3000/webhooks", "http://localhost:3000/webhooks"},
		{"127.0.0.1:4242/webhook", "http://127.0.0.1:4242/webhook"},
		{":3000/x", "http://localhost:3000/x"},
		{"[::1]:3000/x", "http://[::1]:3000/x"},
		{"ftp://h/x", ""},
		{"mailto:x", ""},
		{"", ""},
		{"http://", ""},
	} {
		u, err := ParseTarget(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseTarget(%q) = %s, want an error", tc.in, u)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Secret: "whsec_not base64!"},
		{Secret: "abc"},
		{Targets: []string{"mailto:x"}},
		{Targets: []string{"ftp://host/x"}},
		{Targets: []string{"http://"}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestWatch(t *testing.T) {
	rec := &recorder{}
	w := NewWatch(150 * time.Millisecond)
	url := "https://a.example/hf/x"
	w.Observe(tunnel.SessionEvent{Up: true}) // before Run: held, no effect
	lost := w.attach(rec.add, func() string { return url })
	errDrop := errors.New("read: connection reset")
	w.Observe(tunnel.SessionEvent{Err: errDrop})
	w.Observe(tunnel.SessionEvent{Err: errors.New("dial: refused")})
	w.Observe(tunnel.SessionEvent{Up: true})
	ev := rec.all()
	if len(ev) != 3 || ev[0].Kind != TunnelDown || ev[0].Attempt != 1 || ev[0].Err != errDrop || ev[1].Attempt != 2 ||
		ev[2].Kind != TunnelUp || ev[2].Changed || ev[2].URL != url {
		t.Fatalf("events %+v", ev)
	}
	// Back in time: no give-up.
	select {
	case <-lost:
		t.Fatal("gave up after the session came back")
	case <-time.After(300 * time.Millisecond):
	}
	// Down again, and a URL that changes when it returns... it does not come back.
	w.Observe(tunnel.SessionEvent{Err: errDrop})
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("did not give up")
	}
	var le *LostError
	if err := w.lostErr(); !errors.As(err, &le) || le.Down != 150*time.Millisecond || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("lost error %v", err)
	}
	w.Stop()
	for _, tc := range []struct {
		err  *LostError
		want string
	}{
		{&LostError{Down: 5 * time.Minute, Err: errors.New("Your account is limited.\n\nERR_NGROK_108\n")}, "the tunnel stayed down for 5m0s; giving up (last error: Your account is limited.)"},
		{&LostError{Err: errors.New("accept: closed\nmore")}, "the webhook endpoint stopped: accept: closed"},
		{&LostError{}, "the webhook endpoint stopped"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestWatchReportsAChangedURL(t *testing.T) {
	rec := &recorder{}
	w := NewWatch(time.Minute)
	defer w.Stop()
	url := "https://a.example/hf/x"
	w.attach(rec.add, func() string { return url })
	w.Observe(tunnel.SessionEvent{Err: errors.New("x")})
	url = "https://b.example/hf/x"
	w.Observe(tunnel.SessionEvent{Up: true})
	if ev := rec.all(); len(ev) != 2 || !ev[1].Changed || ev[1].URL != url {
		t.Fatalf("events %+v", ev)
	}
}

func noLeaks(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("golang.ngrok.com/muxado/v2.(*Heartbeat).check")}
	t.Cleanup(func() {
		start := time.Now()
		for {
			err := goleak.Find(opts...)
			if err == nil {
				return
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("goroutines left after %s: %v", time.Since(start), err)
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	})
}

// unreachable announces a public URL that leads nowhere (a proxy that is
// not routing yet, a NAT without hairpin).
type unreachable struct{ tunnel.Endpoint }

func (unreachable) URL() *url.URL { return &url.URL{Scheme: "http", Host: "127.0.0.1:1"} }

func TestRunWarnsWhenThePublicURLDoesNotAnswerHere(t *testing.T) {
	noLeaks(t)
	ep, err := tunnel.Static{Listen: "127.0.0.1:0"}.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run := startOn(t, unreachable{ep}, Options{}, RunOptions{ProbeTimeout: 300 * time.Millisecond})
	if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
		t.Errorf("ready after %s, want after the 300ms probe", el)
	}
	if !strings.HasPrefix(run.url, "http://127.0.0.1:1/hf/") {
		t.Errorf("url %q", run.url)
	}
	w := run.events.kinds(Warning)
	if len(w) != 1 || !strings.Contains(w[0].Message, "did not answer from this host") {
		t.Errorf("warnings %+v", w)
	}
	// hf said what it was doing before the probe's timeout, once.
	c := run.events.kinds(Checking)
	if len(c) != 1 || c[0].URL != "http://127.0.0.1:1" || c[0].Down != 300*time.Millisecond {
		t.Errorf("checking events %+v", c)
	}
	if el := c[0].Time.Sub(start); len(c) == 1 && el > checkingAfter+200*time.Millisecond {
		t.Errorf("checking said after %s", el)
	}
}

// TestRunDoesNotWaitOnAHostThatDoesNotResolve: a public host name that does
// not resolve is a warning at once, not after the probe's 10 s.
func TestRunDoesNotWaitOnAHostThatDoesNotResolve(t *testing.T) {
	noLeaks(t)
	saved := probeDial
	t.Cleanup(func() { probeDial = saved })
	probeDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "hooks.example.com", IsNotFound: true}}
	}
	ep, err := tunnel.Static{Listen: "127.0.0.1:0"}.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run := startOn(t, unreachable{ep}, Options{}, RunOptions{ProbeTimeout: 10 * time.Second})
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("ready after %s, want at once", el)
	}
	w := run.events.kinds(Warning)
	if len(w) != 1 || !strings.Contains(w[0].Message, "no such host") {
		t.Errorf("warnings %+v", w)
	}
}

// TestRunIsSilentWhenThePublicURLAnswers: no "checking" line when the
// endpoint answers at once.
func TestRunIsSilentWhenThePublicURLAnswers(t *testing.T) {
	noLeaks(t)
	run := start(t, Options{}, RunOptions{})
	time.Sleep(checkingAfter + 100*time.Millisecond)
	if ev := run.events.all(); len(ev) != 0 {
		t.Errorf("events %+v", ev)
	}
}

// TestLoadRefusesWhatIsNoDelivery: a file that is not a saved delivery is
// refused quickly, without reading it all into memory, without blocking on
// a pipe, and with a one-line error however long its junk line is.
func TestLoadRefusesWhatIsNoDelivery(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	huge := filepath.Join(dir, "huge.http")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 1 GiB of zeros on disk costs nothing, in memory it would.
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo.http")
	mkfifo(t, fifo)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"a GiB of zeros", huge, "over the"},
		{"a long junk line under the size limit", write("junk.http", bytes.Repeat([]byte{0}, 4<<20)), "not a saved delivery"},
		{"a long request line", write("line.http", append([]byte("POST /"), bytes.Repeat([]byte("a"), 1<<20)...)), "not a saved delivery"},
		{"a directory", dir, "not a regular file"},
		{"a pipe", fifo, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := Load(tc.path); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Load: %v, want %q", err, tc.want)
				}
				if n := len(err.Error()); n > 400 || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error of %d bytes: %.400q", n, err.Error())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Load blocked")
			}
		})
	}
}

// TestRunStopsDuringAHungForward: Ctrl-C while an app holds a forward does
// not wait out the forward timeout: the server's grace (2 s), then the
// forward is abandoned.
func TestRunStopsDuringAHungForward(t *testing.T) {
	noLeaks(t)
	a := newApp(t, appAnswer{code: 200, delay: time.Minute})
	run := start(t, Options{Targets: []string{a.hook()}, Timeout: 30 * time.Second}, RunOptions{})
	sent := make(chan error, 1)
	go func() {
		resp, err := http.Post(run.url, "application/json", strings.NewReader(`{"status":"completed","request_id":"r1"}`))
		if err == nil {
			resp.Body.Close()
		}
		sent <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(a.requests()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the forward did not reach the app")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	run.cancel()
	err := run.wait(t)
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("Run took %s to stop during a hung forward (timeout 30s)", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	<-sent
	fwd := run.events.kinds(Forwarded)
	if len(fwd) != 1 {
		t.Fatalf("%d Forwarded events, want 1", len(fwd))
	}
	if ans := run.events.kinds(Answered); len(ans) != 1 || ans[0].Delivery.Answer != 0 {
		t.Errorf("answered %+v, want one with no answer (0): the connection is closed", ans)
	}
	for _, e := range fwd {
		if e.Forward.Code != 0 || !strings.Contains(e.Forward.Error, "abandoned") {
			t.Errorf("forward %+v", e.Forward)
		}
	}
}

// post sends d to url as a sender would and returns the answer's code.
func post(t *testing.T, url string, d *webhook.RawDelivery) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = d.Header.Clone()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func signedDelivery(t *testing.T, key, id, body string, at time.Time) *webhook.RawDelivery {
	t.Helper()
	d, err := NewDelivery([]byte(body), key, at)
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		// Re-sign under the chosen id.
		d.Header.Set("webhook-id", id)
		if key != "" {
			k, _ := signature.DecodeSecret(key)
			d.Header.Set("webhook-signature", signature.SignKey(k, id, at, d.Body))
		}
	}
	return d
}

// TestSaveKeepsRejectedApart: a delivery the relay rejects (forged, stale)
// never replaces the accepted one saved under the same webhook-id; it is
// kept under rejected/ for debugging.
func TestSaveKeepsRejectedApart(t *testing.T) {
	noLeaks(t)
	dir := filepath.Join(t.TempDir(), "saved")
	run := start(t, Options{Secret: secret, SaveDir: dir}, RunOptions{})
	good := `{"status":"completed","request_id":"9417a243-e457-4075-895b-b68f3cda5303","images":[{"url":"https://a/1.png"}]}`
	forged := `{"status":"completed","request_id":"9417a243-e457-4075-895b-b68f3cda5303","images":[{"url":"https://evil/1.png"}]}`
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another account's key"))
	if c := post(t, run.url, signedDelivery(t, secret, "msg_1", good, time.Now())); c != 200 {
		t.Fatalf("good delivery answered %d", c)
	}
	for _, d := range []*webhook.RawDelivery{
		signedDelivery(t, other, "msg_1", forged, time.Now()),                  // bad signature
		signedDelivery(t, secret, "msg_1", forged, time.Now().Add(-time.Hour)), // stale
		signedDelivery(t, "", "msg_1", forged, time.Now()),                     // unsigned
	} {
		if c := post(t, run.url, d); c != 401 {
			t.Fatalf("forged delivery answered %d", c)
		}
	}
	saved, err := Load(filepath.Join(dir, "msg_1.http"))
	if err != nil {
		t.Fatal(err)
	}
	if string(saved.Body) != good {
		t.Fatalf("the accepted delivery's file now holds %s", saved.Body)
	}
	rej, err := Load(filepath.Join(dir, RejectedDir, "msg_1.http"))
	if err != nil || string(rej.Body) != forged {
		t.Fatalf("rejected delivery: %v %s", err, rej.Body)
	}
	for _, e := range run.events.kinds(Answered) {
		want := filepath.Join(dir, "msg_1.http")
		if e.Delivery.Rejected != "" {
			want = filepath.Join(dir, RejectedDir, "msg_1.http")
		}
		if e.Delivery.Saved != want {
			t.Errorf("saved %q, want %q", e.Delivery.Saved, want)
		}
	}
}

// TestSaveBounds: a --save that cannot be written fails before any delivery;
// a file that could not be written is not reported as saved; past the bound
// nothing more is saved, one warning says so, and deliveries still flow.
func TestSaveBounds(t *testing.T) {
	noLeaks(t)
	tmp := t.TempDir()
	afile := filepath.Join(tmp, "afile")
	if err := os.WriteFile(afile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{SaveDir: filepath.Join(afile, "sub")}); err == nil || !strings.Contains(err.Error(), "--save") {
		t.Fatalf("New with a --save under a file: %v", err)
	}

	dir := filepath.Join(tmp, "saved")
	run := start(t, Options{SaveDir: dir, SaveLimit: 1500}, RunOptions{})
	body := `{"status":"completed","request_id":"9417a243-e457-4075-895b-b68f3cda5303","images":[{"url":"https://a/` + strings.Repeat("x", 300) + `.png"}]}`
	for i := range 6 {
		if c := post(t, run.url, signedDelivery(t, "", fmt.Sprintf("msg_%d", i), body, time.Now())); c != 200 {
			t.Fatalf("delivery %d answered %d", i, c)
		}
	}
	ents, _ := os.ReadDir(dir)
	var size int64
	for _, e := range ents {
		fi, _ := e.Info()
		size += fi.Size()
	}
	if len(ents) == 0 || len(ents) >= 6 || size > 1500 {
		t.Fatalf("%d files, %d bytes saved, bound 1500", len(ents), size)
	}
	saved := 0
	for _, e := range run.events.kinds(Answered) {
		if e.Delivery.Saved != "" {
			saved++
		}
	}
	if saved != len(ents) {
		t.Errorf("%d deliveries report a file, %d files", saved, len(ents))
	}
	if w := run.events.kinds(Warning); len(w) != 1 || !strings.Contains(w[0].Message, "saving no more") {
		t.Errorf("warnings %+v", w)
	}

	// The directory is gone and a file took its place: the write fails and
	// the delivery names no file.
	dir2 := filepath.Join(tmp, "saved2")
	run2 := start(t, Options{SaveDir: dir2}, RunOptions{})
	if err := os.RemoveAll(dir2); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir2, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c := post(t, run2.url, signedDelivery(t, "", "msg_x", body, time.Now())); c != 200 {
		t.Fatalf("answered %d", c)
	}
	if d := run2.events.kinds(Answered)[0].Delivery; d.Saved != "" {
		t.Errorf("saved %q though the write failed", d.Saved)
	}
	if w := run2.events.kinds(Warning); len(w) != 1 || !strings.Contains(w[0].Message, "could not save") {
		t.Errorf("warnings %+v", w)
	}
}

// TestDeliverReportsHowTheAppAnswered: what the user sees about an app's
// odd answers says what happened: where a redirect points (not followed),
// and a 2xx whose body never ended (no answer for a sender: 502).
func TestDeliverReportsHowTheAppAnswered(t *testing.T) {
	noLeaks(t)
	d := &webhook.RawDelivery{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`)}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		code    int
		errHas  string
		loc     string
	}{
		{"redirect, relative", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/webhooks/")
			w.WriteHeader(http.StatusPermanentRedirect)
		}, 308, "", "/webhooks/"},
		{"200 then a body that drips past the timeout", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}, 0, "answered 200 but its body did not end: no answer within 300ms", ""},
		{"200 then the connection breaks mid-body", func(w http.ResponseWriter, r *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
			c.Close()
		}, 0, "answered 200 but its body did not end: unexpected EOF", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := httptest.NewServer(tc.handler)
			defer app.Close()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			f := Deliver(context.Background(), c, app.URL+"/webhooks", d, 300*time.Millisecond, "t")
			if f.Code != tc.code || !strings.Contains(f.Error, tc.errHas) || (tc.errHas == "" && f.Error != "") {
				t.Errorf("forward %+v, want code %d error %q", f, tc.code, tc.errHas)
			}
			if want := ""; tc.loc != "" {
				want = app.URL + tc.loc
				if f.Location != want {
					t.Errorf("location %q, want %q", f.Location, want)
				}
			} else if f.Location != want {
				t.Errorf("location %q", f.Location)
			}
		})
	}
}
