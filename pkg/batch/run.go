package batch

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/exitcode"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

// EventKind names what happened in a run.
type EventKind string

const (
	// Started: a job began (Action says how); Counts include it.
	Started EventKind = "started"
	// Progress: a step of the job's generation (Job holds pkg/job's event).
	Progress EventKind = "progress"
	// Finished: a job ended (Outcome).
	Finished EventKind = "finished"
	// Paused: the account's queue is full; no submit until Until.
	Paused EventKind = "paused"
	// Warning: something degraded, the run goes on (Message).
	Warning EventKind = "warning"
)

// Counts is where a run stands.
type Counts struct {
	Total, Done, Running, Failed int
}

// Event is one step of a run, handed to a renderer.
type Event struct {
	Kind    EventKind
	Time    time.Time
	Name    string // the job ("" for run-wide events)
	Index   int    // its 1-based position in the manifest
	Action  Action
	Job     events.Event
	Outcome *Outcome
	Until   time.Time
	Message string
	Counts  Counts
}

// RunOptions tune Plan.Run.
type RunOptions struct {
	// Runner runs each job; it is copied per job with its own event sink,
	// so every job shares its client, journal and webhook endpoint.
	Runner *job.Runner
	// Concurrency bounds requests in flight (submitted, not terminal);
	// default 4.
	Concurrency int
	// FailFast stops starting jobs after the first failure.
	FailFast bool
	// Timeout bounds each job's wait (0: none).
	Timeout time.Duration
	// Files resolves @path inputs; nil sends them as written.
	Files Files
	// Gate is shared with the client's retry hook (see Gate.NoteRetry);
	// nil makes one.
	Gate *Gate
	// Emit receives events from several goroutines; it must not block.
	Emit func(Event)
	// Credits, when estimated, are reported per job.
	Credits map[string]float64
	// ExpiresAfter is each request's retention (Hf-Expires-After); it must
	// be the one the plan's identities were computed with.
	ExpiresAfter time.Duration
}

// Gate holds every submit of a run while the account's queue is full.
type Gate struct {
	mu    sync.Mutex
	until time.Time
	// Default is the pause when a 429 carries no Retry-After (default 10s).
	Default time.Duration
}

// Pause holds submits for d from now (never shortening a longer pause) and
// returns until when.
func (g *Gate) Pause(d time.Duration) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d <= 0 {
		d = g.Default
		if d <= 0 {
			d = 10 * time.Second
		}
	}
	if u := time.Now().Add(d); u.After(g.until) {
		g.until = u
	}
	return g.until
}

// Wait returns when submits may go on, or ctx's error.
func (g *Gate) Wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		d := time.Until(g.until)
		g.mu.Unlock()
		if d <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// NoteRetry is for the API client's retry hook: a submit answered 429
// pauses every other submit of the run for as long as it was told to wait.
func (g *Gate) NoteRetry(op string, err error, delay time.Duration) {
	if op == "submit" && queueFull(err) {
		g.Pause(delay)
	}
}

// queueFull: the API refused a submit because the account's queue is full;
// nothing was created or charged, so the same key may be sent again.
func queueFull(err error) bool {
	var api *higgsfield.APIError
	return errors.As(err, &api) && api.StatusCode == http.StatusTooManyRequests
}

var errAuth = errors.New("credentials rejected")

type scheduler struct {
	p        *Plan
	o        RunOptions
	ctx      context.Context
	stopAll  context.CancelCauseFunc
	gate     *Gate
	outcomes []*Outcome
	starts   []time.Time
	index    map[*Step]int

	halt atomic.Bool // --fail-fast saw a failure

	ownersOnce sync.Once
	owners     func(path string) string

	mu     sync.Mutex
	counts Counts
}

