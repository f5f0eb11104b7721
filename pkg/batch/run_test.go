package batch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/await"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/exitcode"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

type rig struct {
	t      *testing.T
	srv    *hftest.Server
	runner *job.Runner
	gate   *Gate
	dir    string
	path   string // the manifest
	stats  string // the stat cache (in a "state directory" apart from dir)
}

func newRig(t *testing.T, queued, running time.Duration) *rig {
	t.Helper()
	srv := hftest.New(hftest.WithTiming(queued, running))
	t.Cleanup(srv.Close)
	g := &Gate{Default: 50 * time.Millisecond}
	client, err := higgsfield.New(higgsfield.Options{BaseURL: srv.URL, InitialBackoff: time.Millisecond,
		OnRetry: func(ri higgsfield.RetryInfo) { g.NoteRetry(ri.Op, ri.Err, ri.Delay) }})
	if err != nil {
		t.Fatal(err)
	}
	jn, err := journal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, srv: srv, gate: g, dir: t.TempDir(), stats: filepath.Join(t.TempDir(), "stat.json"), runner: &job.Runner{Client: client, Journal: jn,
		Schedule: await.Schedule{First: 10 * time.Millisecond, Max: 10 * time.Millisecond, Factor: 1}}}
}

// manifest writes a YAML manifest of n jobs (extra lines appended to job i
// by extra(i)).
func (r *rig) manifest(n int, extra func(i int) string) {
	var b strings.Builder
	b.WriteString("defaults:\n  model: higgsfield-ai/soul/standard\njobs:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: j%d\n    input: {prompt: \"prompt %d\"}\n", i, i)
		if extra != nil {
			b.WriteString(extra(i))
		}
	}
	r.path = filepath.Join(r.dir, "m.yaml")
	if err := os.WriteFile(r.path, []byte(b.String()), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

type runCfg struct {
	j        int
	force    bool
	failFast bool
	ctx      context.Context
	emit     func(Event)
}

func (r *rig) run(c runCfg) (*Report, *Plan) {
	r.t.Helper()
	m, err := Load(Source{Path: r.path})
	if err != nil {
		r.t.Fatal(err)
	}
	lock, err := OpenLock(LockPath(r.path))
	if err != nil {
		r.t.Fatal(err)
	}
	lock.UseStatCache(r.stats)
	p, err := NewPlan(m, PlanOptions{Lock: lock, Force: c.force})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return p.Run(ctx, RunOptions{Runner: r.runner, Concurrency: c.j, FailFast: c.failFast, Gate: r.gate, Emit: c.emit, Timeout: 30 * time.Second}), p
}

func states(rep *Report) string {
	var s []string
	for _, o := range rep.Jobs {
		s = append(s, o.Name+":"+string(o.State))
	}
	return strings.Join(s, " ")
}

// maxOverlap is the most jobs the fake had queued or running at once.
func maxOverlap(jobs []hftest.Job) int {
	type edge struct {
		t time.Time
		d int
	}
	var edges []edge
	for _, j := range jobs {
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
		return a.d - b.d // ends before starts at the same instant
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.d
		most = max(most, n)
	}
	return most
}

func TestRunBoundsInFlightAndRerunIsFree(t *testing.T) {
	r := newRig(t, 20*time.Millisecond, 60*time.Millisecond)
	r.manifest(7, nil)
	rep, _ := r.run(runCfg{j: 2})
	if rep.ExitCode() != 0 || rep.Summary.Generated != 7 {
		t.Fatalf("first run: exit %d, %s", rep.ExitCode(), states(rep))
	}
	if got := maxOverlap(r.srv.Jobs()); got > 2 || got < 2 {
		t.Errorf("the fake had up to %d requests in flight, want 2 with -j 2", got)
	}
	if r.srv.Charged() != 7 {
		t.Errorf("charged %d, want 7", r.srv.Charged())
	}
	// Every output is what the fake served.
	served := map[string]bool{}
	for _, j := range r.srv.Jobs() {
		for _, a := range j.Assets {
			served[a.SHA256] = true
		}
	}
	for _, o := range rep.Jobs {
		if len(o.Files) != 1 || !served[o.Files[0].SHA256] {
			t.Errorf("%s: files %+v are not what the fake served", o.Name, o.Files)
		}
	}
	hits := len(r.srv.Hits())
	rep, _ = r.run(runCfg{j: 2})
	if rep.ExitCode() != 0 || rep.Summary.UpToDate != 7 {
		t.Fatalf("re-run: exit %d, %s", rep.ExitCode(), states(rep))
	}
	if got := len(r.srv.Hits()); got != hits {
		t.Errorf("the re-run made %d API or asset requests, want none", got-hits)
	}

	// Files deleted, lock present: downloaded again from the recorded
	// URLs, not regenerated.
	for _, o := range rep.Jobs[:3] {
		if err := os.Remove(o.Files[0].Path); err != nil {
			t.Fatal(err)
		}
	}
	rep, _ = r.run(runCfg{j: 2})
	if rep.Summary.Redownloaded != 3 || rep.Summary.UpToDate != 4 || rep.ExitCode() != 0 {
		t.Fatalf("after deleting 3 files: exit %d, %s", rep.ExitCode(), states(rep))
	}
	if r.srv.Charged() != 7 || r.srv.Count(hftest.Submit) != 7 {
		t.Errorf("charged %d, submits %d; want 7 and 7", r.srv.Charged(), r.srv.Count(hftest.Submit))
	}
	for _, o := range rep.Jobs[:3] {
		if !served[o.Files[0].SHA256] {
			t.Errorf("%s re-downloaded something else", o.Name)
		}
	}

	// A changed file is hashed (its stat changed) and replaced.
	if err := os.WriteFile(rep.Jobs[4].Files[0].Path, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ = r.run(runCfg{j: 2})
	if rep.Jobs[4].State != StateRedownloaded || rep.Summary.UpToDate != 6 {
		t.Fatalf("after tampering: %s", states(rep))
	}

	// --force regenerates every job.
	rep, _ = r.run(runCfg{j: 3, force: true})
	if rep.Summary.Generated != 7 || r.srv.Charged() != 14 {
		t.Fatalf("--force: %s, charged %d, want 14", states(rep), r.srv.Charged())
	}
	// And the forced generation is what is now up to date.
	rep, _ = r.run(runCfg{j: 3})
	if rep.Summary.UpToDate != 7 || r.srv.Charged() != 14 {
		t.Fatalf("after --force: %s, charged %d", states(rep), r.srv.Charged())
	}
}

func TestRunFromPassesURLAndSkipsDependantsOfFailures(t *testing.T) {
	r := newRig(t, 10*time.Millisecond, 30*time.Millisecond)
	// j1 → j2 → j3 chain; j4 fails; j5 depends on j4.
	r.manifest(5, func(i int) string {
		switch i {
		case 2, 3:
			return fmt.Sprintf("    from: {image_url: j%d}\n", i-1)
		case 5:
			return "    from: {image_url: j4}\n"
		}
		return ""
	})
	r.srv.SetOutcomeFunc(func(_ string, body map[string]any) hftest.Outcome {
		if body["prompt"] == "prompt 4" {
			return hftest.Outcome{Status: "failed", Error: "boom"}
		}
		return hftest.Outcome{}
	})
	rep, _ := r.run(runCfg{j: 4})
	if got := states(rep); got != "j1:generated j2:generated j3:generated j4:failed j5:skipped" {
		t.Fatalf("states %s", got)
	}
	if rep.ExitCode() != exitcode.Error {
		t.Errorf("exit %d, want 1 (a job skipped)", rep.ExitCode())
	}
	byPrompt := map[string]hftest.Job{}
	for _, j := range r.srv.Jobs() {
		byPrompt[j.Body["prompt"].(string)] = j
	}
	if len(byPrompt) != 4 {
		t.Fatalf("%d jobs submitted, want 4 (j5 skipped)", len(byPrompt))
	}
	for _, k := range []int{2, 3} {
		got := byPrompt[fmt.Sprintf("prompt %d", k)].Body["image_url"]
		want := byPrompt[fmt.Sprintf("prompt %d", k-1)].Assets[0].URL
		if got != want {
			t.Errorf("j%d image_url %v, want j%d's output %s", k, got, k-1, want)
		}
	}
	if rep.Jobs[3].ExitCode != exitcode.Failed || rep.Jobs[4].Error == "" {
		t.Errorf("j4 exit %d, j5 error %q", rep.Jobs[3].ExitCode, rep.Jobs[4].Error)
	}

	// A re-run retries the failed job with the next attempt's key and
	// runs its dependant; the chain is up to date.
	r.srv.SetOutcomeFunc(nil)
	keys := r.srv.Hits()
	rep, _ = r.run(runCfg{j: 4})
	if got := states(rep); got != "j1:up_to_date j2:up_to_date j3:up_to_date j4:generated j5:generated" || rep.ExitCode() != 0 {
		t.Fatalf("re-run: exit %d, states %s", rep.ExitCode(), got)
	}
	var first string
	for _, h := range keys {
		if h.Endpoint == hftest.Submit && strings.HasSuffix(h.IdempotencyKey, "-1") && r.srv.Jobs()[3].IdempotencyKey != "" {
			first = h.IdempotencyKey
		}
	}
	if k := r.srv.Jobs()[4].IdempotencyKey; !strings.HasSuffix(k, "-2") || k == first {
		t.Errorf("retry of j4 sent key %q, want the second attempt's", k)
	}
}

func TestRunMixedOutcomesExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		outcomes map[string]string // prompt → status
		want     int
	}{
		{"all failed", map[string]string{"prompt 1": "failed", "prompt 2": "failed"}, exitcode.Failed},
		{"nsfw only", map[string]string{"prompt 2": "nsfw"}, exitcode.NSFW},
		{"mixed", map[string]string{"prompt 1": "failed", "prompt 2": "nsfw"}, exitcode.Error},
		{"none", nil, exitcode.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 5*time.Millisecond, 10*time.Millisecond)
			r.manifest(3, nil)
			r.srv.SetOutcomeFunc(func(_ string, body map[string]any) hftest.Outcome {
				return hftest.Outcome{Status: tt.outcomes[body["prompt"].(string)]}
			})
			rep, _ := r.run(runCfg{j: 3})
			if rep.ExitCode() != tt.want {
				t.Errorf("exit %d, want %d (%s)", rep.ExitCode(), tt.want, states(rep))
			}
			data, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Jobs []map[string]any
			}
			if err := json.Unmarshal(data, &back); err != nil || len(back.Jobs) != 3 {
				t.Fatalf("json %s", data)
			}
			for _, k := range []string{"name", "model", "request_id", "status", "state", "files", "notified_by", "error", "exit_code"} {
				if _, ok := back.Jobs[0][k]; !ok {
					t.Errorf("job object lacks %q: %s", k, data)
				}
			}
		})
	}
}

