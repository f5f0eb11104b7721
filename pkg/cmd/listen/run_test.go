package listen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// syncBuffer is a bytes.Buffer safe to read while hf listen writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// start runs listenRun in the background on a Factory of fakes whose config
// holds values, with opts completed by mod; it returns when the ready file
// is there.
func start(t *testing.T, values map[string]any, mod func(*Options)) (url string, stdout, stderr *syncBuffer, cancel context.CancelCauseFunc, done chan error) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ios.Out, ios.ErrOut = stdout, stderr
	fake := testenv.NewFake(t, ios, "http://127.0.0.1:1", values)
	addr := freeAddr(t)
	opts := &Options{IO: ios, Config: fake.Config, Version: "test", WebhookURL: "http://" + addr, Listen: addr,
		ReadyFile: filepath.Join(t.TempDir(), "ready"), ReconnectTimeout: time.Minute, ForwardTimeout: 5 * time.Second}
	mod(opts)
	ctx, cancel := context.WithCancelCause(context.Background())
	done = make(chan error, 1)
	go func() { done <- listenRun(ctx, opts) }()
	t.Cleanup(func() { cancel(nil) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(opts.ReadyFile); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), stdout, stderr, cancel, done
		}
		select {
		case err := <-done:
			t.Fatalf("listenRun ended before ready: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wait(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("listenRun did not end within 10s")
		return nil
	}
}

func TestListenRunRelaysAndPrintsNDJSON(t *testing.T) {
	testenv.Isolate(t)
	srv := hftest.New(hftest.WithTiming(10*time.Millisecond, 10*time.Millisecond), hftest.WithWebhookSecret(secret))
	t.Cleanup(srv.Close)
	var got []byte
	var mu sync.Mutex
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = b
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(app.Close)

	hook, stdout, stderr, _, done := start(t, map[string]any{"webhook.secret": secret}, func(o *Options) {
		o.ForwardTo, o.JSON, o.MaxDeliveries = []string{app.URL}, true, 1
	})
	resp, err := http.Post(srv.URL+"/higgsfield-ai/soul/standard?hf_webhook="+url.QueryEscape(hook), "application/json", strings.NewReader(`{"prompt":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := wait(t, done); err != nil {
		t.Fatalf("listenRun: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != hook {
		t.Fatalf("stdout %q, want the URL then one JSON line", stdout.String())
	}
	var d struct {
		RequestID string `json:"request_id"`
		Verified  bool   `json:"verified"`
		Answer    int    `json:"answer"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &d); err != nil || !d.Verified || d.Answer != 202 {
		t.Fatalf("NDJSON %s: %v", lines[1], err)
	}
	sent := srv.WebhookAttempts()
	for deadline := time.Now().Add(5 * time.Second); len(sent) == 0 && time.Now().Before(deadline); sent = srv.WebhookAttempts() {
		time.Sleep(5 * time.Millisecond) // the fake records the attempt once it read the answer
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 1 || sent[0].Code != 202 || !bytes.Equal(got, sent[0].Body) {
		t.Fatalf("the fake saw %+v; the app got %q", sent, got)
	}
	if !strings.Contains(stderr.String(), "hf: answered 1 delivery; done") || strings.Contains(stderr.String(), "-->") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestListenRunCtrlC(t *testing.T) {
	testenv.Isolate(t)
	hook, _, stderr, cancel, done := start(t, nil, func(*Options) {})
	cancel(job.ErrInterrupt)
	err := wait(t, done)
	var silent *cmdutil.SilentError
	if !errors.As(err, &silent) || silent.Code != 130 {
		t.Fatalf("err = %v, want exit 130", err)
	}
	if !strings.Contains(stderr.String(), "hf: stopped after 0 deliveries") || !strings.Contains(stderr.String(), "deliveries are not verified") {
		t.Errorf("stderr:\n%s", stderr)
	}
	// The endpoint is gone.
	if _, err := (&http.Client{Timeout: time.Second}).Post(hook, "application/json", strings.NewReader("{}")); err == nil {
		t.Error("the endpoint still answers after Ctrl-C")
	}
}

func TestListenRunNeedsAnEndpoint(t *testing.T) {
	testenv.Isolate(t)
	ios, _, _, _ := iostreams.Test()
	fake := testenv.NewFake(t, ios, "http://127.0.0.1:1", nil)
	err := listenRun(context.Background(), &Options{IO: ios, Config: fake.Config, ReconnectTimeout: time.Minute, ForwardTimeout: time.Second})
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "needs a public endpoint") || !strings.Contains(fe.Hint, "NGROK_AUTHTOKEN") {
		t.Fatalf("err = %v (%T)", err, err)
	}
}
