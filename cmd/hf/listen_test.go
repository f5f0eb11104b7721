package main

// Testscript commands for hf listen and hf webhook: a recording app (the
// user's webhook handler), the fake API delivering to a URL read from a
// file, checks of what it sent against what the app got, waiting for a file,
// NDJSON lines, and the in-repo fake ngrok edge.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/signature"
	"github.com/hf-cli/hf/pkg/tunnel/ngroktest"
	"github.com/hf-cli/hf/pkg/webhook"
)

func init() {
	addFake := func(name, usage string, run func(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string)) {
		c := fakeCmds["outcome"]
		c.usage, c.neg, c.run = usage, false, run
		fakeCmds[name] = c
	}
	addFake("submit-hook", "submit-hook FILE", fakeSubmitHook)
	addFake("attempts", "attempts CODE...", fakeAttempts)
	addFake("sent-to", "sent-to APP [N]", fakeSentTo)
	addFake("sent-in", "sent-in FILE", fakeSentIn)
}

// fake submit-hook FILE: creates a job on the fake whose webhook is the URL
// on FILE's first line (hf listen's --ready-file), as an app submitting
// with hf_webhook does; sets $ID to its request id.
func fakeSubmitHook(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake submit-hook FILE")
	}
	hook, _, _ := strings.Cut(ts.ReadFile(args[0]), "\n")
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/higgsfield-ai/soul/standard?hf_webhook="+url.QueryEscape(hook), strings.NewReader(`{"prompt":"a cat"}`))
	ts.Check(err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Key test-key:test-secret")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	var st struct {
		RequestID string `json:"request_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.RequestID == "" {
		ts.Fatalf("submit: %s %v", resp.Status, err)
	}
	ts.Setenv("ID", st.RequestID)
}

// fake attempts CODE...: the fake's webhook attempts so far answered these
// codes, in order (0: no answer). It waits up to 10 s for enough attempts.
func fakeAttempts(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	var got []int
	poll(ts, func() bool { got = codesOf(srv.WebhookAttempts()); return len(got) >= len(args) },
		func() string {
			return fmt.Sprintf("the fake made %d webhook attempts %v, want %d", len(got), got, len(args))
		})
	if fmt.Sprint(got[:len(args)]) != "["+strings.Join(args, " ")+"]" {
		ts.Fatalf("webhook attempts answered %v, want %v", got, args)
	}
}

func codesOf(as []hftest.WebhookAttempt) []int {
	out := make([]int, len(as))
	for i, a := range as {
		out[i] = a.Code
	}
	return out
}

// fake sent-to APP [N]: the app got exactly N requests (default: as many as
// the fake made attempts), each a POST with the body byte for byte and the
// four signed headers of the fake's attempt of the same rank.
func fakeSentTo(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: fake sent-to APP [N]")
	}
	a := appNamed(ts, args[0])
	sent := srv.WebhookAttempts()
	want := len(sent)
	if len(args) == 2 {
		want = atoi(ts, args[1])
		// The fake records an attempt once it has read the answer, which
		// may be just after hf exited.
		poll(ts, func() bool { sent = srv.WebhookAttempts(); return len(sent) >= want },
			func() string { return fmt.Sprintf("the fake made %d webhook attempts, want %d", len(sent), want) })
	}
	got := a.requests()
	if len(got) != want {
		ts.Fatalf("app %s got %d requests, want %d", args[0], len(got), want)
	}
	for i, r := range got {
		if i >= len(sent) {
			ts.Fatalf("app %s got request %d, the fake sent only %d", args[0], i+1, len(sent))
		}
		if r.method != http.MethodPost || !bytes.Equal(r.body, sent[i].Body) {
			ts.Fatalf("app %s request %d: %s %q; the fake sent %q", args[0], i+1, r.method, r.body, sent[i].Body)
		}
		for _, k := range webhook.SignedHeaders {
			if g, w := r.header.Values(k), sent[i].Header.Values(k); strings.Join(g, "\n") != strings.Join(w, "\n") {
				ts.Fatalf("app %s request %d: %s %q, the fake sent %q", args[0], i+1, k, g, w)
			}
		}
	}
}

// fake sent-in FILE: FILE holds the body of the fake's last webhook attempt
// byte for byte, and its webhook-id and webhook-signature.
func fakeSentIn(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake sent-in FILE")
	}
	var sent []hftest.WebhookAttempt
	poll(ts, func() bool { sent = srv.WebhookAttempts(); return len(sent) > 0 },
		func() string { return "the fake made no webhook attempt" })
	last := sent[len(sent)-1]
	data := []byte(ts.ReadFile(args[0]))
	for _, want := range [][]byte{last.Body, []byte(last.Header.Get("webhook-id")), []byte(last.Header.Get("webhook-signature"))} {
		if !bytes.Contains(data, want) {
			ts.Fatalf("%s does not hold %q", args[0], want)
		}
	}
}

type appRequest struct {
	method string
	header http.Header
	body   []byte
}

// testApp is a webhook handler on loopback that records what reaches it and
// answers with its scripted codes (then 200).
type testApp struct {
	srv     *http.Server
	ln      net.Listener
	mu      sync.Mutex
	got     []appRequest
	answers []int
	delay   time.Duration
}

func (a *testApp) requests() []appRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appRequest(nil), a.got...)
}

type appsKey struct{}

func appNamed(ts *testscript.TestScript, name string) *testApp {
	apps, _ := ts.Value(appsKey{}).(*sync.Map)
	if apps != nil {
		if a, ok := apps.Load(name); ok {
			return a.(*testApp)
		}
	}
	ts.Fatalf("no app %q (start it with: app %s)", name, name)
	return nil
}

// app NAME [CODE...] [delay=D]: starts a webhook handler answering the
// given codes in turn (then 200), each after D; sets $NAME to its URL
// (http://127.0.0.1:PORT/webhooks).
// app NAME got N: waits up to 10 s until it got N requests, and fails if it
// got more.
// app NAME verify SECRET: every request it got carries a Standard Webhooks
// signature that signature.Verify accepts and that equals an HMAC-SHA256
// computed here from the spec.
func cmdApp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: app NAME [CODE...] [delay=D] | app NAME got N | app NAME verify SECRET")
	}
	name := args[0]
	switch {
	case len(args) == 3 && args[1] == "got":
		a, want := appNamed(ts, name), atoi(ts, args[2])
		poll(ts, func() bool { return len(a.requests()) >= want },
			func() string { return fmt.Sprintf("app %s got %d requests, want %d", name, len(a.requests()), want) })
		if n := len(a.requests()); n != want {
			ts.Fatalf("app %s got %d requests, want %d", name, n, want)
		}
		return
	case len(args) == 3 && args[1] == "verify":
		a := appNamed(ts, name)
		reqs := a.requests()
		if len(reqs) == 0 {
			ts.Fatalf("app %s got no request", name)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(args[2], "whsec_"))
		ts.Check(err)
		for i, r := range reqs {
			if err := signature.Verify(args[2], r.header, r.body, time.Now(), 0); err != nil {
				ts.Fatalf("app %s request %d: the verifier refuses it: %v", name, i+1, err)
			}
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(r.header.Get("webhook-id") + "." + r.header.Get("webhook-timestamp") + "."))
			mac.Write(r.body)
			if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.header.Get("webhook-signature") != want {
				ts.Fatalf("app %s request %d: webhook-signature %q, HMAC computed here %q", name, i+1, r.header.Get("webhook-signature"), want)
			}
		}
		return
	}
	a := &testApp{}
	for _, arg := range args[1:] {
		if d, ok := strings.CutPrefix(arg, "delay="); ok {
			a.delay = duration(ts, d)
			continue
		}
		a.answers = append(a.answers, atoi(ts, arg))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	a.ln = ln
	a.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		a.mu.Lock()
		a.got = append(a.got, appRequest{r.Method, r.Header.Clone(), body})
		code := http.StatusOK
		if len(a.answers) > 0 {
			code, a.answers = a.answers[0], a.answers[1:]
		}
		a.mu.Unlock()
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(code)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = a.srv.Serve(ln) }()
	ts.Defer(func() { _ = a.srv.Close(); <-done })
	apps, _ := ts.Value(appsKey{}).(*sync.Map)
	if apps == nil {
		ts.Fatalf("no app registry (setup)")
	}
	apps.Store(name, a)
	ts.Setenv(name, "http://"+ln.Addr().String()+"/webhooks")
}

// waitfile FILE: waits up to 10 s until FILE exists and is not empty.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	poll(ts, func() bool { fi, err := os.Stat(path); return err == nil && fi.Size() > 0 },
		func() string { return args[0] + " did not appear" })
}

// jsonline FILE N KEY WANT: line N (1-based) of FILE is one JSON object
// whose dotted KEY is WANT (as jsonfield, "present" included); "jsonline
// FILE N" only checks that it parses.
func cmdJSONLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || (len(args) != 2 && len(args) != 4) {
		ts.Fatalf("usage: jsonline FILE N [KEY WANT]")
	}
	lines := strings.Split(strings.TrimSuffix(ts.ReadFile(args[0]), "\n"), "\n")
	n := atoi(ts, args[1])
	if n < 1 || n > len(lines) {
		ts.Fatalf("%s has %d lines, want line %d", args[0], len(lines), n)
	}
	v, err := decodeOne(lines[n-1])
	if err != nil {
		ts.Fatalf("%s line %d: %v", args[0], n, err)
	}
	if _, ok := v.(map[string]any); !ok {
		ts.Fatalf("%s line %d is not a JSON object: %s", args[0], n, lines[n-1])
	}
	if len(args) == 4 {
		got, found := lookup(v, args[2])
		ok := found && scalar(got) == args[3]
		if args[3] == "present" {
			ok = found && got != nil && got != ""
		}
		if !ok {
			ts.Fatalf("%s line %d: %s is %s (found: %v), want %s", args[0], n, args[2], scalar(got), found, args[3])
		}
	}
}

type edgeKey struct{}

// ngrokedge start: runs the fake ngrok edge and points hf at it
// (NGROK_AUTHTOKEN, HF_NGROK_CONNECT_URL, HF_NGROK_ROOT_CAS); its endpoint
// URL is its loopback HTTP front, so the fake API can deliver through it.
// ngrokedge drop: cuts every agent session; ngrokedge refuse on|off: hangs
// up on new agent connections (reconnects fail) or not.
func cmdNgrokEdge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: ngrokedge start | drop | refuse on|off")
	}
	if args[0] == "start" {
		dir := ts.MkAbs(".ngrok-edge")
		ts.Check(os.MkdirAll(dir, 0o700))
		e, err := ngroktest.Start(ngroktest.Options{Dir: dir})
		ts.Check(err)
		ts.Defer(e.Close)
		edges, _ := ts.Value(edgeKey{}).(*sync.Map)
		edges.Store("edge", e)
		ts.Setenv("NGROK_AUTHTOKEN", "2fakeTokenValue_abcdefghijklmnop")
		ts.Setenv("HF_NGROK_CONNECT_URL", e.Addr)
		ts.Setenv("HF_NGROK_ROOT_CAS", e.CAFile)
		ts.Setenv("NGROK_FRONT", e.FrontURL)
		return
	}
	edges, _ := ts.Value(edgeKey{}).(*sync.Map)
	v, ok := edges.Load("edge")
	if !ok {
		ts.Fatalf("no edge: run ngrokedge start first")
	}
	e := v.(*ngroktest.Edge)
	switch {
	case args[0] == "drop" && len(args) == 1:
		e.Drop()
	case args[0] == "refuse" && len(args) == 2:
		on, err := strconv.ParseBool(map[string]string{"on": "true", "off": "false"}[args[1]])
		ts.Check(err)
		e.Refuse(on)
	default:
		ts.Fatalf("usage: ngrokedge start | drop | refuse on|off")
	}
}

// envfile VAR FILE: sets $VAR to FILE's first line.
func cmdEnvfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfile VAR FILE")
	}
	line, _, _ := strings.Cut(ts.ReadFile(args[1]), "\n")
	ts.Setenv(args[0], strings.TrimSpace(line))
}