func TestRunQueueFullPausesAndResubmitsWithSameKey(t *testing.T) {
	r := newRig(t, 5*time.Millisecond, 20*time.Millisecond)
	r.manifest(4, nil)
	// More 429s than the client's own retries: the batch keeps going.
	r.srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 429, RetryAfter: "0", Times: 8})
	rep, _ := r.run(runCfg{j: 2})
	if rep.ExitCode() != 0 || rep.Summary.Generated != 4 {
		t.Fatalf("exit %d: %s", rep.ExitCode(), states(rep))
	}
	if r.srv.Charged() != 4 {
		t.Errorf("charged %d, want 4", r.srv.Charged())
	}
	keys := map[string]bool{}
	for _, h := range r.srv.Hits() {
		if h.Endpoint == hftest.Submit {
			keys[h.IdempotencyKey] = true
		}
	}
	if len(keys) != 4 {
		t.Errorf("%d distinct keys over %d submits, want 4", len(keys), r.srv.Count(hftest.Submit))
	}
}

func TestRunFailFastAndInterrupt(t *testing.T) {
	r := newRig(t, 5*time.Millisecond, 30*time.Millisecond)
	r.manifest(6, nil)
	r.srv.SetOutcome(hftest.Outcome{Status: "failed"})
	rep, _ := r.run(runCfg{j: 1, failFast: true})
	if rep.Summary.Failed != 1 || rep.Summary.NotRun != 5 || rep.ExitCode() != exitcode.Failed {
		t.Fatalf("fail-fast: exit %d, %s", rep.ExitCode(), states(rep))
	}

	r.srv.SetOutcome(hftest.Outcome{})
	r.srv.SetTiming(time.Hour, time.Hour)
	ctx, cancel := context.WithCancelCause(context.Background())
	var once sync.Once
	rep, _ = r.run(runCfg{j: 2, ctx: ctx, emit: func(ev Event) {
		if ev.Kind == Progress && ev.Job.Kind == events.Submitted {
			once.Do(func() { go func() { time.Sleep(20 * time.Millisecond); cancel(job.ErrInterrupt) }() })
		}
	}})
	if rep.ExitCode() != exitcode.Interrupted || rep.Summary.NotRun < 4 {
		t.Fatalf("interrupt: exit %d, %s", rep.ExitCode(), states(rep))
	}
	// The queued requests were canceled.
	for _, j := range r.srv.Jobs()[1:] {
		if !j.Canceled {
			t.Errorf("request %s left queued after Ctrl-C", j.ID)
		}
	}
}

