package main

// End-to-end tests: testscript runs the scripts in testdata/script, where
// "hf" is this test binary re-executed as the CLI, against one hftest fake
// API per script. Custom commands drive the fake and check what hf did.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hf-cli/hf/pkg/cmd/root"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/tunnel/ngroktest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"hf": hfMain})
}

// hfMain is the hf binary. With HF_TEST_EXITFILE set, it writes its exit code
// there (removing any stale one first), so that "exitcode" can check it.
func hfMain() {
	exitFile := os.Getenv("HF_TEST_EXITFILE")
	if exitFile != "" {
		_ = os.Remove(exitFile)
	}
	code := root.Main(version, os.Args[1:])
	if exitFile != "" {
		if err := os.WriteFile(exitFile, []byte(strconv.Itoa(code)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "hf test: writing the exit file:", err)
		}
	}
	os.Exit(code)
}

type serverKey struct{}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/script",
		Setup: setup,
		Condition: func(cond string) (bool, error) {
			if cond == "root" { // root writes through permissions
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":  cmdExitcode,
			"fake":      cmdFake,
			"jsonfield": cmdJSONField,
			"envjson":   cmdEnvJSON,
			"jsonvalid": cmdJSONValid,
			"freeport":  cmdFreeport,
			"pngfile":   cmdPNGFile,
			"blackhole": cmdBlackhole,
			// hf listen and hf webhook (listen_test.go)
			"app":       cmdApp,
			"waitfile":  cmdWaitfile,
			"envfile":   cmdEnvfile,
			"jsonline":  cmdJSONLine,
			"ngrokedge": cmdNgrokEdge,
			// uploads, estimates, auth (inputs_test.go)
			"mode":          cmdMode,
			"ngroksessions": cmdNgrokSessions,
		},
	})
}

func setup(env *testscript.Env) error {
	srv := hftest.New(hftest.WithCredentials("test-key", "test-secret"),
		hftest.WithTiming(50*time.Millisecond, 100*time.Millisecond))
	env.Defer(srv.Close)
	env.Values[serverKey{}] = srv
	env.Values[appsKey{}] = &sync.Map{}
	env.Values[edgeKey{}] = &sync.Map{}
	work := env.WorkDir
	for k, v := range map[string]string{
		"HF_BASE_URL":      srv.URL,
		"FAKE_PORT":        srv.URL[strings.LastIndex(srv.URL, ":")+1:], // the fake API's port
		"HF_KEY":           "test-key:test-secret",
		"HOME":             filepath.Join(work, "home"),
		"XDG_STATE_HOME":   filepath.Join(work, "state"),
		"XDG_CONFIG_HOME":  filepath.Join(work, "config"),
		"HF_TEST_EXITFILE": filepath.Join(work, ".exitcode"),
		"NO_COLOR":         "1",
		"CI":               "true",
	} {
		env.Setenv(k, v)
	}
	// A race-enabled hf sleeps 1 s at exit by default; scripts run it often.
	if os.Getenv("GORACE") == "" {
		env.Setenv("GORACE", "atexit_sleep_ms=10")
	}
	return nil
}

func server(ts *testscript.TestScript) *hftest.Server {
	return ts.Value(serverKey{}).(*hftest.Server)
}

// exitcode N: the last hf run exited with N.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: exitcode N")
	}
	data, err := os.ReadFile(ts.Getenv("HF_TEST_EXITFILE"))
	if err != nil {
		ts.Fatalf("no exit code recorded (did hf run to the end?): %v", err)
	}
	if got := strings.TrimSpace(string(data)); got != args[0] {
		ts.Fatalf("hf exited with %s, want %s", got, args[0])
	}
}

var endpoints = []hftest.Endpoint{hftest.Submit, hftest.StatusEP, hftest.Cancel, hftest.Upload,
	hftest.Estimate, hftest.AssetEP, hftest.UploadPut}