// Run carries out the plan: up-to-date jobs at once, the rest as slots,
// dependencies and the queue allow. It returns when every job has ended;
// ctx's cancellation with job.ErrInterrupt is the first Ctrl-C. The lock
// file is written as requests are made and once at the end.
func (p *Plan) Run(ctx context.Context, o RunOptions) *Report {
	start := time.Now()
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Emit == nil {
		o.Emit = func(Event) {}
	}
	gate := o.Gate
	if gate == nil {
		gate = &Gate{}
	}
	rctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s := &scheduler{p: p, o: o, ctx: rctx, stopAll: stop, gate: gate,
		outcomes: make([]*Outcome, len(p.Steps)), starts: make([]time.Time, len(p.Steps)), index: make(map[*Step]int, len(p.Steps))}
	s.counts.Total = len(p.Steps)
	forced := false
	for i, st := range p.Steps {
		s.index[st] = i
		if st.Locked.Nonce != "" && st.Locked.RequestID == "" {
			if prev, _ := p.Lock.Get(st.Job.Name); prev.Nonce != st.Locked.Nonce {
				p.Lock.Put(st.Locked)
				forced = true
			}
		}
	}
	// A --force nonce is random: it is on disk before anything is
	// submitted, so the run after a kill sends the same keys.
	if forced {
		if err := p.Lock.Commit(); err != nil {
			r := &Report{Jobs: make([]*Outcome, 0)}
			for _, st := range p.Steps {
				r.Jobs = append(r.Jobs, &Outcome{Name: st.Job.Name, Model: st.Job.Model, State: StateNotRun, Files: []File{}, Error: err.Error()})
			}
			r.Summary.LockFile = p.Lock.Path()
			r.lockErr = err
			r.summarize(0)
			return r
		}
	}
	s.dispatch()
	// A job taken out of the manifest keeps its entry while its files are
	// on disk: put back, it is up to date (and its files still its own)
	// rather than in its own way.
	p.Lock.Keep(func(j LockedJob) bool {
		if _, ok := p.Manifest.Job(j.Name); ok {
			return true
		}
		for _, f := range j.Files {
			if info, err := os.Lstat(p.abs(f.Path)); err == nil && info.Mode().IsRegular() && info.Size() == f.Bytes {
				return true
			}
		}
		return false
	})
	if err := p.Lock.Save(); err != nil {
		o.Emit(Event{Kind: Warning, Time: time.Now(), Message: err.Error()})
	}
	r := &Report{Jobs: s.outcomes}
	r.Summary.LockFile = p.Lock.Path()
	r.interrupted = errors.Is(context.Cause(ctx), job.ErrInterrupt)
	r.auth = errors.Is(context.Cause(rctx), errAuth)
	r.summarize(time.Since(start))
	return r
}

// indexHeap keeps ready steps in manifest order.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (s *scheduler) dispatch() {
	steps := s.p.Steps
	n := len(steps)
	waiting := make([]int, n)      // unfinished dependencies in this plan
	dependants := make([][]int, n) // who waits on whom
	for i, st := range steps {
		for _, d := range st.Job.deps {
			dep := s.p.Manifest.Jobs[d].Name
			ds, ok := s.p.byName[dep]
			if !ok {
				continue
			}
			di := s.index[ds]
			waiting[i]++
			dependants[di] = append(dependants[di], i)
		}
	}
	var free, slot indexHeap // ready steps needing no slot / a slot
	ready := func(i int) {
		if steps[i].Action == Generate || steps[i].Action == Wait {
			heap.Push(&slot, i)
		} else {
			heap.Push(&free, i)
		}
	}
	for i := range steps {
		if waiting[i] == 0 {
			ready(i)
		}
	}
	doneCh := make(chan int, n)
	freeCh := make(chan struct{}, n)
	downloads := make(chan struct{}, s.o.Concurrency)
	slots, running := s.o.Concurrency, 0
	stopping := false
	finished := func(i int) {
		for _, d := range dependants[i] {
			if waiting[d]--; waiting[d] == 0 {
				ready(d)
			}
		}
	}
	for {
		if s.halt.Load() {
			stopping = true
		}
		for !stopping && (free.Len() > 0 || (slots > 0 && slot.Len() > 0)) {
			var i int
			if free.Len() > 0 {
				i = heap.Pop(&free).(int)
			} else {
				i = heap.Pop(&slot).(int)
			}
			st := steps[i]
			if o := s.blocked(st); o != nil {
				s.finish(i, o)
				finished(i)
				continue
			}
			switch st.Action {
			case UpToDate:
				s.started(i, st)
				s.finish(i, s.upToDate(st, time.Now()))
				finished(i)
				continue
			case Redownload:
				running++
				s.started(i, st)
				go func() {
					downloads <- struct{}{}
					o := s.redownload(st)
					<-downloads
					s.finish(i, o)
					doneCh <- i
				}()
			default:
				slots--
				running++
				s.started(i, st)
				var once sync.Once
				release := func() { once.Do(func() { freeCh <- struct{}{} }) }
				go func() {
					o := s.exec(st, release)
					release()
					s.finish(i, o)
					doneCh <- i
				}()
			}
		}
		if running == 0 && (stopping || (free.Len() == 0 && slot.Len() == 0)) {
			break
		}
		select {
		case i := <-doneCh:
			running--
			finished(i)
			if s.o.FailFast && !s.outcomes[i].State.Succeeded() {
				s.halt.Store(true)
			}
		case <-freeCh:
			slots++
		case <-s.ctx.Done():
			stopping = true
		}
		if s.ctx.Err() != nil {
			stopping = true
		}
	}
	// Whatever never started.
	for i, st := range steps {
		if s.outcomes[i] == nil {
			o := s.blocked(st)
			if o == nil {
				o = &Outcome{State: StateNotRun, Error: "not run"}
				if s.o.FailFast && s.ctx.Err() == nil {
					o.Error = "not run: --fail-fast stopped the batch"
				}
			}
			s.finish(i, o)
		}
	}
}