func TestLockWritesAreBatched(t *testing.T) {
	r := newRig(t, 5*time.Millisecond, 200*time.Millisecond)
	r.manifest(60, nil)
	rep, p := r.run(runCfg{j: 30})
	if rep.ExitCode() != 0 {
		t.Fatalf("exit %d: %s", rep.ExitCode(), states(rep))
	}
	// Two submit waves and one end: a handful of writes, not one per change.
	if w := p.Lock.Writes(); w > 25 {
		t.Errorf("the lock was written %d times for 60 jobs", w)
	}
	data, err := os.ReadFile(LockPath(r.path))
	if err != nil {
		t.Fatal(err)
	}
	var lf lockFile
	if err := json.Unmarshal(data, &lf); err != nil || len(lf.Jobs) != 60 {
		t.Fatalf("lock: %v, %d jobs", err, len(lf.Jobs))
	}
	if !slices.IsSortedFunc(lf.Jobs, func(a, b LockedJob) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("lock jobs are not in a stable (sorted) order")
	}
	for _, j := range lf.Jobs {
		if len(j.Files) != 1 || strings.Contains(j.Files[0].Path, r.dir) || j.Files[0].URL == "" {
			t.Fatalf("lock entry %+v: want one relative file with url", j)
		}
	}
	// Stat data differs on every machine: it is in the stat cache, not in
	// the lock that is committed.
	if bytes.Contains(data, []byte("mtime")) || bytes.Contains(data, []byte("inode")) {
		t.Errorf("the lock holds stat data:\n%s", data)
	}
	var sc statCache
	if data, err := os.ReadFile(r.stats); err != nil || json.Unmarshal(data, &sc) != nil || len(sc.Files) != 60 {
		t.Fatalf("stat cache: %v, %d files", err, len(sc.Files))
	}
	for path, e := range sc.Files {
		if e.MtimeNS == 0 || e.Size == 0 || len(e.SHA256) != 64 || strings.Contains(path, r.dir) {
			t.Fatalf("stat cache entry %s: %+v", path, e)
		}
	}
}