func endpoint(ts *testscript.TestScript, name string) hftest.Endpoint {
	if !slices.Contains(endpoints, hftest.Endpoint(name)) {
		ts.Fatalf("unknown endpoint %q (known: %v)", name, endpoints)
	}
	return hftest.Endpoint(name)
}

func atoi(ts *testscript.TestScript, s string) int {
	n, err := strconv.Atoi(s)
	ts.Check(err)
	return n
}

func duration(ts *testscript.TestScript, s string) time.Duration {
	d, err := time.ParseDuration(s)
	ts.Check(err)
	return d
}

// fakeCmds are the subcommands of "fake": usage, whether "!" is allowed,
// and what they do.
type fakeCmd struct {
	usage string
	neg   bool
	run   func(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string)
}

var fakeCmds = map[string]fakeCmd{
	"outcome": {"outcome completed|failed|nsfw|canceled [message]", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: fake outcome STATUS [message]")
		}
		o := hftest.Outcome{Status: args[0]}
		if len(args) == 2 {
			o.Error = args[1]
		}
		srv.SetOutcome(o)
	}},
	"timing": {"timing QUEUED RUNNING", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: fake timing QUEUED RUNNING")
		}
		srv.SetTiming(duration(ts, args[0]), duration(ts, args[1]))
	}},
	"imagesize": {"imagesize W H", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: fake imagesize W H")
		}
		srv.SetImageSize(atoi(ts, args[0]), atoi(ts, args[1]))
	}},
	"fault":         {"fault ENDPOINT STATUS|drop|hang [times=N] [after] [retry-after=S] [truncate=N] [overlong=N] [delay=D] [body=JSON]", false, fakeFault},
	"charged":       {"charged N", false, fakeCharged},
	"hits":          {"hits ENDPOINT ==|>=|<= N", false, fakeHits},
	"waithits":      {"waithits ENDPOINT N", false, fakeWaitHits},
	"noauth-assets": {"noauth-assets", false, fakeNoAuthAssets},
	"resumed":       {"resumed", true, fakeResumed},
	"waitjob":       {"waitjob [STATUS]", false, fakeWaitJob},
	"lastid":        {"lastid [VAR]", false, fakeLastID},
	"lastkey":       {"lastkey [VAR]", false, fakeLastKey},
	"sha":           {"sha FILE", true, fakeSHA},
	"body":          {"body KEY JSON", false, fakeBody},
	"webhook":       {"webhook drop|delay D|dup N [times=N]", false, fakeWebhook},
	"whsecret": {"whsecret SECRET", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: fake whsecret SECRET ('' sends unsigned)")
		}
		srv.SetWebhookSecret(args[0])
	}},
	"deliveries": {"deliveries ==|>=|<= N", false, fakeDeliveries},
	"redeliver": {"redeliver N", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: fake redeliver N (N unsigned copies of the newest job's status to its webhook)")
		}
		j, ok := newestJob(ts, srv)
		if !ok {
			ts.Fatalf("no job was submitted")
		}
		n, err := srv.Redeliver(j.ID, atoi(ts, args[0]))
		ts.Check(err)
		ts.Logf("%d of %s unsigned deliveries answered 2xx", n, args[0])
	}},
	"submitted-webhook": {"submitted-webhook none|present [PREFIX]", false, fakeSubmittedWebhook},
	"inflight":          {"inflight ==|<=|>= N", false, fakeInflight},
	"mark":              {"mark", false, fakeMark},
	"since-mark":        {"since-mark ==|<=|>= N", false, fakeSinceMark},
	"served":            {"served FILE...", false, fakeServed},
	"outcome-prompt":    {"outcome-prompt PROMPT=STATUS...", false, fakeOutcomePrompt},
	"bodyof":            {"bodyof PROMPT KEY JSON|asset-of:PROMPT", false, fakeBodyOf},
	"webhooks":          {"webhooks ==|<=|>= N", false, fakeWebhooks},
}

