// Package soak proves that hf loses nothing under faults and load: a chaos
// soak that drives hundreds of generations through the real command code
// against the hftest fake with faults drawn from a fixed seed, and several
// hf processes appending to one journal at once.
//
// Faults in hftest are global FIFO queues per endpoint, and runs are
// concurrent, so a fault injected while planning run 17 may be consumed by
// run 18. The soak therefore runs in waves: each wave's faults are injected
// before its runs start, at most three per endpoint (below every retry
// limit: submit makes 5 attempts, a download 6), and leftovers are drained
// before the next wave. Every assertion is an invariant that must hold for
// every run whichever run consumed which fault.
//
// Run: go test -race -v ./internal/soak/ (SOAK_SLOWEST=1 also logs the
// stderr of the five slowest runs).
package soak

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/iostreams"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/cmd/root"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

const (
	soakSeed1, soakSeed2 = 0x5eed, 2025
	waves                = 26
	waveSize             = 8 // runs of one wave go at once: the concurrency bound
	apiKey, apiSecret    = "soak-key", "soak-secret"
	imageModel           = "higgsfield-ai/soul/standard"
	videoModel           = "kling-video/v2.1/pro/text-to-video"
	maxFaultsPerEndpoint = 3 // per wave; below submit's 5 attempts and a download's 5 retries
)

// exitFor is the exit code a final status implies (DESIGN.md).
var exitFor = map[string]int{"completed": root.ExitOK, "failed": root.ExitFailed, "nsfw": root.ExitNSFW, "canceled": root.ExitCanceled}

const failMessage = "soak: the model failed on purpose"

// plan is one generation of the soak.
type plan struct {
	idx, wave int
	prompt    string
	outcome   string // completed, failed, nsfw, canceled
	model     string
	images    int  // num_images asked for (image model)
	webhook   bool // --webhook-url/--listen, else --via poll
	slow      bool // its wave has slow jobs
	forged    bool // a forged delivery is posted to its receiver
	faults    []string
	dir, addr string
}

// run is what one generation did.
type run struct {
	*plan
	code           int
	stdout, stderr string
	res            job.Result
	resErr         error
	took           time.Duration
	forge          forgeReport
}

// forgeReport is what became of the forged deliveries of one run.
type forgeReport struct {
	hookSeen bool  // the job and its webhook URL were seen while the run went on
	hookCode int   // answer to the forged body on the secret path, 0 if none
	hookErr  error // e.g. the run had already closed its endpoint
	randCode int   // answer to a POST on a random path of the same endpoint
	randErr  error
}

type weighted struct {
	name   string
	weight int
}

func pick(rng *mrand.Rand, table []weighted) string {
	total := 0
	for _, w := range table {
		total += w.weight
	}
	n := rng.IntN(total)
	for _, w := range table {
		if n < w.weight {
			return w.name
		}
		n -= w.weight
	}
	panic("unreachable")
}

var (
	outcomeTable = []weighted{{"completed", 70}, {"failed", 10}, {"nsfw", 10}, {"canceled", 10}}
	faultCount   = []weighted{{"0", 30}, {"1", 40}, {"2", 30}}
	faultTable   = []weighted{
		{"submit_5xx", 6}, {"submit_429", 3}, {"submit_429_retry_after", 1}, {"submit_drop", 4},
		{"submit_after_500", 4}, {"submit_after_drop", 4},
		{"status_5xx", 5}, {"status_drop", 5},
		{"asset_truncate", 5}, {"asset_drop", 4}, {"asset_5xx", 4},
		{"status_429", 2}, {"asset_429", 2}, {"submit_5xx_burst", 2}, {"asset_drop_burst", 2},
		{"webhook_drop", 4}, {"webhook_delay", 4}, {"webhook_duplicate", 4},
	}
)