// A fresh checkout (the same files, new mtimes and inodes, no stat cache
// of its own) re-runs with no API call and leaves the committed lock as it
// was, byte for byte: no churn in git diff.
func TestFreshCopyLeavesTheLockAlone(t *testing.T) {
	r := newRig(t, 5*time.Millisecond, 10*time.Millisecond)
	r.manifest(3, nil)
	if rep, _ := r.run(runCfg{j: 3}); rep.ExitCode() != 0 {
		t.Fatalf("first run: %s", states(rep))
	}
	lock := LockPath(r.path)
	before, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	copyDir := t.TempDir()
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hits := len(r.srv.Hits())
	clone := &rig{t: t, srv: r.srv, gate: r.gate, runner: r.runner, dir: copyDir, path: filepath.Join(copyDir, "m.yaml"), stats: filepath.Join(t.TempDir(), "stat.json")}
	for run := 1; run <= 2; run++ { // hashing, then trusting the new stat cache
		rep, _ := clone.run(runCfg{j: 3})
		if rep.ExitCode() != 0 || rep.Summary.UpToDate != 3 {
			t.Fatalf("run %d in the copy: %s", run, states(rep))
		}
		after, err := os.ReadFile(filepath.Join(copyDir, filepath.Base(lock)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("run %d in the copy rewrote the lock:\n%s\nwas:\n%s", run, after, before)
		}
	}
	if n := len(r.srv.Hits()) - hits; n != 0 {
		t.Errorf("%d API requests for an up-to-date copy", n)
	}
	if _, err := os.Stat(clone.stats); err != nil {
		t.Errorf("no stat cache for the copy: %v", err)
	}
}

func TestRunForgetsUnknownRequestsAndRemovedJobs(t *testing.T) {
	r := newRig(t, 5*time.Millisecond, 20*time.Millisecond)
	r.manifest(2, nil)
	rep, _ := r.run(runCfg{j: 2})
	if rep.ExitCode() != 0 {
		t.Fatalf("first run: %s", states(rep))
	}
	// The lock now names a request the API does not know, still pending.
	lock, err := OpenLock(LockPath(r.path))
	if err != nil {
		t.Fatal(err)
	}
	lock.Update("j1", func(l *LockedJob) {
		l.RequestID, l.Status = "6f1c3b2a-0000-4000-8000-000000000000", "queued"
	})
	if err := lock.Save(); err != nil {
		t.Fatal(err)
	}
	rep, _ = r.run(runCfg{j: 2})
	if rep.Jobs[0].State != StateFailed || !strings.Contains(rep.Jobs[0].Error, "next run generates the job again") {
		t.Fatalf("unknown request: %s, %q", states(rep), rep.Jobs[0].Error)
	}
	rep, _ = r.run(runCfg{j: 2})
	if rep.Jobs[0].State != StateGenerated || r.srv.Charged() != 3 || rep.ExitCode() != 0 {
		t.Fatalf("after forgetting it: %s, charged %d", states(rep), r.srv.Charged())
	}
	// A job taken out of the manifest keeps its entry while its files are
	// there: put back, it is up to date, not an output in its own way.
	r.manifest(1, nil)
	r.run(runCfg{j: 1})
	r.manifest(2, nil)
	rep, _ = r.run(runCfg{j: 2})
	if rep.ExitCode() != 0 || rep.Jobs[1].State != StateUpToDate || r.srv.Charged() != 3 {
		t.Fatalf("j2 put back: %s, charged %d", states(rep), r.srv.Charged())
	}
	// Removed with its files gone, it leaves the lock.
	lock, err = OpenLock(LockPath(r.path))
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := lock.Get("j2")
	for _, f := range j2.Files {
		if err := os.Remove(filepath.Join(r.dir, filepath.FromSlash(f.Path))); err != nil {
			t.Fatal(err)
		}
	}
	r.manifest(1, nil)
	r.run(runCfg{j: 1})
	lock, err = OpenLock(LockPath(r.path))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lock.Get("j2"); ok {
		t.Error("the lock still records j2, which the manifest no longer has")
	}
	if _, ok := lock.Get("j1"); !ok {
		t.Error("the lock lost j1")
	}
}

// A file changed in place with its size and mtime kept is trusted from its
// stat, as git's index does; --verify hashes it and sees the change.
func TestVerifyHashesWhatStatTrusts(t *testing.T) {
	r := newRig(t, 5*time.Millisecond, 10*time.Millisecond)
	r.manifest(1, nil)
	rep, _ := r.run(runCfg{j: 1})
	if rep.ExitCode() != 0 {
		t.Fatalf("first run: %s", states(rep))
	}
	path := rep.Jobs[0].Files[0].Path
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XXXX"), 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	plan := func(verify bool) Action {
		m, err := Load(Source{Path: r.path})
		if err != nil {
			t.Fatal(err)
		}
		lock, err := OpenLock(LockPath(r.path))
		if err != nil {
			t.Fatal(err)
		}
		lock.UseStatCache(r.stats)
		p, err := NewPlan(m, PlanOptions{Lock: lock, Verify: verify})
		if err != nil {
			t.Fatal(err)
		}
		return p.Steps[0].Action
	}
	if got := plan(false); got != UpToDate {
		t.Errorf("without --verify: %s, want up to date (the stat matches)", got)
	}
	if got := plan(true); got != Redownload {
		t.Errorf("with --verify: %s, want re-download", got)
	}
}