// fake SUBCOMMAND ...: drive the fake API or check what it saw.
func cmdFake(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: fake SUBCOMMAND ...")
	}
	c, ok := fakeCmds[args[0]]
	if !ok {
		var usages []string
		for _, c := range fakeCmds {
			usages = append(usages, "fake "+c.usage)
		}
		slices.Sort(usages)
		ts.Fatalf("unknown fake subcommand %q; usage:\n\t%s", args[0], strings.Join(usages, "\n\t"))
	}
	if neg && !c.neg {
		ts.Fatalf("unsupported: ! fake %s", args[0])
	}
	c.run(ts, server(ts), neg, args[1:])
}

func fakeFault(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: fake fault ENDPOINT STATUS|drop|hang [times=N] [after] [retry-after=S] [truncate=N] [overlong=N] [delay=D] [body=JSON]")
	}
	f := hftest.Fault{Endpoint: endpoint(ts, args[0])}
	for _, a := range args[1:] {
		key, val, _ := strings.Cut(a, "=")
		switch key {
		case "drop":
			f.Drop = true
		case "hang":
			f.Hang = true
		case "overlong":
			f.Overlong = atoi(ts, val)
		case "after":
			f.After = true
		case "times":
			f.Times = atoi(ts, val)
		case "retry-after":
			f.RetryAfter = val
		case "truncate":
			f.Truncate = int64(atoi(ts, val))
		case "delay":
			f.Delay = duration(ts, val)
		case "body":
			f.Body = val
		default:
			f.Status = atoi(ts, a)
		}
	}
	srv.Inject(f)
}

// fakeWebhook queues a delivery fault for the next jobs submitted with a
// webhook: drop, delay D (after the terminal moment), or dup N (N extra
// copies with the same webhook-id).
func fakeWebhook(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	const usage = "usage: fake webhook drop|delay D|dup N [times=N]"
	if len(args) == 0 {
		ts.Fatalf(usage)
	}
	var f hftest.WebhookFault
	rest := args[1:]
	switch args[0] {
	case "drop":
		f.Drop = true
	case "delay", "dup":
		if len(rest) == 0 {
			ts.Fatalf(usage)
		}
		if args[0] == "delay" {
			f.Delay = duration(ts, rest[0])
		} else {
			f.Duplicate = atoi(ts, rest[0])
		}
		rest = rest[1:]
	default:
		ts.Fatalf(usage)
	}
	for _, a := range rest {
		val, ok := strings.CutPrefix(a, "times=")
		if !ok {
			ts.Fatalf(usage)
		}
		f.Times = atoi(ts, val)
	}
	srv.InjectWebhook(f)
}

// compare checks got OP want for OP one of ==, >= and <=, failing with what.
func compare(ts *testscript.TestScript, what string, got int, op, want string) {
	n := atoi(ts, want)
	ok := map[string]bool{"==": got == n, ">=": got >= n, "<=": got <= n}
	res, known := ok[op]
	if !known {
		ts.Fatalf("unknown operator %q", op)
	}
	if !res {
		ts.Fatalf("%s %d, want %s %d", what, got, op, n)
	}
}

// fakeDeliveries counts the webhook POSTs the fake attempted, retries and
// duplicates included.
func fakeDeliveries(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake deliveries ==|>=|<= N")
	}
	compare(ts, "the fake attempted webhook deliveries:", srv.Deliveries(), args[0], args[1])
}

// fakeSubmittedWebhook: the newest job was submitted without hf_webhook
// (none), or with one (present), starting with PREFIX when given.
func fakeSubmittedWebhook(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) < 1 || len(args) > 2 || (args[0] != "none" && args[0] != "present") || (args[0] == "none" && len(args) == 2) {
		ts.Fatalf("usage: fake submitted-webhook none|present [PREFIX]")
	}
	j, ok := newestJob(ts, srv)
	if !ok {
		ts.Fatalf("no job was submitted")
	}
	switch {
	case args[0] == "none" && j.Webhook != "":
		ts.Fatalf("job %s was submitted with hf_webhook %q, want none", j.ID, j.Webhook)
	case args[0] == "present" && j.Webhook == "":
		ts.Fatalf("job %s was submitted without hf_webhook", j.ID)
	case len(args) == 2 && !strings.HasPrefix(j.Webhook, args[1]):
		ts.Fatalf("job %s was submitted with hf_webhook %q, want it to start with %q", j.ID, j.Webhook, args[1])
	}
}

