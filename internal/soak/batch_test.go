package soak

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/tunnel/ngroktest"
)

// TestBatchChaosSoak runs one manifest of batchJobs jobs through the built
// binary under random faults (submit 5xx, 429 and dropped or lost answers,
// failing, dropped and hung status polls, dropped, delayed and duplicated
// webhooks through one ngrok tunnel, cut and failing downloads), killing the
// process (SIGKILL) at batchKills random points and running it again each
// time, then until it exits 0. Afterwards every job is saved once with the
// served sha256, the fake charged exactly one generation per job, and no
// .part file is left.
func TestBatchChaosSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hf binary; skipped in -short mode")
	}
	const (
		batchJobs  = 500
		batchKills = 5
		maxRuns    = batchKills + 6
	)
	start := time.Now()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "hf")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hf")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	built := time.Since(start)

	srv := hftest.New(hftest.WithCredentials(apiKey, apiSecret), hftest.WithTiming(10*time.Millisecond, 40*time.Millisecond))
	defer srv.Close()
	srv.SetImageSize(48, 48)
	edge, err := ngroktest.Start(ngroktest.Options{Dir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()

	rng := mrand.New(mrand.NewPCG(soakSeed1, 0xba7c4))
	dir := filepath.Join(tmp, "assets")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var m strings.Builder
	m.WriteString("defaults:\n  model: " + imageModel + "\njobs:\n")
	images := map[string]int{}
	for i := range batchJobs {
		name := fmt.Sprintf("j%03d", i)
		fmt.Fprintf(&m, "  - name: %s\n", name)
		n := 1
		switch r := rng.IntN(20); {
		case r == 0:
			fmt.Fprintf(&m, "    model: %s\n    input: {prompt: \"soak batch %d\", duration: 5}\n", videoModel, i)
		case r <= 2:
			n = 2
			fmt.Fprintf(&m, "    input: {prompt: \"soak batch %d\", num_images: 2}\n", i)
		default:
			fmt.Fprintf(&m, "    input: {prompt: \"soak batch %d\"}\n", i)
		}
		if i%25 == 24 { // a few chains: the dependant waits for the URL
			fmt.Fprintf(&m, "    from: {image_url: j%03d}\n", i-1)
		}
		images[name] = n
	}
	manifest := filepath.Join(dir, "assets.yaml")
	if err := os.WriteFile(manifest, []byte(m.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	env := append(os.Environ(),
		"HF_BASE_URL="+srv.URL, "HF_KEY="+apiKey+":"+apiSecret,
		"XDG_STATE_HOME="+filepath.Join(tmp, "state"), "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "HOME="+filepath.Join(tmp, "home"),
		"NO_COLOR=1", "CI=1", "HF_CONFIG=", "HF_DEBUG=", "HF_VIA=", "HF_TIMEOUT=", "HF_LISTEN=", "HF_WEBHOOK_URL=", "HF_WEBHOOK_SECRET=",
		"HF_NGROK_AUTHTOKEN=", "NGROK_AUTHTOKEN=2fakeTokenValue_abcdefghijklmnop",
		"HF_NGROK_CONNECT_URL="+edge.Addr, "HF_NGROK_ROOT_CAS="+edge.CAFile,
		"GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY=", "GITHUB_ACTIONS=",
	)
	faults := func(hang bool) int {
		five := func() int { return []int{500, 502, 503}[rng.IntN(3)] }
		fs := []hftest.Fault{
			{Endpoint: hftest.Submit, Status: five()},
			{Endpoint: hftest.Submit, Status: http.StatusTooManyRequests},
			{Endpoint: hftest.Submit, Drop: true},
			{Endpoint: hftest.Submit, After: true, Status: five()},
			{Endpoint: hftest.Submit, After: true, Drop: true},
			{Endpoint: hftest.StatusEP, Status: five()},
			{Endpoint: hftest.StatusEP, Drop: true},
			{Endpoint: hftest.AssetEP, Truncate: 1 + rng.Int64N(2048)},
			{Endpoint: hftest.AssetEP, Drop: true},
			{Endpoint: hftest.AssetEP, Status: five()},
		}
		rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		n := 4 + rng.IntN(len(fs)-3)
		picked := fs[:n]
		if hang {
			// A status GET the API swallows: only in runs that are killed
			// (a hung GET holds its job for the client's 30 s timeout).
			picked = append(picked[:n:n], hftest.Fault{Endpoint: hftest.StatusEP, Hang: true})
			n++
		}
		for _, f := range picked {
			srv.Inject(f)
		}
		srv.InjectWebhook(hftest.WebhookFault{Drop: true, Times: 1 + rng.IntN(3)})
		srv.InjectWebhook(hftest.WebhookFault{Duplicate: 1 + rng.IntN(2), Times: 1 + rng.IntN(3)})
		srv.InjectWebhook(hftest.WebhookFault{Delay: time.Duration(50+rng.IntN(200)) * time.Millisecond, Times: 1 + rng.IntN(3)})
		return n + 3
	}

	type result struct {
		code           int
		killed         bool
		stdout, stderr string
		took           time.Duration
	}
	var results []result
	injected := 0
	for run := 0; run < maxRuns; run++ {
		switch {
		case run < batchKills:
			injected += faults(true)
		case run == batchKills: // the first run not killed: faults, none that hang
			left := srv.ClearFaults()
			injected += faults(false) - left
		}
		cmd := exec.Command(bin, "batch", manifest, "-j", "24", "--timeout", "30s")
		cmd.Env = append(env, "HF_TEST_POLL_INTERVAL=50ms") // the fake is on loopback
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		r := result{}
		if run < batchKills {
			// Kill once a random share of what is left has been submitted.
			target := srv.Count(hftest.Submit) + 10 + rng.IntN(batchJobs/(batchKills+1))
		wait:
			for srv.Count(hftest.Submit) < target {
				select {
				case <-exited:
					break wait
				case <-time.After(2 * time.Millisecond):
				}
			}
			select {
			case <-exited:
			default:
				_ = cmd.Process.Kill()
				r.killed = true
				<-exited
			}
		} else {
			select {
			case <-exited:
			case <-time.After(90 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("run %d did not finish within 90s; stderr:\n%s", run, stderr.String())
			}
		}
		r.took = time.Since(began)
		r.code = cmd.ProcessState.ExitCode()
		r.stdout, r.stderr = stdout.String(), stderr.String()
		results = append(results, r)
		if !r.killed && r.code == 0 {
			break
		}
	}
	last := results[len(results)-1]
	if last.killed || last.code != 0 {
		t.Fatalf("after %d runs the batch still exits %d; stderr of the last:\n%s", len(results), last.code, last.stderr)
	}
	kills := 0
	for _, r := range results {
		if r.killed {
			kills++
		}
	}
	if kills != batchKills {
		t.Errorf("%d runs were killed, want %d", kills, batchKills)
	}

	// One charge per job: exactly one fake job per prompt.
	byPrompt := map[string][]hftest.Job{}
	for _, j := range srv.Jobs() {
		p, _ := j.Body["prompt"].(string)
		byPrompt[p] = append(byPrompt[p], j)
	}
	if got := srv.Charged(); got != batchJobs {
		t.Errorf("the fake charged %d generations for %d jobs", got, batchJobs)
	}
	// Every job saved, with the served sha256, and listed on stdout.
	paths := strings.Split(strings.TrimSpace(last.stdout), "\n")
	want := 0
	for _, n := range images {
		want += n
	}
	if len(paths) != want {
		t.Errorf("the last run listed %d paths, want %d", len(paths), want)
	}
	var lock struct {
		Jobs []struct {
			Name      string `json:"name"`
			RequestID string `json:"request_id"`
			Status    string `json:"status"`
			Files     []struct {
				Path, SHA256 string
			} `json:"files"`
		} `json:"jobs"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "assets.lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	if len(lock.Jobs) != batchJobs {
		t.Errorf("the lock records %d jobs, want %d", len(lock.Jobs), batchJobs)
	}
	for i, lj := range lock.Jobs {
		prompt := fmt.Sprintf("soak batch %d", i)
		js := byPrompt[prompt]
		if len(js) != 1 {
			t.Errorf("%s: %d generations for its prompt, want 1", lj.Name, len(js))
			continue
		}
		j := js[0]
		if lj.RequestID != j.ID || lj.Status != "completed" || len(lj.Files) != len(j.Assets) || len(j.Assets) != images[lj.Name] {
			t.Errorf("%s: lock says %s %s with %d files; the fake made %s with %d outputs", lj.Name, lj.RequestID, lj.Status, len(lj.Files), j.ID, len(j.Assets))
			continue
		}
		for k, f := range lj.Files {
			sum, _, err := sha256File(filepath.Join(dir, f.Path))
			if err != nil || sum != j.Assets[k].SHA256 || f.SHA256 != sum {
				t.Errorf("%s: %s has sha256 %s (%v), lock %s, served %s", lj.Name, f.Path, sum, err, f.SHA256, j.Assets[k].SHA256)
			}
		}
		if i%25 == 24 {
			prev := byPrompt[fmt.Sprintf("soak batch %d", i-1)]
			if len(prev) == 1 && j.Body["image_url"] != prev[0].Assets[0].URL {
				t.Errorf("%s: image_url %v, want the URL of j%03d's output", lj.Name, j.Body["image_url"], i-1)
			}
		}
	}
	if parts, err := partFiles(dir); err != nil || len(parts) > 0 {
		t.Errorf("left .part files: %v (%v)", parts, err)
	}
	faultHits := 0
	for _, h := range srv.Hits() {
		if isFaultHit(h) {
			faultHits++
		}
	}
	var took []string
	for _, r := range results {
		took = append(took, fmt.Sprintf("%s(exit %d%s)", r.took.Round(10*time.Millisecond), r.code, map[bool]string{true: ", killed"}[r.killed]))
	}
	t.Logf("batch soak: %d jobs, %d runs [%s], %d faults injected, %d answers replaced by faults, %d webhook deliveries, %d ngrok sessions; build %s, total %s",
		batchJobs, len(results), strings.Join(took, " "), injected, faultHits, srv.Deliveries(), len(edge.Auths()), built.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
