package job_test

// Runner with a real webhook endpoint: a loopback tunnel.Static, a
// webhook.Receiver served on it, and hftest delivering to it, wired the way
// cmdutil wires them. The receiver's own rules (404/405/413/415, signatures,
// dedupe) are tested in pkg/webhook, the providers in pkg/tunnel; these tests
// are about the race between deliveries and polls inside a job.
//
// This is an external test package: cmdutil imports job.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hf-cli/hf/pkg/await"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/webhook"
)

const whModel = "higgsfield-ai/soul/standard"

// testSecret is a Standard Webhooks signing secret.
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("job webhook test secret!"))

// hourly polls so rarely that within a test only a webhook (or a lost
// endpoint's fallback schedule) can resolve a wait.
var hourly = await.Schedule{First: time.Hour, Max: time.Hour, Factor: 1}

// recorder is a job.Sink that keeps every event and signals each kind's
// first occurrence.
type recorder struct {
	mu     sync.Mutex
	list   []events.Event
	signal map[events.Kind]chan events.Event
}

func newRecorder() *recorder { return &recorder{signal: map[events.Kind]chan events.Event{}} }

func (r *recorder) sink(ev events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, ev)
	if ch, ok := r.signal[ev.Kind]; ok {
		select {
		case ch <- ev:
		default:
		}
	}
}

// on returns a channel that gets the first event of kind k emitted after
// the call.
func (r *recorder) on(k events.Kind) <-chan events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan events.Event, 1)
	r.signal[k] = ch
	return ch
}