func fakeCharged(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake charged N")
	}
	if got, want := srv.Charged(), atoi(ts, args[0]); got != want {
		ts.Fatalf("the fake charged %d generations, want %d", got, want)
	}
}

func fakeHits(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: fake hits ENDPOINT ==|>=|<= N")
	}
	got, want := srv.Count(endpoint(ts, args[0])), atoi(ts, args[2])
	ok := map[string]bool{"==": got == want, ">=": got >= want, "<=": got <= want}
	res, known := ok[args[1]]
	if !known {
		ts.Fatalf("unknown operator %q", args[1])
	}
	if !res {
		ts.Fatalf("%s was hit %d times, want %s %d", args[0], got, args[1], want)
	}
}

// poll calls cond every 10 ms for up to 10 s and fails with what() if it
// never holds.
func poll(ts *testscript.TestScript, cond func() bool, what func() string) {
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.Fatalf("gave up after 10s: %s", what())
		}
	}
}

func fakeWaitHits(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake waithits ENDPOINT N")
	}
	ep, want := endpoint(ts, args[0]), atoi(ts, args[1])
	poll(ts, func() bool { return srv.Count(ep) >= want },
		func() string { return fmt.Sprintf("%s hit %d times, want %d", ep, srv.Count(ep), want) })
}

func fakeNoAuthAssets(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	n := 0
	for _, h := range srv.Hits() {
		if h.Endpoint != hftest.AssetEP {
			continue
		}
		n++
		if h.Authorization != "" {
			ts.Fatalf("GET %s carried Authorization %q to the asset host", h.Path, h.Authorization)
		}
	}
	if n == 0 {
		ts.Fatalf("the asset host was never hit")
	}
}

// fakeResumed: some asset GET asked for a Range starting after byte 0.
func fakeResumed(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string) {
	var ranges []string
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.AssetEP && h.Range != "" {
			ranges = append(ranges, h.Range)
		}
	}
	resumed := slices.ContainsFunc(ranges, func(r string) bool {
		start, ok := strings.CutPrefix(r, "bytes=")
		start, _, _ = strings.Cut(start, "-")
		n, err := strconv.Atoi(start)
		return ok && err == nil && n > 0
	})
	if resumed == neg {
		ts.Fatalf("asset Range headers seen: %q", ranges)
	}
}

func newestJob(ts *testscript.TestScript, srv *hftest.Server) (hftest.Job, bool) {
	jobs := srv.Jobs()
	if len(jobs) == 0 {
		return hftest.Job{}, false
	}
	return jobs[len(jobs)-1], true
}

func fakeWaitJob(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) > 1 {
		ts.Fatalf("usage: fake waitjob [STATUS]")
	}
	var j hftest.Job
	var ok bool
	poll(ts, func() bool {
		j, ok = newestJob(ts, srv)
		return ok && (len(args) == 0 || j.Status == args[0])
	}, func() string {
		if !ok {
			return "no job was submitted"
		}
		return fmt.Sprintf("job %s is %s, want %s", j.ID, j.Status, args[0])
	})
	ts.Setenv("ID", j.ID)
}

func fakeLastID(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) > 1 {
		ts.Fatalf("usage: fake lastid [VAR]")
	}
	j, ok := newestJob(ts, srv)
	if !ok {
		ts.Fatalf("no job was submitted")
	}
	name := "ID"
	if len(args) == 1 {
		name = args[0]
	}
	ts.Setenv(name, j.ID)
}