// fakeFiles stands in for pkg/inputs: "@path" in *_url fields are files,
// known by content, "uploaded" as data: URLs.
type fakeFiles struct{ uploads int }

func (f *fakeFiles) Scan(in map[string]any, base string) ([]FileRef, error) {
	var refs []FileRef
	for k, v := range in {
		s, ok := v.(string)
		if !ok || !strings.HasSuffix(k, "_url") || !strings.HasPrefix(s, "@") || strings.HasPrefix(s, "@@") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(base, s[1:]))
		if err != nil {
			return nil, err
		}
		refs = append(refs, FileRef{Field: k, Path: s[1:], SHA256: fmt.Sprintf("%x", sha256Sum(data))})
	}
	return refs, nil
}

func (f *fakeFiles) Resolve(_ context.Context, in map[string]any, base string) (map[string]any, error) {
	refs, err := f.Scan(in, base)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(in)
	for _, r := range refs {
		f.uploads++
		out[r.Field] = "https://uploads.example/" + r.SHA256
	}
	return out, nil
}

func TestLocalFilesCountByContent(t *testing.T) {
	r := newRig(t, 5*time.Millisecond, 10*time.Millisecond)
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ref.png", "first")
	r.path = filepath.Join(r.dir, "m.yaml")
	if err := os.WriteFile(r.path, []byte("jobs:\n  - name: j1\n    model: higgsfield-ai/soul/standard\n    input: {prompt: p, image_url: \"@ref.png\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ff := &fakeFiles{}
	run := func() *Report {
		m, err := Load(Source{Path: r.path})
		if err != nil {
			t.Fatal(err)
		}
		lock, _ := OpenLock(LockPath(r.path))
		p, err := NewPlan(m, PlanOptions{Lock: lock, Files: ff})
		if err != nil {
			t.Fatal(err)
		}
		return p.Run(context.Background(), RunOptions{Runner: r.runner, Files: ff, Timeout: 10 * time.Second})
	}
	if rep := run(); rep.Jobs[0].State != StateGenerated {
		t.Fatalf("first run: %s", states(rep))
	}
	if got := r.srv.Jobs()[0].Body["image_url"]; !strings.HasPrefix(fmt.Sprint(got), "https://uploads.example/") {
		t.Errorf("submitted image_url %v, want the upload's URL", got)
	}
	// The same content under another name: still up to date.
	if err := os.Rename(filepath.Join(r.dir, "ref.png"), filepath.Join(r.dir, "moved.png")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(r.path)
	if err := os.WriteFile(r.path, bytes.ReplaceAll(data, []byte("@ref.png"), []byte("@moved.png")), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := run(); rep.Jobs[0].State != StateUpToDate {
		t.Fatalf("after a rename: %s", states(rep))
	}
	// Other content: generated again.
	write("moved.png", "second")
	if rep := run(); rep.Jobs[0].State != StateGenerated || r.srv.Charged() != 2 {
		t.Fatalf("after a change: %s, charged %d", states(rep), r.srv.Charged())
	}
	// An unreadable file stops the plan, naming the job.
	os.Remove(filepath.Join(r.dir, "moved.png"))
	m, _ := Load(Source{Path: r.path})
	_, err := NewPlan(m, PlanOptions{Files: ff})
	var me *Error
	if !errors.As(err, &me) || me.Job != "j1" || me.Line == 0 {
		t.Fatalf("missing file: %v", err)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
