package batch

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/job"
)

// Action is what a run does with a job.
type Action string

const (
	// Generate submits a new request (or replays the recorded key).
	Generate Action = "generate"
	// UpToDate: the outputs are on disk with the recorded sha256; no API call.
	UpToDate Action = "up to date"
	// Redownload: the request completed but files are missing; they are
	// fetched again (from the recorded URLs when still valid), not regenerated.
	Redownload Action = "re-download"
	// Wait: the recorded request is still pending; wait for it instead of
	// submitting again.
	Wait Action = "wait"
)

// Step is one job of a plan and what will be done with it.
type Step struct {
	Job    *Job
	Action Action
	// Reason says why, for the plan's display ("new", "input changed", ...).
	Reason string
	// Locked is the lock entry the run starts from (identity, attempt, nonce
	// as they will be recorded).
	Locked LockedJob
	// Files are the local files the job's input names.
	Files []FileRef
	// fresh is set when stat information of up-to-date files was refreshed.
	fresh bool
	// clobber: outputs may replace existing files (--clobber, or the files
	// are this job's own from an earlier run).
	clobber bool
	// prevFiles are the files the lock recorded for the job: its own.
	prevFiles []LockedFile
}

// Key is the Idempotency-Key the step's submit sends.
func (s *Step) Key() string { return IdempotencyKey(s.Locked.Identity, s.Locked.Attempt) }

// PlanOptions tune NewPlan.
type PlanOptions struct {
	Lock *Lock
	// OutDir is where outputs go (default: the manifest's directory).
	OutDir string
	// Force regenerates every job (a new identity nonce, recorded).
	Force bool
	// Verify hashes every recorded file, even those whose stat matches.
	Verify bool
	// Clobber lets outputs replace files that are not this job's own.
	Clobber bool
	// ExpiresAfter is the retention asked for (seconds, 0 for the account's);
	// part of the API's idempotency fingerprint, so part of the identity.
	ExpiresAfter int64
	// Files scans @path references; nil sends inputs as written.
	Files Files
	// Ephemeral: recorded requests did not outlive the API that made them
	// (--sandbox: its fake ends with the run). A job whose files are
	// missing or whose request was still pending is generated anew, with
	// the next attempt's key, instead of downloaded again or waited for.
	Ephemeral bool
	// Shard K of Shards (1-based); Shards 0 or 1 runs every job.
	Shard, Shards int
	// Now is the clock for URL expiry; nil means time.Now.
	Now func() time.Time
}

// Plan is what a run will do, job by job, in manifest order.
type Plan struct {
	Manifest  *Manifest
	Steps     []*Step
	Lock      *Lock
	OutDir    string
	byName    map[string]*Step
	verify    bool
	ephemeral bool
}

// Step returns the step of the job called name (in this shard).
func (p *Plan) Step(name string) (*Step, bool) {
	s, ok := p.byName[name]
	return s, ok
}

// Count returns how many steps take action a.
func (p *Plan) Count(a Action) int {
	n := 0
	for _, s := range p.Steps {
		if s.Action == a {
			n++
		}
	}
	return n
}

// ParseShard parses --shard K/N.
func ParseShard(s string) (k, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return 0, 0, fmt.Errorf("invalid --shard %q: want K/N with 1 <= K <= N, e.g. 1/4", s)
	}
	return k, n, nil
}