// fake lastkey [VAR]: sets $VAR (default KEY) to the Idempotency-Key of the
// newest submit attempt.
func fakeLastKey(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) > 1 {
		ts.Fatalf("usage: fake lastkey [VAR]")
	}
	name := "KEY"
	if len(args) == 1 {
		name = args[0]
	}
	hits := srv.Hits()
	for i := len(hits) - 1; i >= 0; i-- {
		if hits[i].Endpoint == hftest.Submit && hits[i].IdempotencyKey != "" {
			ts.Setenv(name, hits[i].IdempotencyKey)
			return
		}
	}
	ts.Fatalf("no submit carried an Idempotency-Key")
}

func fakeSHA(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake sha FILE")
	}
	j, ok := newestJob(ts, srv)
	if !ok {
		ts.Fatalf("no job was submitted")
	}
	sum := sha256.Sum256([]byte(ts.ReadFile(args[0])))
	got := hex.EncodeToString(sum[:])
	var want []string
	for _, a := range j.Assets {
		want = append(want, a.SHA256)
	}
	if slices.Contains(want, got) == neg {
		ts.Fatalf("sha256 of %s is %s; the newest job's assets: %v", args[0], got, want)
	}
}

// fakeBody: the newest job's request body has KEY (dotted) equal to the
// JSON value WANT, compared as compact JSON ("42" is a number, '"42"' a string).
func fakeBody(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake body KEY JSON")
	}
	j, ok := newestJob(ts, srv)
	if !ok {
		ts.Fatalf("no job was submitted")
	}
	got, found := lookup(j.Body, args[0])
	want, err := decodeOne(args[1])
	ts.Check(err)
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !found || !bytes.Equal(gotJSON, wantJSON) {
		all, _ := json.Marshal(j.Body)
		ts.Fatalf("body field %s is %s (found: %v), want %s; body: %s", args[0], gotJSON, found, wantJSON, all)
	}
}

// freeport VAR: sets $VAR to a loopback TCP port that was free a moment ago.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ts.Check(ln.Close())
	ts.Setenv(args[0], strconv.Itoa(port))
}

// blackholes are the silent listeners of "blackhole", by address.
var blackholes sync.Map // string → *atomic.Int64 (connections accepted)

// blackhole VAR: sets $VAR to the address of a loopback listener that
// accepts connections and never answers (an ngrok edge that hangs), closed at
// the end of the script. blackhole VAR wait N: waits until it has accepted N
// connections.
func cmdBlackhole(ts *testscript.TestScript, neg bool, args []string) {
	switch {
	case !neg && len(args) == 1:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		var accepted atomic.Int64
		var conns []net.Conn
		var mu sync.Mutex
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				accepted.Add(1)
			}
		}()
		addr := ln.Addr().String()
		blackholes.Store(addr, &accepted)
		ts.Defer(func() {
			_ = ln.Close()
			<-done
			mu.Lock()
			for _, c := range conns {
				_ = c.Close()
			}
			mu.Unlock()
			blackholes.Delete(addr)
		})
		ts.Setenv(args[0], addr)
	case !neg && len(args) == 3 && args[1] == "wait":
		v, ok := blackholes.Load(ts.Getenv(args[0]))
		if !ok {
			ts.Fatalf("$%s is not a blackhole", args[0])
		}
		accepted, want := v.(*atomic.Int64), int64(atoi(ts, args[2]))
		poll(ts, func() bool { return accepted.Load() >= want },
			func() string {
				return fmt.Sprintf("the blackhole accepted %d connections, want %d", accepted.Load(), want)
			})
	default:
		ts.Fatalf("usage: blackhole VAR [wait N]")
	}
}

