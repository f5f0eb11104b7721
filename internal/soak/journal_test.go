package soak

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

// TestJournalConcurrentProcesses runs 8 hf processes at once, 5 generations
// each, all appending to one journal, and checks that every line of the
// file is one whole record and that no record of any request is lost.
func TestJournalConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hf binary; skipped in -short mode")
	}
	const procs, perProc = 8, 5
	start := time.Now()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "hf")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hf")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	built := time.Since(start)

	srv := hftest.New(hftest.WithCredentials(apiKey, apiSecret), hftest.WithTiming(10*time.Millisecond, 30*time.Millisecond))
	defer srv.Close()
	state := filepath.Join(tmp, "state")
	env := append(os.Environ(), "HF_TEST_POLL_INTERVAL=20ms",
		"HF_BASE_URL="+srv.URL, "HF_KEY="+apiKey+":"+apiSecret,
		"XDG_STATE_HOME="+state, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "HOME="+filepath.Join(tmp, "home"),
		"NO_COLOR=1", "HF_CONFIG=", "HF_DEBUG=", "HF_VIA=", "HF_TIMEOUT=", "HF_LISTEN=", "HF_WEBHOOK_URL=",
		"HF_WEBHOOK_SECRET=", "NGROK_AUTHTOKEN=", "HF_NGROK_AUTHTOKEN=",
	)

	type result struct {
		proc, n int
		code    int
		res     job.Result
		err     error
		stderr  string
	}
	results := make([]result, 0, procs*perProc)
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Each round starts its 8 processes together, so that their records
	// (same job timing) fall due at about the same moments.
	rounds := make([]sync.WaitGroup, perProc)
	for n := range rounds {
		rounds[n].Add(procs)
	}
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perProc {
				rounds[n].Done()
				rounds[n].Wait()
				r := result{proc: p, n: n}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				args := []string{"generate", imageModel, "--prompt", fmt.Sprintf("proc-%d-%d", p, n),
					"-d", filepath.Join(tmp, "out", fmt.Sprint(p)), "--json", "--via", "poll"}
				if n%2 == 1 {
					args = append(args, "--set", "num_images=2")
				}
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Env = env
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				cancel()
				r.code = -1
				if cmd.ProcessState != nil {
					r.code = cmd.ProcessState.ExitCode()
				}
				r.stderr = stderr.String()
				if err != nil {
					r.err = err
				} else {
					r.err = decodeOne(stdout.Bytes(), &r.res)
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ran := time.Since(start) - built

	ids := map[string]bool{}
	for _, r := range results {
		if r.err != nil || r.code != 0 || r.res.RequestID == "" || r.res.Status != "completed" {
			t.Errorf("process %d, generation %d: exit %d, %v, result %+v\nstderr: %s", r.proc, r.n, r.code, r.err, r.res, r.stderr)
			continue
		}
		if ids[r.res.RequestID] {
			t.Errorf("request id %s reported twice", r.res.RequestID)
		}
		ids[r.res.RequestID] = true
	}
	if got := srv.Charged(); got != procs*perProc {
		t.Errorf("the fake charged %d generations, want %d", got, procs*perProc)
	}

	// Every line whole; each request has exactly one submitted, status and
	// downloaded record.
	path := filepath.Join(state, "hf", "journal.jsonl")
	recs, bad, err := rawRecords(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	for _, b := range bad {
		t.Errorf("journal: %s", b)
	}
	events := map[string]tally{}
	for _, rec := range recs {
		if !ids[rec.RequestID] {
			t.Errorf("journal record for a request no process reported: %+v", rec)
			continue
		}
		if events[rec.RequestID] == nil {
			events[rec.RequestID] = tally{}
		}
		if rec.Event == journal.EventStatus && !higgsfield.Terminal(rec.Status) {
			// Non-terminal statuses (in_progress) are journaled as seen,
			// as many as the polls caught; the count is of terminal ones.
			continue
		}
		events[rec.RequestID][rec.Event]++
	}
	want := tally{journal.EventSubmitted: 1, journal.EventStatus: 1, journal.EventDownloaded: 1}.String()
	for id := range ids {
		if got := events[id].String(); got != want {
			t.Errorf("journal records of %s: %s, want %s", id, got, want)
		}
	}
	jr, err := journal.Open(filepath.Join(state, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := jr.Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		j, ok := srv.Job(e.RequestID)
		if !ok || e.Status != "completed" || len(e.Files) != len(j.Assets) {
			t.Errorf("journal entry %s: status %s, %d files; the fake has %d outputs", e.RequestID, e.Status, len(e.Files), len(j.Assets))
			continue
		}
		for i, f := range e.Files {
			if sum, _, err := sha256File(f.Path); err != nil || sum != j.Assets[i].SHA256 {
				t.Errorf("journal entry %s file %s: sha256 %s (%v), served %s", e.RequestID, f.Path, sum, err, j.Assets[i].SHA256)
			}
		}
	}
	if len(entries) != len(ids) {
		t.Errorf("the journal has %d entries, want %d", len(entries), len(ids))
	}
	t.Logf("journal: %d processes × %d generations, %d records in %d lines, build %s, runs %s",
		procs, perProc, len(recs), len(recs)+len(bad), built.Round(time.Millisecond), ran.Round(time.Millisecond))
}