// waveFaults is what one wave injects.
type waveFaults struct {
	api      []hftest.Fault
	webhook  []hftest.WebhookFault
	count    map[hftest.Endpoint]int
	webhooks int
}

// add queues a fault of kind for the wave, or reports that the wave cannot
// take it (its endpoint is at the cap, or it does not apply to p).
func (wf *waveFaults) add(rng *mrand.Rand, kind string, p *plan, webhookRuns int, retryAfterUsed *int) bool {
	five := []int{500, 502, 503}[rng.IntN(3)]
	var f hftest.Fault
	switch kind {
	case "submit_5xx":
		f = hftest.Fault{Endpoint: hftest.Submit, Status: five}
	case "submit_429":
		f = hftest.Fault{Endpoint: hftest.Submit, Status: http.StatusTooManyRequests}
	case "submit_429_retry_after":
		if *retryAfterUsed >= 3 { // each costs a whole second
			return false
		}
		f = hftest.Fault{Endpoint: hftest.Submit, Status: http.StatusTooManyRequests, RetryAfter: "1"}
	case "submit_drop":
		f = hftest.Fault{Endpoint: hftest.Submit, Drop: true}
	case "submit_after_500":
		f = hftest.Fault{Endpoint: hftest.Submit, After: true, Status: five}
	case "submit_after_drop":
		f = hftest.Fault{Endpoint: hftest.Submit, After: true, Drop: true}
	case "status_5xx":
		f = hftest.Fault{Endpoint: hftest.StatusEP, Status: five}
	case "status_drop":
		f = hftest.Fault{Endpoint: hftest.StatusEP, Drop: true}
	case "status_429":
		f = hftest.Fault{Endpoint: hftest.StatusEP, Status: http.StatusTooManyRequests}
	case "asset_429":
		f = hftest.Fault{Endpoint: hftest.AssetEP, Status: http.StatusTooManyRequests}
	case "submit_5xx_burst": // three in a row
		f = hftest.Fault{Endpoint: hftest.Submit, Status: five, Times: maxFaultsPerEndpoint}
	case "asset_drop_burst":
		f = hftest.Fault{Endpoint: hftest.AssetEP, Drop: true, Times: maxFaultsPerEndpoint}
	case "asset_truncate":
		f = hftest.Fault{Endpoint: hftest.AssetEP, Truncate: 1 + rng.Int64N(8192)}
	case "asset_drop":
		f = hftest.Fault{Endpoint: hftest.AssetEP, Drop: true}
	case "asset_5xx":
		f = hftest.Fault{Endpoint: hftest.AssetEP, Status: five}
	case "webhook_drop", "webhook_delay", "webhook_duplicate":
		// A webhook fault is taken by the next job created with a webhook
		// URL: keep no more than the wave has webhook runs.
		if !p.webhook || wf.webhooks >= webhookRuns {
			return false
		}
		var w hftest.WebhookFault
		switch kind {
		case "webhook_drop":
			w.Drop = true
		case "webhook_delay":
			w.Delay = time.Duration(50+rng.IntN(350)) * time.Millisecond
		default:
			w.Duplicate = 1 + rng.IntN(3)
		}
		wf.webhook = append(wf.webhook, w)
		wf.webhooks++
		return true
	default:
		panic("unknown fault " + kind)
	}
	times := max(f.Times, 1)
	if wf.count[f.Endpoint]+times > maxFaultsPerEndpoint {
		return false
	}
	if f.RetryAfter != "" {
		*retryAfterUsed++
	}
	wf.count[f.Endpoint] += times
	wf.api = append(wf.api, f)
	return true
}

// isFaultHit reports whether a hit was answered by an injected fault that
// shows in its status: a dropped connection (0) or a 5xx/429, which the fake
// never answers on its own.
func isFaultHit(h hftest.Hit) bool {
	return h.Status == 0 || h.Status >= 500 || h.Status == http.StatusTooManyRequests
}

func TestChaosSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos soak skipped in -short mode")
	}
	start := time.Now()
	srv := hftest.New(hftest.WithCredentials(apiKey, apiSecret), hftest.WithTiming(20*time.Millisecond, 40*time.Millisecond))
	defer srv.Close()
	srv.SetImageSize(96, 96) // ~37 KB PNGs: rendering them under -race stays cheap
	srv.SetOutcomeFunc(func(_ string, body map[string]any) hftest.Outcome {
		p, _ := body["prompt"].(string)
		_, o, _ := strings.Cut(p, "outcome=")
		switch o {
		case "failed":
			return hftest.Outcome{Status: "failed", Error: failMessage}
		case "nsfw", "canceled":
			return hftest.Outcome{Status: o}
		}
		return hftest.Outcome{}
	})

	// Forged deliveries point at this listener: nothing may ever fetch from it.
	var forgedFetches atomic.Int64
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forgedFetches.Add(1)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte("forged bytes"))
	}))
	defer counter.Close()

	tmp := t.TempDir()
	state, runsRoot := filepath.Join(tmp, "state"), filepath.Join(tmp, "runs")
	// Nothing from the developer's environment may steer the runs.
	for _, k := range config.EnvVars() {
		t.Setenv(k, "")
	}
	for k, v := range map[string]string{
		"HF_TEST_POLL_INTERVAL": "20ms", // the fake is on loopback; --poll-interval has a 1s floor
		"HF_BASE_URL":           srv.URL,
		"HF_KEY":                apiKey + ":" + apiSecret,
		"XDG_STATE_HOME":        state,
		"XDG_CONFIG_HOME":       filepath.Join(tmp, "config"),
		"HOME":                  filepath.Join(tmp, "home"),
		"NO_COLOR":              "1",
		"CI":                    "",
	} {
		t.Setenv(k, v)
	}

	rng := mrand.New(mrand.NewPCG(soakSeed1, soakSeed2))
	var pts ports
	injected := tally{}     // by kind, as planned (a burst counts once)
	faultAnswers := tally{} // answers replaced by a fault, by endpoint
	drained := tally{}
	retryAfterUsed := 0
	slowRuns := 0
	var runs []*run
	apiClient := &http.Client{Timeout: 5 * time.Second}

	for w := range waves {
		// Timing of the wave's jobs; about one wave in six has slow jobs.
		slow := rng.IntN(6) == 0
		queued := time.Duration(rng.IntN(41)) * time.Millisecond
		running := time.Duration(20+rng.IntN(61)) * time.Millisecond
		if slow {
			queued = time.Duration(150+rng.IntN(100)) * time.Millisecond
			running = time.Duration(300+rng.IntN(300)) * time.Millisecond
		}
		srv.SetTiming(queued, running)

		plans := make([]*plan, waveSize)
		webhookRuns := 0
		for k := range plans {
			p := &plan{idx: w*waveSize + k, wave: w, slow: slow, model: imageModel, images: 1}
			p.outcome = pick(rng, outcomeTable)
			p.prompt = fmt.Sprintf("soak-%03d outcome=%s", p.idx, p.outcome)
			switch n := rng.IntN(10); {
			case n == 0:
				p.model = videoModel
			case n <= 2:
				p.images = 2 + rng.IntN(2)
			}
			p.webhook = rng.IntN(2) == 0
			if p.webhook {
				webhookRuns++
				p.addr = pts.take(t)
				// Forging needs the receiver up for a while: webhook runs of slow waves.
				p.forged = slow && rng.IntN(2) == 0
			}
			p.dir = filepath.Join(runsRoot, fmt.Sprintf("run-%03d", p.idx))
			plans[k] = p
		}
		wf := &waveFaults{count: map[hftest.Endpoint]int{}}
		for _, p := range plans {
			n := int(pick(rng, faultCount)[0] - '0')
			for range n {
				kind := pick(rng, faultTable)
				if wf.add(rng, kind, p, webhookRuns, &retryAfterUsed) {
					p.faults = append(p.faults, kind)
					injected[kind]++
				}
			}
			if p.forged {
				p.faults = append(p.faults, "forged_webhook")
				injected["forged_webhook"]++
			}
			if p.slow {
				slowRuns++
			}
		}
		for _, f := range wf.api {
			srv.Inject(f)
		}
		for ep, n := range wf.count {
			faultAnswers[string(ep)] += n
		}
		faultAnswers["webhook"] += len(wf.webhook)
		for _, f := range wf.webhook {
			srv.InjectWebhook(f)
		}

		hitsBefore := len(srv.Hits())
		var wg sync.WaitGroup
		results := make([]*run, len(plans))
		for k, p := range plans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[k] = execute(srv, p, counter.URL)
			}()
		}
		wg.Wait()
		for _, p := range plans {
			if p.addr != "" {
				pts.release(p.addr)
			}
		}
		runs = append(runs, results...)

		// Every injected fault must be used up before the next wave, so that
		// no request ever meets more than maxFaultsPerEndpoint in a row.
		waveHits := srv.Hits()[hitsBefore:]
		got := map[hftest.Endpoint]int{}
		for _, h := range waveHits {
			switch {
			case h.Endpoint == hftest.AssetEP:
				got[h.Endpoint]++ // every asset request takes the next fault, if any
			case isFaultHit(h):
				got[h.Endpoint]++
			}
		}
		if got[hftest.Submit] != wf.count[hftest.Submit] {
			// Every run submits at least once, so all submit faults are taken.
			t.Errorf("wave %d: %d submit answers were faults, want the %d injected", w, got[hftest.Submit], wf.count[hftest.Submit])
		}
		for _, ep := range []hftest.Endpoint{hftest.StatusEP, hftest.AssetEP} {
			for left := wf.count[ep] - got[ep]; left > 0; left-- {
				u := srv.URL + "/requests/drain/status"
				if ep == hftest.AssetEP {
					u = srv.AssetURL + "/a/drain/0.png"
				}
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Header.Set("Authorization", "Key "+apiKey+":"+apiSecret)
				if resp, err := apiClient.Do(req); err == nil {
					resp.Body.Close()
				}
				drained[string(ep)]++
			}
		}
	}

	verify(t, srv, runs, state, runsRoot, forgedFetches.Load())

	// The figures.
	outcomes, notified, exitCodes := tally{}, tally{}, tally{}
	modes := tally{}
	retries, fallbacks := 0, 0
	forgedAccepted, forgedLate := 0, 0
	var slowest time.Duration
	for _, r := range runs {
		outcomes[r.res.Status]++
		exitCodes[fmt.Sprint(r.code)]++
		by := r.res.NotifiedBy
		if by == "" {
			by = "none(terminal at submit)"
		}
		notified[by]++
		if r.webhook {
			modes["webhook"]++
		} else {
			modes["poll"]++
		}
		retries += strings.Count(r.stderr, "retrying")
		if strings.Contains(r.stderr, "no webhook endpoint") {
			fallbacks++
		}
		if r.forged {
			switch {
			case r.forge.hookCode != 0:
				forgedAccepted++
			case r.forge.hookSeen:
				forgedLate++
			}
		}
		slowest = max(slowest, r.took)
	}
	requests := tally{}
	for _, h := range srv.Hits() {
		requests[string(h.Endpoint)]++
	}
	lines := []string{
		fmt.Sprintf("chaos soak: %d generations in %d waves of %d, seed (%#x, %d), %s", len(runs), waves, waveSize, soakSeed1, soakSeed2, time.Since(start).Round(time.Millisecond)),
		fmt.Sprintf("  requests to the fake: %d (%s); charged %d; webhook deliveries attempted %d", requests.sum(), requests, srv.Charged(), srv.Deliveries()),
		fmt.Sprintf("  faults injected by kind: %d (%s)", injected.sum(), injected),
		fmt.Sprintf("  answers replaced by faults: %d (%s), plus %d forged deliveries", faultAnswers.sum(), faultAnswers, injected["forged_webhook"]),
		fmt.Sprintf("  slow-job runs: %d; forged deliveries: %d runs, %d answered by the receiver, %d too late; forged URLs fetched: %d", slowRuns, injected["forged_webhook"], forgedAccepted, forgedLate, forgedFetches.Load()),
		fmt.Sprintf("  leftover faults drained between waves: %d (%s)", drained.sum(), drained),
		fmt.Sprintf("  retries seen (\"retrying\" lines on stderr): %d; webhook endpoint fallbacks to polling: %d", retries, fallbacks),
		fmt.Sprintf("  modes: %s; resolved by: %s", modes, notified),
		fmt.Sprintf("  outcomes: %s; exit codes: %s; slowest run %s", outcomes, exitCodes, slowest.Round(time.Millisecond)),
	}
	if os.Getenv("SOAK_SLOWEST") != "" {
		sorted := slices.Clone(runs)
		slices.SortFunc(sorted, func(a, b *run) int { return cmp.Compare(b.took, a.took) })
		for _, r := range sorted[:5] {
			lines = append(lines, fmt.Sprintf("  slow run %d %s webhook=%v faults=%v\n%s", r.idx, r.took, r.webhook, r.faults, r.stderr))
		}
	}
	for _, l := range lines {
		t.Log(l)
	}
	if testing.Verbose() {
		fmt.Println(strings.Join(lines, "\n"))
	}
}