// pngfile FILE: FILE starts with the PNG signature and decodes as a PNG
// image header. With "!", it does not.
func cmdPNGFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: pngfile FILE")
	}
	data := []byte(ts.ReadFile(args[0]))
	sig := []byte("\x89PNG\r\n\x1a\n")
	var err error
	if !bytes.HasPrefix(data, sig) {
		err = fmt.Errorf("first bytes %q, want the PNG signature %q", data[:min(len(data), len(sig))], sig)
	} else if _, err = png.DecodeConfig(bytes.NewReader(data)); err != nil {
		err = fmt.Errorf("not a PNG: %v", err)
	}
	if (err == nil) == neg {
		if neg {
			ts.Fatalf("%s is a PNG", args[0])
		}
		ts.Fatalf("%s: %v", args[0], err)
	}
}

// jsonfield FILE KEY WANT: the value at the dotted KEY (array elements by
// index, "len" for an array's length) is WANT; WANT "present" means any value
// but null and "". With "!", the value differs (or, for "present", is absent).
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonfield FILE KEY WANT")
	}
	v, err := decodeOne(ts.ReadFile(args[0]))
	if err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	got, found := lookup(v, args[1])
	var ok bool
	if args[2] == "present" {
		ok = found && got != nil && got != ""
	} else {
		ok = found && scalar(got) == args[2]
	}
	if ok == neg {
		ts.Fatalf("%s: %s is %s (found: %v), want %s%s", args[0], args[1], scalar(got), found, map[bool]string{true: "not "}[neg], args[2])
	}
}

// envjson VAR FILE KEY [N]: set VAR to the JSON value at KEY in FILE (its
// first N characters with N).
func cmdEnvJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: envjson VAR FILE KEY [N]")
	}
	v, err := decodeOne(ts.ReadFile(args[1]))
	if err != nil {
		ts.Fatalf("%s: %v", args[1], err)
	}
	got, found := lookup(v, args[2])
	if !found {
		ts.Fatalf("%s: no %s", args[1], args[2])
	}
	val := scalar(got)
	if len(args) == 4 {
		val = val[:min(len(val), atoi(ts, args[3]))]
	}
	ts.Setenv(args[0], val)
}

func lookup(v any, key string) (any, bool) {
	if key == "" || key == "." {
		return v, true
	}
	for _, k := range strings.Split(key, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			if k == "len" {
				v = json.Number(strconv.Itoa(len(x)))
				continue
			}
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// decodeOne decodes s as exactly one JSON value, with nothing but white
// space around it.
func decodeOne(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v\n%s", err, s)
	}
	if rest := s[dec.InputOffset():]; len(bytes.TrimSpace([]byte(rest))) > 0 {
		return nil, fmt.Errorf("more after the JSON value: %q", rest)
	}
	return v, nil
}

// jsonvalid FILE: FILE holds exactly one JSON value and nothing else.
func cmdJSONValid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: jsonvalid FILE")
	}
	_, err := decodeOne(ts.ReadFile(args[0]))
	if (err == nil) == neg {
		ts.Fatalf("%s: %v", args[0], err)
	}
}

// fakeInflight: the most jobs the fake had queued or running at the same
// moment, from their creation and terminal times.
func fakeInflight(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake inflight ==|<=|>= N")
	}
	type edge struct {
		t time.Time
		d int
	}
	var edges []edge
	for _, j := range srv.Jobs() {
		end := j.TerminalAt
		if end.IsZero() {
			end = time.Now()
		}
		edges = append(edges, edge{j.CreatedAt, 1}, edge{end, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.d - b.d
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.d
		most = max(most, n)
	}
	compare(ts, "the fake had at most this many requests in flight:", most, args[0], args[1])
}

// fake mark remembers how many requests the fake has seen; fake since-mark
// compares the count since then (API and asset hosts alike).
func fakeMark(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	ts.Setenv("HF_TEST_MARK", strconv.Itoa(len(srv.Hits())))
}

func fakeSinceMark(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake since-mark ==|<=|>= N")
	}
	mark := atoi(ts, ts.Getenv("HF_TEST_MARK"))
	hits := srv.Hits()
	var seen []string
	for _, h := range hits[mark:] {
		seen = append(seen, h.Method+" "+h.Path)
	}
	compare(ts, fmt.Sprintf("requests since the mark (%q):", seen), len(hits)-mark, args[0], args[1])
}