// blocked returns the outcome of a step that cannot run because a job it
// takes an input from did not succeed, or nil.
func (s *scheduler) blocked(st *Step) *Outcome {
	for _, ref := range st.Job.From {
		ds, ok := s.p.byName[ref.Job]
		if !ok {
			continue
		}
		o := s.outcomes[s.index[ds]]
		switch {
		case o == nil:
			return nil // still to run; the caller decides
		case o.State == StateNotRun || o.State == StateInterrupted:
			return &Outcome{State: StateNotRun, Error: "not run: job " + ref.Job + " did not run"}
		case !o.State.Succeeded():
			return &Outcome{State: StateSkipped, ExitCode: exitcode.Error, Error: "skipped: job " + ref.Job + " did not succeed"}
		}
	}
	return nil
}

func (s *scheduler) emit(ev Event) {
	ev.Time = time.Now()
	s.o.Emit(ev)
}

func (s *scheduler) started(i int, st *Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts[i] = time.Now()
	if st.Action != UpToDate {
		s.counts.Running++
	}
	s.emit(Event{Kind: Started, Name: st.Job.Name, Index: st.Job.Index, Action: st.Action, Counts: s.counts})
}

// finish completes o with what every outcome carries and reports it.
func (s *scheduler) finish(i int, o *Outcome) {
	st := s.p.Steps[i]
	o.Name, o.Index = st.Job.Name, st.Job.Index
	if o.Model == "" {
		o.Model = st.Job.Model
	}
	if o.Files == nil {
		o.Files = []File{}
	}
	if c, ok := s.o.Credits[st.Job.Name]; ok && st.Action == Generate {
		o.Credits = &c
	}
	if o.Err != nil {
		o.Error = o.Err.Error()
		if o.ExitCode == 0 {
			o.ExitCode = ExitCodeOf(o.Err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.starts[i].IsZero() {
		o.Seconds = math.Round(time.Since(s.starts[i]).Seconds()*1000) / 1000
	}
	s.outcomes[i] = o
	s.counts.Done++
	if o.State != StateNotRun && o.State != StateSkipped && st.Action != UpToDate {
		s.counts.Running--
	}
	if !o.State.Succeeded() && o.State != StateNotRun {
		s.counts.Failed++
	}
	s.emit(Event{Kind: Finished, Name: st.Job.Name, Index: st.Job.Index, Action: st.Action, Outcome: o, Counts: s.counts})
}

func (s *scheduler) files(l LockedJob) []File {
	out := make([]File, len(l.Files))
	for k, f := range l.Files {
		out[k] = File{Path: s.p.display(f.Path), Bytes: f.Bytes, SHA256: f.SHA256, URL: f.URL}
	}
	return out
}

func (s *scheduler) upToDate(st *Step, _ time.Time) *Outcome {
	l := st.Locked
	return &Outcome{Model: l.Model, RequestID: l.RequestID, Status: l.Status, State: StateUpToDate, Files: s.files(l)}
}

// sink is a job's event sink: it keeps the lock in step with the request
// and releases the job's slot once the request is terminal.
func (s *scheduler) sink(st *Step, release func()) events.Sink {
	name := st.Job.Name
	return func(ev events.Event) {
		switch ev.Kind {
		case events.Submitted:
			s.p.Lock.Update(name, func(l *LockedJob) { l.RequestID, l.Status = ev.RequestID, ev.Status })
			s.emit(Event{Kind: Progress, Name: name, Index: st.Job.Index, Job: ev})
			// The request id is on disk before the wait begins (writes
			// of submits close together are shared).
			if err := s.p.Lock.Commit(); err != nil {
				s.emit(Event{Kind: Warning, Name: name, Message: err.Error()})
			}
			return
		case events.StatusChanged:
			s.p.Lock.Update(name, func(l *LockedJob) { l.Status = ev.Status })
		case events.Completed:
			s.p.Lock.Update(name, func(l *LockedJob) { l.Status, l.Error = ev.Status, ev.Outcome.Reason })
			s.p.Lock.Flush()
			if s.o.FailFast && ev.Status != higgsfield.StatusCompleted {
				s.halt.Store(true) // before the slot frees up
			}
			release()
		case events.Detached:
			if ev.Status == higgsfield.StatusCanceled { // canceled while queued
				s.p.Lock.Update(name, func(l *LockedJob) { l.Status = ev.Status })
			}
			release()
		}
		s.emit(Event{Kind: Progress, Name: name, Index: st.Job.Index, Job: ev})
	}
}

func (s *scheduler) runner(st *Step, release func()) *job.Runner {
	r := *s.o.Runner
	r.Emit = s.sink(st, release)
	return &r
}

// input is the body a job submits: from fields filled with the URLs of
// the outputs they name, local files uploaded.
func (s *scheduler) input(st *Step) (map[string]any, error) {
	in := maps.Clone(st.Job.Input)
	for field, ref := range st.Job.From {
		ds := s.p.byName[ref.Job]
		o := s.outcomes[s.index[ds]]
		if ref.Output > len(o.Files) {
			return nil, fmt.Errorf("from.%s: job %s made %d outputs, not %d", field, ref.Job, len(o.Files), ref.Output)
		}
		url := o.Files[ref.Output-1].URL
		if url == "" {
			return nil, fmt.Errorf("from.%s: the lock records no URL for output %d of job %s (run it with --force)", field, ref.Output, ref.Job)
		}
		in[field] = url
	}
	if s.o.Files != nil { // also unescapes "@@" when there is no file
		return s.o.Files.Resolve(s.ctx, in, s.p.Manifest.Dir)
	}
	return in, nil
}

// exec submits (or picks up) one request and waits for it.
func (s *scheduler) exec(st *Step, release func()) *Outcome {
	name := st.Job.Name
	r := s.runner(st, release)
	out := job.Output{Dir: s.p.OutDir, Template: st.Job.tmpl, Clobber: st.clobber, Owner: s.owner(st)}
	if st.Action == Wait {
		// A file at the target is this request's, saved by a run killed
		// before its lock write.
		l := st.Locked
		out.Have, out.Clobber = s.absFiles(l), true
		res, err := s.resume(r, job.ResumeSpec{RequestID: l.RequestID, Output: out, Timeout: s.o.Timeout, Wait: true})
		return s.settle(st, res, err, StateGenerated)
	}
	in, err := s.input(st)
	if err != nil {
		return &Outcome{State: StateFailed, Err: err, ExitCode: exitcode.Error}
	}
	// The key is deterministic (identity and attempt follow from the
	// manifest and the lock on disk; a --force nonce was written before the
	// run began), so a run killed before its lock write sends the same key
	// again and the API answers with the same request, uncharged.
	s.p.Lock.Put(st.Locked)
	spec := job.Spec{Model: st.Job.Model, Params: in, IdempotencyKey: st.Key(), Output: out, Timeout: s.o.Timeout, ExpiresAfter: s.o.ExpiresAfter}
	for {
		if err := s.gate.Wait(s.ctx); err != nil {
			return s.settle(st, job.Result{}, &job.InterruptedError{}, StateGenerated)
		}
		res, err := r.Generate(s.ctx, spec)
		if err != nil && queueFull(err) && s.ctx.Err() == nil {
			var api *higgsfield.APIError
			errors.As(err, &api)
			until := s.gate.Pause(api.RetryAfter)
			s.emit(Event{Kind: Paused, Name: name, Index: st.Job.Index, Until: until, Message: "the account's queue is full"})
			continue
		}
		return s.settle(st, res, err, StateGenerated)
	}
}

// owner says who a saved file belongs to for st's downloads: the files the
// lock records for st are its own to replace (its earlier generations);
// any other file is whoever the journal says, read once per batch.
func (s *scheduler) owner(st *Step) func(path string) string {
	s.ownersOnce.Do(func() {
		if s.o.Runner != nil {
			s.owners = s.o.Runner.Owners()
		}
	})
	mine := map[string]bool{}
	for _, f := range st.prevFiles {
		if abs, err := filepath.Abs(s.p.abs(f.Path)); err == nil {
			mine[abs] = true
		}
	}
	return func(path string) string {
		if mine[path] || s.owners == nil {
			return ""
		}
		return s.owners(path)
	}
}

func (s *scheduler) absFiles(l LockedJob) []journal.File {
	var have []journal.File
	for _, f := range l.Files {
		have = append(have, journal.File{Path: s.p.abs(f.Path), URL: f.URL, Bytes: f.Bytes, SHA256: f.SHA256, ContentType: f.ContentType})
	}
	return have
}

// settle records a finished request in the lock and makes its outcome.
func (s *scheduler) settle(st *Step, res job.Result, err error, ok State) *Outcome {
	name := st.Job.Name
	o := &Outcome{Model: res.Model, RequestID: res.RequestID, Status: res.Status, NotifiedBy: res.NotifiedBy, Err: err}
	if err == nil {
		files := make([]LockedFile, 0, len(res.Files))
		for _, f := range res.Files {
			lf := LockedFile{Path: s.p.rel(f.Path), Bytes: f.Bytes, SHA256: f.SHA256, URL: f.URL, ContentType: f.ContentType, ExpiresAt: res.ExpiresAt}
			if info, err := os.Stat(f.Path); err == nil {
				lf.Stat = statOf(info)
			}
			files = append(files, lf)
		}
		s.p.Lock.Update(name, func(l *LockedJob) {
			if res.RequestID != "" {
				l.RequestID = res.RequestID
			}
			l.Model, l.Status, l.Error, l.Files = st.Job.Model, higgsfield.StatusCompleted, "", files
		})
		s.p.Lock.Flush()
		o.State = ok
		o.Files = s.files(LockedJob{Files: files})
		return o
	}
	var intr *job.InterruptedError
	switch {
	case errors.As(err, &intr) && intr.RequestID == "" && res.RequestID == "":
		// Stopped before its submit: nothing was asked of the API.
		o.State, o.Err = StateNotRun, nil
		o.Error = "not run: interrupted before its submit"
		return o
	case errors.As(err, &intr):
		o.State = StateInterrupted
		switch {
		case intr.RequestID == "":
		case intr.Canceled:
			o.Err = fmt.Errorf("canceled %s while it was queued", intr.RequestID)
		case s.p.ephemeral:
			o.Err = fmt.Errorf("%s ends with this run (sandbox); the next run generates the job again", intr.RequestID)
		default:
			o.Err = fmt.Errorf("%s goes on; hf batch %s picks it up", intr.RequestID, s.p.Manifest.Path)
		}
	case errors.Is(context.Cause(s.ctx), errAuth):
		o.State = StateInterrupted
	default:
		o.State = StateFailed
	}
	var api *higgsfield.APIError
	if st.Action != Generate && errors.As(err, &api) && api.StatusCode == http.StatusNotFound {
		// The recorded request is unknown to the API (another account, or
		// long gone): the next run generates the job afresh, with the next
		// attempt's key.
		s.p.Lock.Update(name, func(l *LockedJob) {
			l.Attempt++
			l.RequestID, l.Status, l.Error = "", "", "" // the files stay: they are this job's to replace
		})
		o.Err = fmt.Errorf("%w; the API does not know the recorded request, so the next run generates the job again", err)
	}
	var dl *job.DownloadError
	if errors.As(err, &dl) {
		// Completed but not all saved: the next run downloads again.
		s.p.Lock.Update(name, func(l *LockedJob) { l.Status, l.Files = higgsfield.StatusCompleted, nil })
	}
	if code := ExitCodeOf(err); code == exitcode.Auth {
		s.stopAll(errAuth)
	}
	return o
}

// redownload fetches the recorded outputs of a completed request: from the
// recorded URLs when they are still valid, else through the request's
// status. No generation, no charge.
func (s *scheduler) redownload(st *Step) *Outcome {
	l := st.Locked
	if len(l.Files) > 0 {
		if files, err := s.fetchRecorded(st); err == nil {
			s.p.Lock.Update(st.Job.Name, func(j *LockedJob) { j.Files = files })
			return &Outcome{Model: l.Model, RequestID: l.RequestID, Status: l.Status, State: StateRedownloaded, Files: s.files(LockedJob{Files: files})}
		} else if s.ctx.Err() != nil {
			return &Outcome{State: StateInterrupted, RequestID: l.RequestID, Err: &job.InterruptedError{}}
		} else {
			s.emit(Event{Kind: Warning, Name: st.Job.Name, Index: st.Job.Index, Message: fmt.Sprintf("re-downloading from the recorded URLs failed (%v); asking the API for fresh ones", err)})
		}
	}
	r := s.runner(st, func() {})
	out := job.Output{Dir: s.p.OutDir, Template: st.Job.tmpl, Clobber: true, Have: s.absFiles(l), Owner: s.owner(st)}
	res, err := s.resume(r, job.ResumeSpec{RequestID: l.RequestID, Output: out, Timeout: s.o.Timeout, Wait: true})
	return s.settle(st, res, err, StateRedownloaded)
}

// resume picks a recorded request up. Its first status check is a single
// GET: a transient failure (5xx, a dropped connection) is tried again a few
// times rather than failing the job.
func (s *scheduler) resume(r *job.Runner, rs job.ResumeSpec) (job.Result, error) {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := r.Resume(s.ctx, rs)
		var api *higgsfield.APIError
		transient := err != nil && res.Status == "" && s.ctx.Err() == nil && higgsfield.Retryable(err) &&
			(!errors.As(err, &api) || api.StatusCode >= 500 || api.StatusCode == http.StatusTooManyRequests)
		if !transient || attempt == 5 {
			return res, err
		}
		select {
		case <-s.ctx.Done():
			return res, err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (s *scheduler) fetchRecorded(st *Step) ([]LockedFile, error) {
	fetcher := s.o.Runner.Fetcher
	if fetcher == nil {
		fetcher = &download.Fetcher{}
	}
	files := make([]LockedFile, len(st.Locked.Files))
	copy(files, st.Locked.Files)
	for k, f := range files {
		abs := s.p.abs(f.Path)
		if ok, stat := check(abs, f, s.p.verify); ok {
			files[k].Stat = stat
			continue
		}
		tmpl, err := download.ParseTemplate(filepath.Base(abs))
		if err != nil {
			return nil, err
		}
		got, err := fetcher.Fetch(s.ctx, f.URL, download.Target{Dir: filepath.Dir(abs), Template: tmpl, Clobber: true,
			ContentTypeHint: f.ContentType, Vars: download.Vars{ID: st.Locked.RequestID, Model: st.Job.Model, Index: 1, Count: 1}})
		if err != nil {
			return nil, err
		}
		if got.SHA256 != f.SHA256 {
			return nil, fmt.Errorf("%s: the recorded URL now serves other content (sha256 %s, recorded %s)", f.Path, got.SHA256, f.SHA256)
		}
		s.emit(Event{Kind: Progress, Name: st.Job.Name, Index: st.Job.Index, Job: events.Event{Kind: events.Downloaded, Time: time.Now(), RequestID: st.Locked.RequestID, Download: events.Download{Path: got.Path, Bytes: got.Bytes, Index: k + 1, Count: len(files), URL: f.URL}}})
		if info, err := os.Stat(got.Path); err == nil {
			files[k].Stat = statOf(info)
		}
	}
	return files, nil
}