func (r *recorder) count(k events.Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.list {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// rig is a Runner wired to hftest and a live webhook endpoint.
type rig struct {
	api    *hftest.Server
	ep     tunnel.Endpoint
	recv   *webhook.Receiver
	hook   *webhook.Server
	runner *job.Runner
	ev     *recorder
	dir    string
}

// newRig starts the fake API (jobs queued then running for the given
// times) and a webhook endpoint; with a secret, the fake signs its
// deliveries and the receiver verifies them.
func newRig(t *testing.T, queued, running time.Duration, secret string) *rig {
	t.Helper()
	api := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(queued, running))
	t.Cleanup(api.Close)
	api.SetWebhookSecret(secret)
	client, err := higgsfield.New(higgsfield.Options{
		BaseURL:        api.URL,
		Credentials:    higgsfield.Credentials{ID: "kid", Secret: "ksecret"},
		UserAgent:      "hf/test",
		InitialBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	jn, err := journal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := tunnel.Static{Listen: "127.0.0.1:0"}.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recv, err := webhook.NewReceiver(webhook.Options{Secret: secret})
	if err != nil {
		_ = ep.Close()
		t.Fatal(err)
	}
	hook := webhook.Serve(ep, recv)
	t.Cleanup(func() { _ = hook.Close() })
	ev := newRecorder()
	return &rig{
		api: api, ep: ep, recv: recv, hook: hook, ev: ev, dir: t.TempDir(),
		runner: &job.Runner{
			Client:   client,
			Journal:  jn,
			Fetcher:  &download.Fetcher{},
			Emit:     ev.sink,
			Endpoint: served{recv, hook},
			Schedule: hourly,
		},
	}
}

// served is the job.Endpoint of a receiver served on an endpoint.
type served struct {
	recv *webhook.Receiver
	hook *webhook.Server
}

func (s served) URL() string                              { return s.hook.URL() }
func (s served) Expect(id string) <-chan webhook.Delivery { return s.recv.Expect(id) }
func (s served) Forget(id string)                         { s.recv.Forget(id) }
func (s served) Done() <-chan struct{}                    { return s.hook.Done() }

func (r *rig) spec() job.Spec {
	return job.Spec{Model: whModel, Params: map[string]any{"prompt": "x"},
		Output: job.Output{Dir: r.dir, Template: download.Default}, Timeout: 20 * time.Second}
}

type outcome struct {
	res job.Result
	err error
	at  time.Time // when Generate returned
}

// start runs Generate in the background.
func (r *rig) start(ctx context.Context, spec job.Spec) <-chan outcome {
	done := make(chan outcome, 1)
	go func() {
		res, err := r.runner.Generate(ctx, spec)
		done <- outcome{res, err, time.Now()}
	}()
	return done
}

func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
		panic("unreachable")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// checkDownloaded: res has one file, fetched from the fake's asset host,
// with the bytes of the job's asset.
func (r *rig) checkDownloaded(t *testing.T, res job.Result) {
	t.Helper()
	j, ok := r.api.Job(res.RequestID)
	if !ok || len(j.Assets) != 1 || len(res.Files) != 1 {
		t.Fatalf("job %+v, files %+v", j, res.Files)
	}
	f := res.Files[0]
	if !strings.HasPrefix(f.URL, r.api.AssetURL+"/") || f.SHA256 != j.Assets[0].SHA256 {
		t.Fatalf("saved %+v, want the asset %+v", f, j.Assets[0])
	}
	data, err := os.ReadFile(f.Path)
	if sum := sha256.Sum256(data); err != nil || hex.EncodeToString(sum[:]) != j.Assets[0].SHA256 {
		t.Fatalf("%s does not hold the asset (%v)", f.Path, err)
	}
}

// TestWebhookResolvesAtOnce: with polls an hour apart, only the delivery can
// resolve the wait, and Generate returns (download included) well within
// 500ms of the job's terminal moment; typically 5-30ms.
//
// A latency bound is at the mercy of the machine: on a starved CPU (2 cores,
// load 10, -race) single runs took over a second. So each case runs up to
// three jobs and needs one under the bound; a systematic delay fails all
// three, and a webhook that did not resolve the wait would hang for an hour.
func TestWebhookResolvesAtOnce(t *testing.T) {
	const bound, attempts = 500 * time.Millisecond, 3
	for _, tt := range []struct {
		name            string
		queued, running time.Duration
		secret          string
		statusCalls     int // per job; unsigned: one confirming GET; signed: trusted as is
	}{
		{"unsigned", 20 * time.Millisecond, 80 * time.Millisecond, "", 1},
		{"signed", 20 * time.Millisecond, 80 * time.Millisecond, testSecret, 0},
		// The delivery may come before the runner expects the id (it is
		// still reading the submit's answer): the receiver keeps it.
		{"instant job, unsigned", 0, 0, "", 1},
		{"instant job, signed", 0, 0, testSecret, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.queued, tt.running, tt.secret)
			var lags []time.Duration
			for attempt := 1; attempt <= attempts; attempt++ {
				statusBefore, stBefore := r.api.Count(hftest.StatusEP), r.recv.Stats()
				completed := r.ev.on(events.Completed)
				res, err := r.runner.Generate(context.Background(), r.spec())
				end := time.Now()
				if err != nil {
					t.Fatal(err)
				}
				j, _ := r.api.Job(res.RequestID)
				if j.TerminalAt.IsZero() || j.Webhook != r.hook.URL() {
					t.Fatalf("job %+v: want terminal, submitted with hf_webhook %s", j, r.hook.URL())
				}
				if res.NotifiedBy != await.ByWebhook || res.Status != higgsfield.StatusCompleted {
					t.Fatalf("result %+v: want completed via webhook", res)
				}
				if n := r.api.Count(hftest.StatusEP) - statusBefore; n != tt.statusCalls {
					t.Fatalf("%d status GETs, want %d", n, tt.statusCalls)
				}
				st := r.recv.Stats()
				if st.Accepted-stBefore.Accepted != 1 || st.Rejected != 0 {
					t.Fatalf("receiver stats %+v, before this job %+v", st, stBefore)
				}
				if st.Ignored > stBefore.Ignored {
					t.Log("the delivery came before the runner expected it")
				}
				r.checkDownloaded(t, res)

				resolved := within(t, completed, time.Second, "completed event").Time.Sub(j.TerminalAt)
				lag := end.Sub(j.TerminalAt)
				t.Logf("the wait resolved %s after the job's terminal moment; Generate returned after %s (download and journal included)", resolved, lag)
				if lag < 0 {
					t.Fatalf("Generate returned %s before the job's terminal moment", -lag)
				}
				if lag < bound {
					return
				}
				lags = append(lags, lag)
			}
			t.Fatalf("Generate returned %v after completion, want < %s", lags, bound)
		})
	}
}

// forge POSTs a completed payload for id pointing at elsewhere, with the
// webhook-id the fake's true delivery will carry, and no valid signature.
func forge(t *testing.T, hookURL, id, elsewhere string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"request_id": id, "status": "completed",
		"images": []any{map[string]any{"url": elsewhere + "/stolen.png"}},
	})
	req, err := http.NewRequest(http.MethodPost, hookURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", "msg_"+id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestForgedDeliveryIsNotTrusted(t *testing.T) {
	for _, tt := range []struct {
		name   string
		secret string
		code   int // the receiver's answer to the forgery
		// statusAfterForgery: status GETs the forgery causes (unsigned: one
		// wake-up confirmation; signed: refused, none).
		statusAfterForgery int
		statusTotal        int
	}{
		{"unsigned", "", http.StatusOK, 1, 2},
		{"signed", testSecret, http.StatusUnauthorized, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stolen atomic.Int32
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				stolen.Add(1)
				w.Header().Set("Content-Type", "image/png")
				_, _ = w.Write([]byte("\x89PNG\r\n\x1a\nnot the real asset"))
			}))
			defer elsewhere.Close()

			// Queued for 1s: ample time to forge while it is.
			r := newRig(t, time.Second, 100*time.Millisecond, tt.secret)
			submitted := r.ev.on(events.Submitted)
			done := r.start(context.Background(), r.spec())
			id := within(t, submitted, 5*time.Second, "submit").RequestID

			if code := forge(t, r.hook.URL(), id, elsewhere.URL); code != tt.code {
				t.Fatalf("the receiver answered the forgery %d, want %d", code, tt.code)
			}
			resolved := func() {
				select {
				case o := <-done:
					t.Fatalf("the forgery resolved the job: %+v, %v (forged URL fetched %d times)", o.res, o.err, stolen.Load())
				default:
				}
			}
			eventually(t, "the confirming status GET", func() bool {
				resolved()
				return r.api.Count(hftest.StatusEP) >= tt.statusAfterForgery
			})
			time.Sleep(50 * time.Millisecond) // room for a wrong move
			resolved()
			if j, _ := r.api.Job(id); j.Status != higgsfield.StatusQueued {
				t.Fatalf("job is %s: the forgery came too late to test anything", j.Status)
			}
			if n := r.api.Count(hftest.StatusEP); n != tt.statusAfterForgery {
				t.Fatalf("%d status GETs after the forgery, want %d", n, tt.statusAfterForgery)
			}
			for _, h := range r.api.Hits() {
				if h.Endpoint == hftest.StatusEP && h.Status != http.StatusOK {
					t.Fatalf("status GET answered %d", h.Status)
				}
			}

			// The true delivery still resolves it, from the real asset host.
			o := within(t, done, 5*time.Second, "result")
			if o.err != nil {
				t.Fatal(o.err)
			}
			if o.res.NotifiedBy != await.ByWebhook {
				t.Fatalf("notified by %q, want webhook", o.res.NotifiedBy)
			}
			r.checkDownloaded(t, o.res)
			if n := stolen.Load(); n != 0 {
				t.Fatalf("the forged URL was fetched %d times", n)
			}
			if n := r.api.Count(hftest.StatusEP); n != tt.statusTotal {
				t.Fatalf("%d status GETs in all, want %d", n, tt.statusTotal)
			}
			if st := r.recv.Stats(); tt.secret != "" && (st.Rejected != 1 || st.Accepted != 1) {
				t.Fatalf("receiver stats %+v: want the forgery rejected, the true delivery accepted", st)
			}
		})
	}
}