// execute runs one generation in-process, forging deliveries to it when planned.
func execute(srv *hftest.Server, p *plan, forgedBase string) *run {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ios, _, stdout, stderr := iostreams.Test()
	args := []string{"generate", p.model, "--prompt", p.prompt, "-d", p.dir,
		"--json", "--timeout", "20s"}
	if p.images > 1 {
		args = append(args, "--set", fmt.Sprintf("num_images=%d", p.images))
	}
	if p.webhook {
		args = append(args, "--webhook-url", "http://"+p.addr, "--listen", p.addr)
	} else {
		args = append(args, "--via", "poll")
	}
	r := &run{plan: p}
	done := make(chan struct{})
	forged := make(chan forgeReport, 1)
	if p.forged {
		// Learn the request id the moment hf prints it, as a user would.
		w := &idWatch{w: ios.ErrOut, ids: make(chan string, 1)}
		ios.ErrOut = w
		go func() { forged <- forge(srv, p, w.ids, forgedBase, done) }()
	}
	began := time.Now()
	r.code = root.Run(ctx, testenv.Factory(ios, "soak"), args)
	r.took = time.Since(began)
	close(done)
	if p.forged {
		r.forge = <-forged
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	r.resErr = decodeOne(stdout.Bytes(), &r.res)
	return r
}

// idWatch passes stderr through and sends the request id of the first
// "hf: submitted ID" line on ids.
type idWatch struct {
	mu   sync.Mutex
	w    io.Writer
	seen []byte
	ids  chan string
	sent bool
}

func (x *idWatch) Write(p []byte) (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.sent {
		x.seen = append(x.seen, p...)
		const mark = "hf: submitted "
		if i := bytes.Index(x.seen, []byte(mark)); i >= 0 {
			rest := x.seen[i+len(mark):]
			if j := bytes.IndexAny(rest, " \n"); j >= 0 {
				x.ids <- string(rest[:j])
				x.sent, x.seen = true, nil
			}
		}
	}
	return x.w.Write(p)
}

// forge waits for p's request id, then POSTs a forged "completed" body
// naming the counting listener's URLs to the run's secret webhook path (the
// fake knows it: it is the job's hf_webhook), and a POST to a random path of
// the same endpoint.
func forge(srv *hftest.Server, p *plan, ids <-chan string, forgedBase string, done <-chan struct{}) forgeReport {
	var rep forgeReport
	var id string
	select {
	case <-done:
		return rep
	case id = <-ids:
	}
	j, ok := srv.Job(id)
	if !ok || j.Webhook == "" { // the endpoint could not open; the run polls
		return rep
	}
	hook := j.Webhook
	rep.hookSeen = true
	client := &http.Client{Timeout: 5 * time.Second}
	body := fmt.Sprintf(`{"request_id":%q,"status":"completed","images":[{"url":%q},{"url":%q}],"video":{"url":%q}}`,
		id, forgedBase+"/forged/"+id+"/0.png", forgedBase+"/forged/"+id+"/1.png", forgedBase+"/forged/"+id+"/0.mp4")
	if resp, err := client.Post(hook, "application/json", strings.NewReader(body)); err != nil {
		rep.hookErr = err
	} else {
		rep.hookCode = resp.StatusCode
		resp.Body.Close()
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	if resp, err := client.Post("http://"+p.addr+"/hf/"+hex.EncodeToString(b), "application/json", strings.NewReader(body)); err != nil {
		rep.randErr = err
	} else {
		rep.randCode = resp.StatusCode
		resp.Body.Close()
	}
	return rep
}

// verify checks every run against the fake's record, the disk and the journal.
func verify(t *testing.T, srv *hftest.Server, runs []*run, state, runsRoot string, forgedFetches int64) {
	t.Helper()
	jobs := srv.Jobs()
	byPrompt := map[string][]hftest.Job{}
	keys := map[string]int{}
	for _, j := range jobs {
		p, _ := j.Body["prompt"].(string)
		byPrompt[p] = append(byPrompt[p], j)
		keys[j.IdempotencyKey]++
	}
	j, err := journal.Open(filepath.Join(state, "hf"))
	if err != nil {
		t.Fatalf("opening the journal: %v", err)
	}
	entries, err := j.Entries()
	if err != nil {
		t.Fatalf("reading the journal: %v", err)
	}
	entryOf := map[string][]journal.Entry{}
	for _, e := range entries {
		entryOf[e.RequestID] = append(entryOf[e.RequestID], e)
	}
	recs, bad, err := rawRecords(j.Path())
	if err != nil {
		t.Fatalf("reading the journal file: %v", err)
	}
	for _, b := range bad {
		t.Errorf("journal: %s", b)
	}
	events := map[string]tally{}
	for _, rec := range recs {
		if events[rec.RequestID] == nil {
			events[rec.RequestID] = tally{}
		}
		if rec.Event == journal.EventStatus && rec.Status != "" && !higgsfield.Terminal(rec.Status) {
			continue // statuses seen on the way (in_progress) are journaled as they come
		}
		events[rec.RequestID][rec.Event]++
	}

	failures := 0
	fail := func(r *run, format string, a ...any) {
		failures++
		if failures <= 25 {
			t.Errorf("run %d (%s, wave %d, webhook=%v, planned with faults %v that any run of its wave may have taken): %s\nstdout: %s\nstderr: %s",
				r.idx, r.prompt, r.wave, r.webhook, r.faults, fmt.Sprintf(format, a...), r.stdout, r.stderr)
		}
	}
	ids := map[string]int{}
	for _, r := range runs {
		if want := exitFor[r.outcome]; r.code != want {
			fail(r, "exit code %d, want %d (outcome %s)", r.code, want, r.outcome)
		}
		if r.resErr != nil {
			fail(r, "stdout is not exactly one JSON object: %v", r.resErr)
			continue
		}
		res := r.res
		ids[res.RequestID]++
		if res.Status != r.outcome || res.Model != r.model {
			fail(r, "result says %s/%s, want %s/%s", res.Model, res.Status, r.model, r.outcome)
		}
		if !strings.Contains(r.stderr, "submitted "+res.RequestID) {
			fail(r, "the request id was not printed on stderr")
		}
		if strings.Contains(r.stderr, "could not write the journal") {
			fail(r, "the journal could not be written")
		}
		switch {
		case r.outcome == "failed" && res.Error != failMessage:
			fail(r, "--json error %q, want %q", res.Error, failMessage)
		case r.outcome == "completed" && res.Error != "":
			fail(r, "--json carries an error for a completed run: %q", res.Error)
		case r.outcome != "completed" && res.Error == "":
			fail(r, "--json carries no error for a %s run", r.outcome)
		}
		switch {
		case !r.webhook && res.NotifiedBy == "webhook":
			fail(r, "a polling run says it was notified by a webhook")
		case r.outcome == "canceled" && !r.forged && res.NotifiedBy == "webhook":
			fail(r, "the fake never delivers canceled, yet notified_by is webhook")
		}
		if r.forged && r.forge.randCode != 0 && r.forge.randCode != http.StatusNotFound {
			fail(r, "a POST to a random path of the webhook endpoint answered %d, want 404", r.forge.randCode)
		}

		// Exactly one generation charged for this run, and it is the one reported.
		js := byPrompt[r.prompt]
		if len(js) != 1 {
			fail(r, "%d jobs were created for this run, want exactly 1", len(js))
			continue
		}
		job := js[0]
		if job.ID != res.RequestID {
			fail(r, "reported request %s, but the fake's job is %s", res.RequestID, job.ID)
		}
		if job.Status != r.outcome {
			fail(r, "the fake's job is %s, want %s", job.Status, r.outcome)
		}
		fellBack := strings.Contains(r.stderr, "no webhook endpoint")
		if (job.Webhook != "") != (r.webhook && !fellBack) {
			fail(r, "hf_webhook %q does not match the run's mode", job.Webhook)
		}
		if r.webhook && !fellBack && !strings.Contains(r.stderr, "webhook endpoint ready at http://"+r.addr) {
			fail(r, "no \"webhook endpoint ready\" line for a webhook run")
		}
		if job.Webhook != "" && strings.Contains(r.stdout+r.stderr, strings.TrimPrefix(job.Webhook, "http://"+r.addr)) {
			fail(r, "the receiver's secret path appears in hf's output")
		}
		if strings.Contains(r.stdout+r.stderr, apiSecret) {
			fail(r, "the API secret appears in hf's output")
		}

		// Files: every output exactly once with the served sha256; nothing else.
		onDisk, err := filesUnder(r.dir)
		if err != nil {
			fail(r, "listing %s: %v", r.dir, err)
			continue
		}
		if r.outcome != "completed" {
			if len(onDisk) != 0 || len(res.Files) != 0 {
				fail(r, "a %s run left files %v / reported %v", r.outcome, onDisk, res.Files)
			}
		} else {
			want := map[string]hftest.Asset{}
			for i, a := range job.Assets {
				ext := "png"
				if a.ContentType == "video/mp4" {
					ext = "mp4"
				}
				want[fmt.Sprintf("%s-%d.%s", job.ID, i+1, ext)] = a
			}
			if len(job.Assets) == 0 || len(onDisk) != len(want) {
				fail(r, "files on disk %v, want the %d outputs %v", onDisk, len(want), want)
			}
			for _, name := range onDisk {
				a, ok := want[name]
				if !ok {
					fail(r, "unexpected file %s", name)
					continue
				}
				sum, n, err := sha256File(filepath.Join(r.dir, name))
				if err != nil || sum != a.SHA256 || n != a.Size {
					fail(r, "%s: sha256 %s (%d bytes, %v), served %s (%d bytes)", name, sum, n, err, a.SHA256, a.Size)
				}
			}
			if len(res.Files) != len(want) {
				fail(r, "--json lists %d files, want %d", len(res.Files), len(want))
			}
			for _, f := range res.Files {
				if a, ok := want[filepath.Base(f.Path)]; !ok || f.SHA256 != a.SHA256 || f.URL != a.URL {
					fail(r, "--json file %+v does not match an output the fake served", f)
				}
			}
		}

		// The journal: one entry, the final status, the files.
		es := entryOf[res.RequestID]
		if len(es) != 1 {
			fail(r, "%d journal entries for %s, want 1", len(es), res.RequestID)
			continue
		}
		e := es[0]
		if e.Status != r.outcome || e.Model != r.model || e.NotifiedBy != res.NotifiedBy {
			fail(r, "journal says %s/%s via %q, want %s/%s via %q", e.Model, e.Status, e.NotifiedBy, r.model, r.outcome, res.NotifiedBy)
		}
		wantEvents := tally{"submitted": 1, "status": 1}
		if r.outcome == "completed" {
			wantEvents["downloaded"] = 1
		}
		if got := events[res.RequestID]; got.String() != wantEvents.String() {
			fail(r, "journal records %s, want %s", got, wantEvents)
		}
		switch r.outcome {
		case "completed":
			if e.Error != "" {
				fail(r, "journal keeps an error for a completed run: %s", e.Error)
			}
			if len(e.Files) != len(job.Assets) {
				fail(r, "journal lists %d files, want %d", len(e.Files), len(job.Assets))
			}
			for _, f := range e.Files {
				sum, _, err := sha256File(f.Path)
				if !filepath.IsAbs(f.Path) || err != nil || sum != f.SHA256 || !strings.HasPrefix(f.Path, r.dir+string(filepath.Separator)) {
					fail(r, "journal file %+v is not the file on disk (%s, %v)", f, sum, err)
				}
			}
		case "failed":
			if e.Error != failMessage {
				fail(r, "journal error %q, want %q", e.Error, failMessage)
			}
		}
	}
	if failures > 25 {
		t.Errorf("... and %d more failures", failures-25)
	}

	// Charged once per run, one idempotency key per run, on every attempt.
	if got := srv.Charged(); got != len(runs) {
		t.Errorf("the fake charged %d generations for %d runs", got, len(runs))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("request id %s was reported by %d runs", id, n)
		}
	}
	if len(entries) != len(runs) {
		t.Errorf("the journal has %d entries for %d runs", len(entries), len(runs))
	}
	submitKeys := map[string]bool{}
	for _, h := range srv.Hits() {
		switch h.Endpoint {
		case hftest.Submit:
			if h.IdempotencyKey == "" {
				t.Errorf("a submit went out without an Idempotency-Key")
			}
			submitKeys[h.IdempotencyKey] = true
		case hftest.AssetEP:
			if h.Authorization != "" {
				t.Errorf("credentials were sent to the asset host: %s %s", h.Method, h.Path)
			}
		}
	}
	if len(submitKeys) != len(runs) {
		t.Errorf("%d distinct Idempotency-Keys over all submits, want one per run (%d)", len(submitKeys), len(runs))
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("idempotency key %q created %d jobs", k, n)
		}
	}

	// Nothing half-written anywhere, nothing fetched from a forged URL.
	parts, err := partFiles(runsRoot)
	if err != nil {
		t.Errorf("walking %s: %v", runsRoot, err)
	}
	if len(parts) > 0 {
		t.Errorf(".part files left behind: %v", parts)
	}
	if forgedFetches != 0 {
		t.Errorf("hf fetched %d times from URLs given only by forged webhooks", forgedFetches)
	}
	forged, answered := 0, 0
	for _, r := range runs {
		if r.forged && r.forge.hookSeen {
			forged++
			if r.forge.hookCode != 0 {
				answered++
			}
		}
	}
	if forged >= 3 && answered == 0 {
		t.Errorf("none of %d forged deliveries reached a live receiver; the forged-body check proved nothing", forged)
	}
}