// fakeServed: every FILE has the sha256 of some output the fake served.
func fakeServed(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: fake served FILE...")
	}
	served := map[string]bool{}
	for _, j := range srv.Jobs() {
		for _, a := range j.Assets {
			served[a.SHA256] = true
		}
	}
	for _, f := range args {
		sum := sha256.Sum256([]byte(ts.ReadFile(f)))
		if !served[hex.EncodeToString(sum[:])] {
			ts.Fatalf("%s (sha256 %x) is not an output the fake served", f, sum)
		}
	}
}

// fakeOutcomePrompt: jobs created afterwards whose prompt is PROMPT end
// with STATUS (for each PROMPT=STATUS); the others complete.
func fakeOutcomePrompt(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: fake outcome-prompt PROMPT=STATUS...")
	}
	outcomes := map[string]string{}
	for _, a := range args {
		p, st, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("usage: fake outcome-prompt PROMPT=STATUS...")
		}
		outcomes[p] = st
	}
	srv.SetOutcomeFunc(func(_ string, body map[string]any) hftest.Outcome {
		if st, ok := outcomes[fmt.Sprint(body["prompt"])]; ok {
			return hftest.Outcome{Status: st, Error: "failed on purpose"}
		}
		return hftest.Outcome{}
	})
}

func jobByPrompt(ts *testscript.TestScript, srv *hftest.Server, prompt string) hftest.Job {
	var found []hftest.Job
	for _, j := range srv.Jobs() {
		if j.Body["prompt"] == prompt {
			found = append(found, j)
		}
	}
	if len(found) == 0 {
		ts.Fatalf("no job was submitted with prompt %q", prompt)
	}
	return found[len(found)-1]
}

// fakeBodyOf: the newest job with prompt PROMPT has KEY equal to the JSON
// value WANT, or, for asset-of:OTHER, to the URL of the first output of the
// newest job with prompt OTHER.
func fakeBodyOf(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: fake bodyof PROMPT KEY JSON|asset-of:PROMPT")
	}
	j := jobByPrompt(ts, srv, args[0])
	var want any
	if other, ok := strings.CutPrefix(args[2], "asset-of:"); ok {
		o := jobByPrompt(ts, srv, other)
		if len(o.Assets) == 0 {
			ts.Fatalf("the job with prompt %q has no outputs", other)
		}
		want = o.Assets[0].URL
	} else {
		var err error
		want, err = decodeOne(args[2])
		ts.Check(err)
	}
	got, found := lookup(j.Body, args[1])
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !found || !bytes.Equal(gotJSON, wantJSON) {
		ts.Fatalf("body field %s of the %q job is %s (found: %v), want %s", args[1], args[0], gotJSON, found, wantJSON)
	}
}

// fakeWebhooks: how many distinct hf_webhook URLs the jobs were submitted
// with (one endpoint for a whole batch gives 1).
func fakeWebhooks(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake webhooks ==|<=|>= N")
	}
	urls := map[string]bool{}
	for _, j := range srv.Jobs() {
		if j.Webhook != "" {
			urls[j.Webhook] = true
		}
	}
	compare(ts, "distinct webhook URLs:", len(urls), args[0], args[1])
}

// ngroksessions OP N: the fake ngrok edge (ngrokedge start) has seen OP N
// agent sessions.
func cmdNgrokSessions(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: ngroksessions ==|<=|>= N")
	}
	edges, _ := ts.Value(edgeKey{}).(*sync.Map)
	v, ok := edges.Load("edge")
	if !ok {
		ts.Fatalf("no edge: run ngrokedge start first")
	}
	compare(ts, "ngrok agent sessions:", len(v.(*ngroktest.Edge).Auths()), args[0], args[1])
}