func TestEndpointLostMidWait(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(r *rig)
	}{
		{"server closed", func(r *rig) { _ = r.hook.Close() }},
		{"listener failed", func(r *rig) { _ = r.ep.Close() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Terminal 600ms after the submit: the endpoint is lost well
			// before the delivery.
			r := newRig(t, 500*time.Millisecond, 100*time.Millisecond, "")
			submitted := r.ev.on(events.Submitted)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			done := r.start(ctx, r.spec())
			within(t, submitted, 5*time.Second, "submit")
			tt.lose(r)
			within(t, r.hook.Done(), time.Second, "the server's Done")

			o := within(t, done, 8*time.Second, "result")
			took := o.at.Sub(start)
			t.Logf("resolved %s after the submit", took)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if o.res.NotifiedBy != await.ByPoll {
				t.Fatalf("notified by %q, want poll", o.res.NotifiedBy)
			}
			// await.Tight's first poll comes after 2s ±20%; the hourly
			// schedule would never have polled.
			if took > 4*time.Second {
				t.Fatalf("took %s: polling did not tighten", took)
			}
			r.checkDownloaded(t, o.res)
			if r.api.Deliveries() == 0 || r.recv.Stats().Received != 0 {
				t.Fatalf("fake attempted %d deliveries, receiver stats %+v: want attempts that never arrived", r.api.Deliveries(), r.recv.Stats())
			}
		})
	}
}