// Shard returns the indexes (0-based) of the jobs in part k of n: jobs
// linked by from stay together, and parts are balanced by job count,
// deterministically, so n runners given the same manifest cover every job
// exactly once.
func (m *Manifest) Shard(k, n int) []int {
	if n <= 1 {
		all := make([]int, len(m.Jobs))
		for i := range all {
			all[i] = i
		}
		return all
	}
	// Union-find over from links.
	parent := make([]int, len(m.Jobs))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i, j := range m.Jobs {
		for _, d := range j.deps {
			a, b := find(i), find(d)
			if a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	groups := map[int][]int{}
	for i := range m.Jobs {
		r := find(i)
		groups[r] = append(groups[r], i)
	}
	roots := slices.Sorted(maps.Keys(groups))
	// Largest groups first, each to the lightest part (lowest number on ties).
	slices.SortStableFunc(roots, func(a, b int) int { return cmp.Compare(len(groups[b]), len(groups[a])) })
	load := make([]int, n)
	var mine []int
	for _, r := range roots {
		part := 0
		for p := 1; p < n; p++ {
			if load[p] < load[part] {
				part = p
			}
		}
		load[part] += len(groups[r])
		if part == k-1 {
			mine = append(mine, groups[r]...)
		}
	}
	slices.Sort(mine)
	return mine
}

// NewPlan decides what to do with every job of m (of its shard), from the
// lock and what is on disk. It reads local input files (an unreadable one
// is an *Error naming the job) but makes no API call.
func NewPlan(m *Manifest, o PlanOptions) (*Plan, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	lock := o.Lock
	if lock == nil {
		lock, _ = OpenLock("")
	}
	out := o.OutDir
	if out == "" {
		out = m.Dir
	}
	p := &Plan{Manifest: m, Lock: lock, OutDir: out, byName: map[string]*Step{}, verify: o.Verify, ephemeral: o.Ephemeral}
	idx := m.Shard(o.Shard, o.Shards)
	steps := make([]*Step, len(m.Jobs))
	// Scan files first, in parallel: they may be large.
	var wg sync.WaitGroup
	errs := make([]error, len(m.Jobs))
	files := make([][]FileRef, len(m.Jobs))
	if o.Files != nil {
		sem := make(chan struct{}, 8)
		for _, i := range idx {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				files[i], errs[i] = o.Files.Scan(m.Jobs[i].Input, m.Dir)
			}()
		}
		wg.Wait()
	}
	for _, i := range idx {
		if errs[i] != nil {
			j := m.Jobs[i]
			return nil, &Error{File: m.Path, Line: j.Line, Job: j.Name, Err: errs[i]}
		}
	}
	// Identities in dependency order: a dependant hashes its dependencies'.
	var visit func(i int) *Step
	visit = func(i int) *Step {
		if steps[i] != nil {
			return steps[i]
		}
		j := m.Jobs[i]
		for _, d := range j.deps {
			visit(d)
		}
		dep := func(name string) string { return steps[m.byName[name]].Locked.Identity }
		s := &Step{Job: j, Files: files[i]}
		prev, had := lock.Get(j.Name)
		if had && p.foreign(prev.Files) {
			// Files the job cannot have written (an edited lock, or
			// another -d): not trusted, not written to, not clobbered. A
			// completed request is downloaded again through the API.
			prev.Files = nil
		}
		s.clobber = o.Clobber || (had && len(prev.Files) > 0)
		s.prevFiles = prev.Files
		plain := computeIdentity(j, files[i], dep, o.ExpiresAfter, "")
		forced := had && prev.Nonce != "" && prev.Identity == computeIdentity(j, files[i], dep, o.ExpiresAfter, prev.Nonce)
		same := had && prev.Identity != "" && (prev.Identity == plain || forced)
		switch {
		case o.Force && forced && !terminal(prev.Status):
			// An earlier --force was stopped (Ctrl-C, a kill, a CI
			// timeout) before this job's request ended: the same command
			// again picks that request up rather than paying for another.
			s.Locked = prev
			p.decide(s, now())
			s.Reason = "forced earlier; " + s.Reason
		case o.Force:
			nonce := newNonce()
			// The old files stay recorded until replaced: they are this
			// job's to overwrite, in this run or the one after a kill.
			s.Locked = LockedJob{Name: j.Name, Model: j.Model, Nonce: nonce, Attempt: 1, Identity: computeIdentity(j, files[i], dep, o.ExpiresAfter, nonce), Files: prev.Files}
			s.Action, s.Reason = Generate, "forced"
		case !same:
			s.Locked = LockedJob{Name: j.Name, Model: j.Model, Attempt: 1, Identity: plain}
			s.Action, s.Reason = Generate, "new"
			if had {
				s.Reason = "changed"
			}
		default:
			s.Locked = prev
			p.decide(s, now())
		}
		j.identity = s.Locked.Identity
		steps[i] = s
		return s
	}
	for _, i := range idx {
		s := visit(i)
		p.Steps = append(p.Steps, s)
		p.byName[s.Job.Name] = s
	}
	for _, s := range p.Steps {
		if s.Action != Generate || s.clobber {
			continue
		}
		// An output in the way: say so before anything is spent.
		spec := job.Spec{Model: s.Job.Model, Params: s.Job.Input, Output: job.Output{Dir: out, Template: s.Job.tmpl}}
		if err := job.Precheck(spec); err != nil {
			return nil, &Error{File: m.Path, Line: s.Job.Line, Job: s.Job.Name, Err: err}
		}
	}
	for _, s := range p.Steps {
		if s.fresh {
			lock.Put(s.Locked)
		}
	}
	return p, nil
}

// terminal reports a request status after which nothing changes.
func terminal(status string) bool {
	switch status {
	case higgsfield.StatusCompleted, higgsfield.StatusFailed, higgsfield.StatusNSFW, higgsfield.StatusCanceled:
		return true
	}
	return false
}

// decide picks the action of a job whose identity the lock already knows.
func (p *Plan) decide(s *Step, now time.Time) {
	l := &s.Locked
	if l.Attempt < 1 {
		l.Attempt = 1
	}
	switch {
	case l.RequestID == "":
		// Killed before the submit was answered, or the answer was lost:
		// the same key finds the request if the API made one.
		s.Action, s.Reason = Generate, "not submitted yet"
	case l.Status == higgsfield.StatusCompleted && len(l.Files) == 0:
		s.Action, s.Reason = Redownload, "not downloaded yet"
	case l.Status == higgsfield.StatusCompleted:
		missing, expired := 0, false
		for k, f := range l.Files {
			ok, st := check(p.abs(f.Path), f, p.verify)
			switch {
			case !ok:
				missing++
				if exp, err := time.Parse(time.RFC3339, f.ExpiresAt); f.URL == "" || (err == nil && !exp.After(now)) {
					expired = true
				}
			case f.Stat == nil || *f.Stat != *st:
				l.Files[k].Stat = st
				s.fresh = true
			}
		}
		switch {
		case missing == 0:
			s.Action, s.Reason = UpToDate, ""
		case expired:
			// The outputs are gone on both sides: a new request, with the
			// next attempt's key (the old key would replay the old one).
			l.Attempt++
			l.RequestID, l.Status, l.Error = "", "", "" // the files stay: they are this job's to replace
			s.Action, s.Reason = Generate, "outputs missing and expired"
		default:
			s.Action, s.Reason = Redownload, fmt.Sprintf("%d of %d files missing or changed", missing, len(l.Files))
		}
	case l.Status == higgsfield.StatusFailed || l.Status == higgsfield.StatusNSFW || l.Status == higgsfield.StatusCanceled:
		s.Action, s.Reason = Generate, "last attempt "+l.Status
		l.Attempt++
		l.RequestID, l.Status, l.Error = "", "", "" // the files stay: they are this job's to replace
	default:
		s.Action, s.Reason = Wait, "request "+cmp.Or(l.Status, "submitted")
	}
	if p.ephemeral && (s.Action == Redownload || s.Action == Wait) {
		// The request went with the fake API of its run: neither its URLs
		// nor its status can be had. The old key would find nothing either,
		// but the next attempt's keeps keys one per request.
		what := "outputs missing"
		if s.Action == Wait {
			what = "its run stopped waiting"
		}
		l.Attempt++
		l.RequestID, l.Status, l.Error = "", "", "" // the files stay: they are this job's to replace
		s.Action, s.Reason = Generate, what+"; a sandbox request ends with its run"
	}
}

// foreign reports recorded files that are not where this run saves: an
// absolute path, or one outside the output directory (a hand-edited lock
// must not make hf overwrite ../../.bashrc).
func (p *Plan) foreign(files []LockedFile) bool {
	outAbs, err := filepath.Abs(p.OutDir)
	if err != nil {
		return len(files) > 0
	}
	for _, f := range files {
		rel := filepath.FromSlash(f.Path)
		if filepath.IsAbs(rel) || strings.HasPrefix(f.Path, "/") || filepath.VolumeName(rel) != "" {
			return true
		}
		abs, err := filepath.Abs(p.abs(f.Path))
		if err != nil {
			return true
		}
		if r, err := filepath.Rel(outAbs, abs); err != nil || !filepath.IsLocal(r) {
			return true
		}
	}
	return false
}

// abs is where a lock path lives on disk.
func (p *Plan) abs(rel string) string {
	return filepath.Join(p.Manifest.Dir, filepath.FromSlash(rel))
}

// rel is how the lock records path.
func (p *Plan) rel(path string) string {
	absDir, err1 := filepath.Abs(p.Manifest.Dir)
	absPath, err2 := filepath.Abs(path)
	if err1 == nil && err2 == nil {
		if r, err := filepath.Rel(absDir, absPath); err == nil {
			return filepath.ToSlash(r)
		}
	}
	return filepath.ToSlash(path)
}

// display is how path is shown and printed: relative to the working
// directory when the manifest's directory is.
func (p *Plan) display(rel string) string { return p.abs(rel) }

func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Estimator is the free estimate endpoint.
type Estimator interface {
	Estimate(ctx context.Context, model string, params map[string]any) (*higgsfield.Estimate, error)
}

// Estimate asks what every step that would generate costs, concurrency at
// a time, and sets Credits on those steps. Inputs filled by from (unknown
// until the dependency ran) and local files are left out of the estimate's
// body. It never submits anything.
func (p *Plan) Estimate(ctx context.Context, e Estimator, concurrency int) (map[string]float64, float64, error) {
	var gen []*Step
	for _, s := range p.Steps {
		if s.Action == Generate {
			gen = append(gen, s)
		}
	}
	costs := make([]float64, len(gen))
	errs := make([]error, len(gen))
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i, s := range gen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			body := maps.Clone(s.Job.Input)
			for f := range s.Job.From {
				delete(body, f)
			}
			for _, f := range s.Files { // "refs.images[0]" is under "refs"
				top, _, _ := strings.Cut(f.Field, ".")
				top, _, _ = strings.Cut(top, "[")
				delete(body, top)
			}
			est, err := e.Estimate(ctx, s.Job.Model, body)
			if err != nil {
				errs[i] = fmt.Errorf("estimating job %s: %w", s.Job.Name, err)
				return
			}
			c, err := strconv.ParseFloat(strings.TrimSpace(est.Credits), 64)
			if err != nil || math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
				// NaN compares false with any --max-credits: it must not pass.
				errs[i] = fmt.Errorf("estimating job %s: credits %q is not a cost", s.Job.Name, est.Credits)
				return
			}
			costs[i] = c
		}()
	}
	wg.Wait()
	per := make(map[string]float64, len(gen))
	total := 0.0
	for i, s := range gen {
		if errs[i] != nil {
			return nil, 0, errs[i]
		}
		per[s.Job.Name] = costs[i]
		total += costs[i]
	}
	return per, total, nil
}