// TestNoLeakedGoroutines: once a job ends, whatever way, and the endpoint
// and the fake are closed, no goroutine started since the test began is left.
func TestNoLeakedGoroutines(t *testing.T) {
	tests := []struct {
		name            string
		queued, running time.Duration
		outcome         hftest.Outcome
		timeout         time.Duration
		interrupt       bool
		check           func(t *testing.T, r *rig, res job.Result, err error)
	}{
		{
			name: "success", queued: 10 * time.Millisecond, running: 20 * time.Millisecond,
			check: func(t *testing.T, r *rig, res job.Result, err error) {
				if err != nil || res.NotifiedBy != await.ByWebhook {
					t.Fatalf("result %+v, %v: want success via webhook", res, err)
				}
			},
		},
		{
			name: "failed outcome", queued: 10 * time.Millisecond, running: 20 * time.Millisecond,
			outcome: hftest.Outcome{Status: higgsfield.StatusFailed, Error: "boom"},
			check: func(t *testing.T, r *rig, res job.Result, err error) {
				var oe *job.OutcomeError
				if !errors.As(err, &oe) || oe.Status != higgsfield.StatusFailed || res.NotifiedBy != await.ByWebhook {
					t.Fatalf("result %+v, %v: want a failed outcome via webhook", res, err)
				}
			},
		},
		{
			name: "timeout", queued: time.Hour, running: time.Hour, timeout: 100 * time.Millisecond,
			check: func(t *testing.T, r *rig, res job.Result, err error) {
				var te *job.TimeoutError
				if !errors.As(err, &te) {
					t.Fatalf("err = %T %v, want *job.TimeoutError", err, err)
				}
			},
		},
		{
			name: "interrupt", queued: time.Hour, running: time.Hour, interrupt: true,
			check: func(t *testing.T, r *rig, res job.Result, err error) {
				var ie *job.InterruptedError
				if !errors.As(err, &ie) || !ie.Canceled || r.api.Count(hftest.Cancel) != 1 {
					t.Fatalf("err = %T %v, want *job.InterruptedError that canceled the request", err, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			r := newRig(t, tt.queued, tt.running, "")
			r.api.SetOutcome(tt.outcome)
			spec := r.spec()
			if tt.timeout > 0 {
				spec.Timeout = tt.timeout
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if tt.interrupt {
				submitted := r.ev.on(events.Submitted)
				go func() {
					<-submitted
					time.Sleep(50 * time.Millisecond) // waiting by then
					cancel(job.ErrInterrupt)
				}()
			}
			res, err := r.runner.Generate(ctx, spec)
			tt.check(t, r, res, err)
			if n := r.ev.count(events.Submitted); n != 1 {
				t.Fatalf("%d submitted events", n)
			}
			_ = r.hook.Close()
			r.api.Close()
			goleak.VerifyNone(t, ignore)
		})
	}

	t.Run("engine", func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		api := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(10*time.Millisecond, 20*time.Millisecond))
		defer api.Close()
		engineEnv(t, api, nil)
		port := freePort(t)
		ios, _, _, stderr := iostreams.Test()
		f := testenv.Factory(ios, "test")
		ctx := context.Background()
		eng, err := f.Engine(ctx, cmdutil.EngineOptions{Endpoint: &cmdutil.EndpointOptions{
			WebhookURL: "http://127.0.0.1:" + port, Listen: "127.0.0.1:" + port,
		}})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		res, err := eng.Runner.Generate(ctx, job.Spec{Model: whModel, Params: map[string]any{"prompt": "x"},
			Output: job.Output{Dir: dir, Template: download.Default}, Timeout: 20 * time.Second})
		eng.Close()
		if err != nil || res.NotifiedBy != await.ByWebhook {
			t.Fatalf("result %+v, %v: want success via webhook", res, err)
		}
		if j, _ := api.Job(res.RequestID); !strings.HasPrefix(j.Webhook, "http://127.0.0.1:"+port+"/hf/") {
			t.Fatalf("submitted with hf_webhook %q", j.Webhook)
		}
		if !strings.Contains(stderr.String(), "webhook endpoint ready at http://127.0.0.1:"+port) {
			t.Fatalf("stderr:\n%s", stderr)
		}
		// Closed means closed: the port is free again.
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatalf("the endpoint still holds its port after Engine.Close: %v", err)
		}
		_ = ln.Close()
		api.Close()
		goleak.VerifyNone(t, ignore)
	})

	// auto mode, ngrok cannot connect: a warning, then polling. The ngrok
	// SDK cannot be interrupted: after a failed connect its reconnect loop
	// sleeps out one backoff step (0.5 s) before it sees the closed session
	// (see pkg/tunnel's noLeaks), so this path gets a grace period.
	t.Run("engine, ngrok fallback", func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		api := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(10*time.Millisecond, 20*time.Millisecond))
		defer api.Close()
		engineEnv(t, api, ngrokEnv)
		ios, _, _, stderr := iostreams.Test()
		f := testenv.Factory(ios, "test")
		ctx := context.Background()
		eng, err := f.Engine(ctx, cmdutil.EngineOptions{PollInterval: 20 * time.Millisecond, Endpoint: &cmdutil.EndpointOptions{}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := eng.Runner.Generate(ctx, job.Spec{Model: whModel, Params: map[string]any{"prompt": "x"},
			Output: job.Output{Dir: t.TempDir(), Template: download.Default}, Timeout: 20 * time.Second})
		eng.Close()
		if err != nil || res.NotifiedBy != await.ByPoll {
			t.Fatalf("result %+v, %v: want success via poll", res, err)
		}
		if n := strings.Count(stderr.String(), "warning: no webhook endpoint"); n != 1 || strings.Contains(stderr.String(), "bad-token") {
			t.Fatalf("stderr (want one warning, no token):\n%s", stderr)
		}
		api.Close()
		start := time.Now()
		for err := goleak.Find(ignore); err != nil; err = goleak.Find(ignore) {
			if time.Since(start) > 3*time.Second {
				t.Fatalf("goroutines left %s after Engine.Close: %v", time.Since(start), err)
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Logf("the last goroutine ended %s after Engine.Close", time.Since(start).Round(time.Millisecond))
	})
}

// ngrokEnv points an ngrok endpoint at a connect address that refuses, so
// that opening it fails after the connect timeout.
var ngrokEnv = map[string]string{
	"NGROK_AUTHTOKEN": "bad-token", "HF_NGROK_CONNECT_URL": "127.0.0.1:1", "HF_NGROK_CONNECT_TIMEOUT": "300ms",
}

// engineEnv makes cmdutil's config see only the fake API and extra.
func engineEnv(t *testing.T, api *hftest.Server, extra map[string]string) {
	t.Helper()
	env := map[string]string{
		"HF_BASE_URL": api.URL, "HF_KEY": "kid:ksecret", "HF_CONFIG": "",
		"XDG_CONFIG_HOME": t.TempDir(), "XDG_STATE_HOME": t.TempDir(),
		"HF_WEBHOOK_SECRET": "", "HF_VIA": "", "HF_WEBHOOK_URL": "", "HF_LISTEN": "",
		"NGROK_AUTHTOKEN": "", "HF_NGROK_AUTHTOKEN": "", "HF_NGROK_URL": "", "HF_NGROK_CONNECT_URL": "",
		"HF_NGROK_ROOT_CAS": "", "HF_NGROK_CONNECT_TIMEOUT": "",
		"HTTPS_PROXY": "", "https_proxy": "", "ALL_PROXY": "", "all_proxy": "",
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
