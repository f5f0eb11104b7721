// Package job is the lifecycle shared by generate, wait and download:
// submit → await → download → record. It never prints; it reports through
// events (pkg/events) and returns typed errors that pkg/cmd/root maps to exit
// codes.
package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hf-cli/hf/pkg/await"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/webhook"
)

// ErrInterrupt is the cancellation cause the CLI sets on the first Ctrl-C.
var ErrInterrupt = errors.New("interrupted")

// Runner runs jobs against one API client, journal and (optionally) one
// webhook endpoint shared by every request of the process.
type Runner struct {
	Client  *higgsfield.Client
	Journal *journal.Journal
	Fetcher *download.Fetcher
	Emit    Sink
	// Endpoint, when set, is the webhook endpoint the API delivers to.
	Endpoint Endpoint
	// Schedule overrides the polling schedule (zero: await.Sparse with an
	// endpoint, await.Tight without).
	Schedule await.Schedule
	// MaxParallel bounds concurrent downloads (default 4).
	MaxParallel int
	// Ephemeral: requests do not outlive this process (the sandbox's fake
	// API lives in it), so errors never advise hf wait or hf download.
	Ephemeral bool
}

// Endpoint is an open webhook endpoint shared by every request of a run
// (pkg/endpoint opens one).
type Endpoint interface {
	// URL is the full webhook URL (with its secret path) sent with each submit.
	URL() string
	// Expect returns the channel that request id's deliveries arrive on.
	Expect(id string) <-chan webhook.Delivery
	// Forget drops what Expect set up for id.
	Forget(id string)
	// Done is closed when the endpoint is lost (or closed); polling then takes over.
	Done() <-chan struct{}
}

// Sink receives the job's events.
type Sink = events.Sink

// Output says where outputs go.
type Output struct {
	Dir string
	// Template is parsed once, where the user gave it; the zero Template
	// means the recorded one (hf wait/download), else the default.
	Template download.Template
	Clobber  bool
	// Stdout, when set, receives the single output instead of a file (-o -).
	Stdout io.Writer
	// Have are outputs saved by an earlier run into the same place; those
	// still intact on disk are not downloaded again.
	Have []download.File
	// Owner, when set, says which request a saved file belongs to in place
	// of the journal (hf batch: a job's own earlier outputs are its to
	// replace, and the journal is read once per batch, not once per job).
	Owner func(path string) string
}

// Spec is one generation.
type Spec struct {
	Model  string
	Params map[string]any
	// IdempotencyKey is sent with the submit (generated when empty). Replaying
	// a key with the same parameters returns the original request, uncharged.
	IdempotencyKey string
	Output         Output
	Timeout        time.Duration
	NoWait         bool
	// ExpiresAfter is the request's retention (Hf-Expires-After); 0 leaves
	// the account's.
	ExpiresAfter time.Duration
}

// Result is what a job ended with; it is also the --json object.
type Result struct {
	RequestID  string         `json:"request_id"`
	Model      string         `json:"model"`
	Status     string         `json:"status"`
	Files      []journal.File `json:"files"`
	NotifiedBy string         `json:"notified_by,omitempty"`
	Error      string         `json:"error,omitempty"`
	// ExpiresAt is when the API deletes the outputs (RFC 3339), when it says.
	ExpiresAt string `json:"expires_at,omitempty"`
}

// OutcomeError: the request ended failed, nsfw or canceled.
type OutcomeError struct{ RequestID, Status, Message string }

func (e *OutcomeError) Error() string {
	switch e.Status {
	case higgsfield.StatusNSFW:
		return fmt.Sprintf("request %s was rejected by content moderation (nsfw)", e.RequestID)
	case higgsfield.StatusCanceled:
		return fmt.Sprintf("request %s was canceled", e.RequestID)
	}
	msg := e.Message
	if msg == "" {
		msg = "no reason given"
	}
	return fmt.Sprintf("request %s failed: %s", e.RequestID, msg)
}

// TimeoutError: hf stopped waiting (or, with Downloading, downloading);
// the request goes on, or its outputs stay available.
type TimeoutError struct {
	RequestID string
	After     time.Duration
	// Downloading: the request had completed; the outputs were being saved.
	Downloading bool
	// Ephemeral: the request ends with this process (the sandbox).
	Ephemeral bool
}

func (e *TimeoutError) Error() string {
	if e.Ephemeral {
		return fmt.Sprintf("timed out after %s waiting for %s (a sandbox request ends with this run: give --timeout more time)", e.After, e.RequestID)
	}
	if e.Downloading {
		return fmt.Sprintf("timed out after %s while downloading the outputs of %s; they are safe: hf download %s", e.After, e.RequestID, e.RequestID)
	}
	return fmt.Sprintf("timed out after %s waiting for %s; it goes on: hf wait %s", e.After, e.RequestID, e.RequestID)
}

// errTimedOut is the cause of the context --timeout ends.
var errTimedOut = errors.New("timed out")

// DownloadError: the request completed but an output was not saved.
type DownloadError struct {
	RequestID string
	Err       error
	// Ephemeral: the request ends with this process (the sandbox).
	Ephemeral bool
}

func (e *DownloadError) Error() string {
	if e.Ephemeral {
		return fmt.Sprintf("%v (a sandbox request ends with this run: run it again)", e.Err)
	}
	var exists *download.ExistsError
	if errors.As(e.Err, &exists) {
		// Not --clobber: with a template, the taken name may be another
		// request's output. A name with the request id is this one's own.
		what := exists.Path + " already exists"
		if exists.Owner != "" {
			what = exists.Path + " is the saved output of request " + exists.Owner
		}
		return fmt.Sprintf("%s; the outputs are safe, save them under their own names: hf download %s -o '%s'", what, e.RequestID, download.DefaultTemplate)
	}
	var capped *OutputsCappedError
	if errors.As(e.Err, &capped) && e.Err == error(capped) {
		return capped.Error() // hf download cannot get more
	}
	return fmt.Sprintf("%v; the outputs are safe, retry with: hf download %s", e.Err, e.RequestID)
}
func (e *DownloadError) Unwrap() error { return e.Err }

// OutputsCappedError: the request made more outputs than hf downloads.
type OutputsCappedError struct{ Total, Max int }

func (e *OutputsCappedError) Error() string {
	return fmt.Sprintf("the request made %d outputs, more than the %d hf downloads of one request: %d were not saved", e.Total, e.Max, e.Total-e.Max)
}

// InterruptedError: the user pressed Ctrl-C.
type InterruptedError struct {
	RequestID string
	// Canceled: the request was still queued and hf canceled it.
	Canceled bool
	// Resume is the command that picks the request up again.
	Resume string
	// Key: interrupted while submitting, after an attempt that may have
	// reached the API; replaying with this Idempotency-Key finds the
	// request, if it was created, without a second charge.
	Key string
	// Detail, when set, says what became of the request in place of the
	// default words.
	Detail string
}

func (e *InterruptedError) Error() string {
	switch {
	case e.Detail != "":
		return "interrupted: " + e.Detail
	case e.Key != "":
		return "interrupted while submitting: the API may have created the request; " + ReplayHint(e.Key)
	case strings.HasPrefix(e.Resume, "hf download "):
		return fmt.Sprintf("interrupted while saving the outputs of %s; they stay available: %s", e.RequestID, e.Resume)
	case e.RequestID == "":
		return "interrupted"
	case e.Canceled:
		return fmt.Sprintf("interrupted: canceled %s while it was queued", e.RequestID)
	case e.Resume == "":
		return fmt.Sprintf("interrupted: stopped waiting for %s", e.RequestID)
	}
	return fmt.Sprintf("interrupted: %s goes on; resume with: %s", e.RequestID, e.Resume)
}

// SubmitUnknownError: every submit attempt failed without a clear answer
// (network errors, 5xx), so the request may exist anyway. Submitting again
// with Key and the same parameters finds it without a second charge.
type SubmitUnknownError struct {
	Key string
	Err error
}

func (e *SubmitUnknownError) Error() string {
	return fmt.Sprintf("submitting failed (%v); the API may have created the request anyway: %s", e.Err, ReplayHint(e.Key))
}
func (e *SubmitUnknownError) Unwrap() error { return e.Err }

// NotReadyError: `hf download` on a request that is not terminal yet.
type NotReadyError struct{ RequestID, Status string }

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("request %s is still %s; wait for it with: hf wait %s", e.RequestID, e.Status, e.RequestID)
}

func (r *Runner) emit(e events.Event) {
	if r.Emit != nil {
		e.Time = time.Now()
		r.Emit(e)
	}
}

func (r *Runner) journal(rec journal.Record) {
	if r.Journal == nil {
		return
	}
	if err := r.Journal.Append(rec); err != nil {
		r.emit(events.Event{Kind: events.Warning, RequestID: rec.RequestID, Text: "could not write the journal: " + err.Error()})
	}
}

// Precheck fails before any credit is spent when the output path does not
// depend on the request id and already exists (without --clobber), or when
// -o - cannot work.
func Precheck(spec Spec) error {
	n := higgsfield.ExpectedOutputs(spec.Params)
	if spec.Output.Stdout != nil {
		if n > 1 {
			return fmt.Errorf("-o - streams one output, but this request asks for %d", n)
		}
		return nil
	}
	tmpl := spec.Output.Template
	if tmpl.IsZero() {
		tmpl = download.Default
	}
	if spec.Output.Clobber || strings.Contains(tmpl.String(), "{id}") {
		return nil
	}
	ext := "png"
	if higgsfield.IsVideoModel(spec.Model) {
		ext = "mp4"
	}
	for i := 1; i <= n; i++ {
		t := download.Target{Dir: spec.Output.Dir, Template: tmpl, Vars: download.Vars{Model: spec.Model, Index: i, Count: n, Ext: ext}}
		if err := download.Precheck(t); err != nil {
			return err
		}
	}
	return nil
}

// Generate submits, waits, downloads and records one generation.
func (r *Runner) Generate(ctx context.Context, spec Spec) (Result, error) {
	res := Result{Model: spec.Model, Files: []journal.File{}}
	deadline := time.Now().Add(spec.Timeout) // --timeout bounds the whole run
	if ctx.Err() != nil {                    // Ctrl-C before anything was spent
		return res, &InterruptedError{}
	}
	if err := r.precheckOwners(spec); err != nil {
		return res, err
	}
	key := spec.IdempotencyKey
	if key == "" {
		key = uuid.NewString()
	}
	var hook string
	if r.Endpoint != nil {
		hook = r.Endpoint.URL()
	}
	st, err := r.submit(ctx, spec, key, hook)
	if err != nil {
		return res, err
	}
	res.RequestID, res.Status = st.RequestID, st.Status
	dir, _ := filepath.Abs(spec.Output.Dir)
	prompt, _ := spec.Params["prompt"].(string)
	have := r.replayed(st.RequestID, dir, spec.Output)
	r.journal(journal.Record{Event: journal.EventSubmitted, RequestID: st.RequestID, Model: spec.Model, Status: st.Status,
		StatusURL: st.StatusURL, CancelURL: st.CancelURL, Dir: dir, Template: spec.Output.Template.String(), Prompt: prompt, IdempotencyKey: key})
	r.emit(events.Event{Kind: events.Submitted, RequestID: st.RequestID, Model: spec.Model, Status: st.Status})
	if spec.NoWait {
		return res, nil
	}
	if ctx.Err() != nil { // Ctrl-C arrived during the submit
		return r.detached(res, st, true)
	}
	out := spec.Output
	out.Have = have
	return r.finish(ctx, res, st, out, spec.Timeout, finishMode{mayCancel: true, deadline: deadline})
}

// precheckOwners fails before anything is spent when --clobber would have
// a download replace another request's recorded output: the path does not
// depend on the request id and the journal records that file as another's.
func (r *Runner) precheckOwners(spec Spec) error {
	out := spec.Output
	if !out.Clobber || out.Stdout != nil || r.Journal == nil || out.Template.IsZero() || strings.Contains(out.Template.String(), "{id}") {
		return nil
	}
	n := higgsfield.ExpectedOutputs(spec.Params)
	owner := out.Owner
	if owner == nil {
		owner = r.Owners()
	}
	for _, ext := range []string{"png", "jpg", "webp", "mp4"} {
		for i := 1; i <= n; i++ {
			t := download.Target{Dir: out.Dir, Template: out.Template, Clobber: true, Owner: owner,
				Vars: download.Vars{Model: spec.Model, Index: i, Count: n, Ext: ext}}
			var exists *download.ExistsError
			if err := download.Precheck(t); errors.As(err, &exists) {
				return err
			}
		}
	}
	return nil
}

// Owners returns who owns a saved file by the journal: the request whose
// entry lists the absolute path, the most recently updated one if several
// do; "" when none does. The journal is read on first use, once.
func (r *Runner) Owners() func(path string) string {
	if r.Journal == nil {
		return nil
	}
	var once sync.Once
	byPath := map[string]string{}
	return func(path string) string {
		once.Do(func() {
			entries, err := r.Journal.Entries()
			if err != nil {
				return
			}
			newest := map[string]time.Time{}
			for _, e := range entries {
				for _, f := range e.Files {
					if t, ok := newest[f.Path]; !ok || e.UpdatedAt.After(t) {
						newest[f.Path], byPath[f.Path] = e.UpdatedAt, e.RequestID
					}
				}
			}
		})
		return byPath[path]
	}
}

// replayed returns what the journal says was saved for request id into
// the same place (dir and template), when the submit answered with a
// request this machine already has: an --idempotency-key replay. Those
// files, still intact, count as saved.
func (r *Runner) replayed(id, dir string, out Output) []journal.File {
	if r.Journal == nil || out.Stdout != nil || out.Clobber {
		return nil
	}
	e, ok, _ := r.Journal.Lookup(id)
	if !ok || e.Dir != dir || e.Template != out.Template.String() {
		return nil
	}
	return e.Files
}

// detached is what an interrupted wait returns: the error, and res with
// the last status seen (canceled when hf canceled it) and the reason.
func (r *Runner) detached(res Result, st *higgsfield.Status, mayCancel bool) (Result, error) {
	err := r.interrupted(st, mayCancel)
	res.Status = st.Status
	var ie *InterruptedError
	if errors.As(err, &ie) && ie.Canceled {
		res.Status = higgsfield.StatusCanceled
	}
	res.Error = err.Error()
	return res, err
}

// ResumeSpec picks up a request submitted earlier (hf wait / hf download).
type ResumeSpec struct {
	RequestID string
	// Output fields left empty come from the journal, else defaults.
	Output  Output
	Timeout time.Duration
	// Wait: keep waiting until terminal; otherwise a non-terminal status is a NotReadyError.
	Wait bool
}

// Resume checks the request's status at once, then waits (when asked) and
// downloads.
func (r *Runner) Resume(ctx context.Context, rs ResumeSpec) (Result, error) {
	res := Result{RequestID: rs.RequestID, Files: []journal.File{}}
	var statusURL string
	mode := finishMode{resumed: true, deadline: time.Now().Add(rs.Timeout)}
	out := rs.Output
	if r.Journal != nil {
		if e, ok, _ := r.Journal.Lookup(rs.RequestID); ok {
			res.Model, statusURL = e.Model, e.StatusURL
			mode.journaled = higgsfield.Terminal(e.Status)
			if out.Dir == "" && out.Template.IsZero() && !out.Clobber {
				// Same place as before: what was saved there already counts.
				out.Have = e.Files
			}
			if out.Dir == "" {
				out.Dir = e.Dir
			}
			if out.Template.IsZero() && e.Template != "" && out.Stdout == nil {
				t, err := download.ParseTemplate(e.Template)
				if err != nil {
					return res, fmt.Errorf("the template recorded for %s: %w", rs.RequestID, err)
				}
				out.Template = t
			}
		}
	}
	if out.Dir == "" {
		out.Dir = "."
	}
	if out.Template.IsZero() {
		out.Template = download.Default
	}
	st, err := r.check(ctx, rs.RequestID, statusURL, mode.deadline, rs.Timeout)
	if err != nil {
		if ctx.Err() != nil {
			return r.detached(res, &higgsfield.Status{RequestID: rs.RequestID}, false)
		}
		return res, err
	}
	res.Status = st.Status
	if !st.Terminal() && !rs.Wait {
		return res, &NotReadyError{RequestID: rs.RequestID, Status: st.Status}
	}
	return r.finish(ctx, res, st, out, rs.Timeout, mode)
}

// check is the first status check of hf wait / hf download: retried like
// the polls that follow it (5xx, network errors, a check that got no
// answer) on the polling schedule, within the timeout. A definite answer
// (404: no such request here, 401) is returned at once.
func (r *Runner) check(ctx context.Context, id, statusURL string, deadline time.Time, timeout time.Duration) (*higgsfield.Status, error) {
	cctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithDeadlineCause(ctx, deadline, errTimedOut)
		defer cancel()
	}
	delay := r.schedule().First
	for attempt := 1; ; attempt++ {
		st, err := r.Client.Status(cctx, id, statusURL)
		switch {
		case err == nil:
			return st, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case cctx.Err() != nil:
			return nil, &TimeoutError{RequestID: id, After: timeout, Ephemeral: r.Ephemeral}
		case !higgsfield.Retryable(err):
			return nil, err
		}
		r.emit(events.Event{Kind: events.Retry, RequestID: id, Retry: events.RetryInfo{Op: "status check", Err: err, Attempt: attempt, Delay: delay}})
		t := time.NewTimer(delay)
		select {
		case <-cctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &TimeoutError{RequestID: id, After: timeout, Ephemeral: r.Ephemeral}
		case <-t.C:
		}
		sched := r.schedule()
		delay = min(time.Duration(float64(delay)*max(sched.Factor, 1)), max(sched.Max, sched.First))
	}
}

// schedule is the polling schedule in use.
func (r *Runner) schedule() await.Schedule {
	sched := r.Schedule
	if sched.First == 0 {
		sched = await.Tight
		if r.Endpoint != nil {
			sched = await.Sparse
		}
	}
	return sched
}

// StatusCheckError: hf stopped following a submitted request because its
// status checks kept failing with an answer retrying does not change (404,
// 401, 422 three times running). The request itself may go on.
type StatusCheckError struct {
	RequestID string
	Err       error
}

func (e *StatusCheckError) Error() string {
	return fmt.Sprintf("checking the status of %s failed (%v); the request may go on: hf wait %s", e.RequestID, e.Err, e.RequestID)
}
func (e *StatusCheckError) Unwrap() error { return e.Err }

// maxDefiniteStatusErrors is how many 4xx answers in a row a status check
// of a known request may get before hf stops following it: one 404 or 401
// right after the submit (a replica that has not seen it yet, a load
// balancer's blip) is not the end.
const maxDefiniteStatusErrors = 3

// transientStatusError is a 4xx status answer that polling tries again
// (it hides the answer from higgsfield.Retryable).
type transientStatusError struct{ err error }

func (e transientStatusError) Error() string { return e.err.Error() }

// finishMode says how finish treats a request.
type finishMode struct {
	// resumed: picked up by hf wait / hf download, not just submitted.
	resumed bool
	// mayCancel: Ctrl-C may cancel the request while it is queued.
	mayCancel bool
	// journaled: the journal already records a terminal status.
	journaled bool
	// deadline ends the wait and the downloads when the timeout is set.
	deadline time.Time
}

func (r *Runner) finish(ctx context.Context, res Result, st *higgsfield.Status, out Output, timeout time.Duration, mode finishMode) (Result, error) {
	// The wait and the downloads share what is left of the timeout.
	tctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithDeadlineCause(ctx, mode.deadline, errTimedOut)
		defer cancel()
	}
	timedOut := func() bool { return errors.Is(context.Cause(tctx), errTimedOut) && ctx.Err() == nil }
	if !st.Terminal() {
		var err error
		st, res.NotifiedBy, err = r.wait(tctx, st)
		if err != nil {
			if errors.Is(context.Cause(ctx), ErrInterrupt) {
				return r.detached(res, st, mode.mayCancel)
			}
			res.Status = st.Status // the last one seen
			if timedOut() {
				err = &TimeoutError{RequestID: res.RequestID, After: timeout, Ephemeral: r.Ephemeral}
			}
			var pe *await.PermanentError
			if errors.As(err, &pe) {
				err = &StatusCheckError{RequestID: res.RequestID, Err: pe.Err}
			}
			res.Error = err.Error()
			return res, err
		}
	} else if mode.resumed {
		res.NotifiedBy = await.ByPoll
	}
	res.Status, res.Error, res.ExpiresAt = st.Status, st.Error, st.ExpiresAt
	if !mode.journaled {
		r.journal(journal.Record{Event: journal.EventStatus, RequestID: res.RequestID, Status: st.Status, Error: st.Error, NotifiedBy: res.NotifiedBy})
	}
	r.emit(events.Event{Kind: events.Completed, RequestID: res.RequestID, Model: res.Model, Status: st.Status, Outcome: events.Outcome{NotifiedBy: res.NotifiedBy, Reason: st.Error}})
	if st.Status != higgsfield.StatusCompleted {
		if res.Error == "" {
			res.Error = (&OutcomeError{RequestID: res.RequestID, Status: st.Status}).Error()
		}
		return res, &OutcomeError{RequestID: res.RequestID, Status: st.Status, Message: st.Error}
	}
	files, err := r.download(tctx, res, st, out)
	res.Files = files
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrInterrupt) {
			ie := &InterruptedError{RequestID: res.RequestID, Resume: "hf download " + res.RequestID}
			if r.Ephemeral {
				ie.Resume = ""
			}
			res.Error = ie.Error()
			return res, ie
		}
		r.journal(journal.Record{Event: journal.EventDownloadFailed, RequestID: res.RequestID, Error: err.Error(), Files: absolute(files)})
		res.Error = err.Error()
		if timedOut() {
			return res, &TimeoutError{RequestID: res.RequestID, After: timeout, Downloading: true}
		}
		var exists *download.ExistsError
		if mode.resumed && errors.As(err, &exists) {
			// hf download/wait was told where to write and that place is
			// taken: a usage problem, not a failed download.
			return res, exists
		}
		return res, &DownloadError{RequestID: res.RequestID, Err: err, Ephemeral: r.Ephemeral}
	}
	if out.Stdout == nil {
		r.journal(journal.Record{Event: journal.EventDownloaded, RequestID: res.RequestID, Files: absolute(files)})
	}
	return res, nil
}

// absolute returns files with absolute paths, so the journal means the
// same from any directory.
func absolute(files []journal.File) []journal.File {
	out := make([]journal.File, len(files))
	for i, f := range files {
		out[i] = f
		if p, err := filepath.Abs(f.Path); err == nil {
			out[i].Path = p
		}
	}
	return out
}

// saved finds an earlier, still intact copy of the output at rawURL. Asset
// URLs may be re-signed between answers, so the query is not compared.
func saved(have []journal.File, rawURL string) (journal.File, bool) {
	for _, f := range have {
		if download.SameAsset(f.URL, rawURL) && download.Matches(f.Path, f.Bytes, f.SHA256) {
			return f, true
		}
	}
	return journal.File{}, false
}

// wait resolves st's request to a terminal status within wctx. On
// failure it returns the last status it knew.
func (r *Runner) wait(wctx context.Context, st *higgsfield.Status) (*higgsfield.Status, string, error) {
	last := st
	failures := 0
	var definite atomic.Int32 // 4xx answers in a row
	opts := await.Options{
		Poll: func(ctx context.Context) (*higgsfield.Status, error) {
			s, err := r.Client.Status(ctx, st.RequestID, st.StatusURL)
			switch {
			case err == nil:
				definite.Store(0)
			case !higgsfield.Retryable(err) && higgsfield.StatusCodeOf(err) >= 400 && definite.Add(1) < maxDefiniteStatusErrors:
				return nil, transientStatusError{err}
			}
			return s, err
		},
		OnStatus: func(s *higgsfield.Status) {
			failures = 0
			if s.Status != last.Status {
				if !s.Terminal() { // finish records the terminal one
					r.journal(journal.Record{Event: journal.EventStatus, RequestID: st.RequestID, Status: s.Status})
				}
				r.emit(events.Event{Kind: events.StatusChanged, RequestID: s.RequestID, Status: s.Status})
			}
			last = s
		},
		OnPollError: func(err error) {
			failures++
			r.emit(events.Event{Kind: events.Retry, RequestID: st.RequestID, Retry: events.RetryInfo{Op: "status check", Err: err, Attempt: failures}})
		},
		OnDelivery: func(d webhook.Delivery) {
			r.emit(events.Event{Kind: events.WebhookReceived, RequestID: d.RequestID})
		},
	}
	if r.Endpoint != nil {
		opts.EndpointDown = r.Endpoint.Done()
		opts.Deliveries = r.Endpoint.Expect(st.RequestID)
		defer r.Endpoint.Forget(st.RequestID)
	}
	opts.Schedule = r.schedule()
	res, err := await.Until(wctx, opts)
	if err != nil {
		return last, "", err
	}
	return res.Status, res.NotifiedBy, nil
}

// Cancel asks the API to cancel request id, through cancelURL when one is
// known (the status or the journal gave it), and on success hands the
// cancellation's journal record to record (when not nil). Only a queued
// request can be canceled: the API's 400 for one that has started becomes
// an error that says so. Ctrl-C on a queued request and `hf cancel` both
// go through here.
func Cancel(ctx context.Context, c *higgsfield.Client, id, cancelURL string, record func(journal.Record)) error {
	if err := c.Cancel(ctx, id, cancelURL); err != nil {
		if ctx.Err() != nil {
			return &InterruptedError{RequestID: id, Detail: fmt.Sprintf("hf does not know whether the cancel of %s went through; check with: hf status %s", id, id)}
		}
		var ae *higgsfield.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest {
			return fmt.Errorf("%s has already started and can no longer be canceled (%w)", id, err)
		}
		return err
	}
	if record != nil {
		record(journal.Record{Event: journal.EventStatus, RequestID: id, Status: higgsfield.StatusCanceled, Error: "canceled by the user"})
	}
	return nil
}

// interrupted handles the first Ctrl-C: a queued request is canceled (when
// mayCancel), a running one is left to finish.
func (r *Runner) interrupted(st *higgsfield.Status, mayCancel bool) error {
	id := st.RequestID
	if mayCancel && st.Status == higgsfield.StatusQueued {
		r.emit(events.Event{Kind: events.Detached, RequestID: id, Status: st.Status, Text: "canceling " + id + " (it is still queued)…"})
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := Cancel(cctx, r.Client, id, st.CancelURL, r.journal)
		cancel()
		if err == nil {
			r.emit(events.Event{Kind: events.Detached, RequestID: id, Status: higgsfield.StatusCanceled, Text: "canceled " + id + " (it was still queued)"})
			return &InterruptedError{RequestID: id, Canceled: true}
		}
		text := fmt.Sprintf("could not cancel %s (%v); it may go on (hf status %s tells)", id, err, id)
		if higgsfield.StatusCodeOf(err) == http.StatusBadRequest {
			text = id + " had started meanwhile and can no longer be canceled; it goes on"
		}
		// (A cancel that got no answer may have gone through: say so.)
		r.emit(events.Event{Kind: events.Detached, RequestID: id, Status: st.Status, Text: text})
		return &InterruptedError{RequestID: id, Resume: "hf wait " + id}
	}
	if r.Ephemeral {
		r.emit(events.Event{Kind: events.Detached, RequestID: id, Status: st.Status, Text: "stopped waiting for " + id + " (a sandbox request ends with this run)"})
		return &InterruptedError{RequestID: id}
	}
	resume := "hf wait " + id
	r.emit(events.Event{Kind: events.Detached, RequestID: id, Status: st.Status, Text: "detached from " + id + "; it goes on"})
	return &InterruptedError{RequestID: id, Resume: resume}
}

func (r *Runner) download(ctx context.Context, res Result, st *higgsfield.Status, out Output) ([]journal.File, error) {
	outs := st.Outputs
	if len(outs) == 0 {
		return []journal.File{}, errors.New("the request completed without any output URL")
	}
	fetcher := r.Fetcher
	if fetcher == nil {
		fetcher = &download.Fetcher{}
	}
	if out.Stdout != nil {
		if len(outs) > 1 {
			return []journal.File{}, fmt.Errorf("-o - streams one output, but the request made %d", len(outs))
		}
		f, err := fetcher.Stream(ctx, outs[0].URL, out.Stdout)
		if err != nil {
			return []journal.File{}, err
		}
		f.Path = "-"
		return []journal.File{f}, nil
	}
	owner := out.Owner
	if owner == nil {
		owner = r.Owners()
	}
	files := make([]journal.File, len(outs))
	errs := make([]error, len(outs), len(outs)+1)
	parallel := r.MaxParallel
	if parallel <= 0 {
		parallel = 4
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, o := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			idx := i + 1
			f := *fetcher
			f.Progress = func(written, total int64) {
				r.emit(events.Event{Kind: events.DownloadProgress, RequestID: res.RequestID, Download: events.Download{Index: idx, Count: len(outs), Bytes: written, Total: total, URL: o.URL}})
			}
			if f, ok := saved(out.Have, o.URL); ok {
				files[i] = f
				r.emit(events.Event{Kind: events.Downloaded, RequestID: res.RequestID, Download: events.Download{Index: idx, Count: len(outs), Path: f.Path, Bytes: f.Bytes, URL: o.URL}})
				return
			}
			r.emit(events.Event{Kind: events.DownloadStarted, RequestID: res.RequestID, Download: events.Download{Index: idx, Count: len(outs), URL: o.URL, Total: -1}})
			got, err := f.Fetch(ctx, o.URL, download.Target{
				Dir: out.Dir, Template: out.Template, Clobber: out.Clobber, ContentTypeHint: o.ContentType, Owner: owner,
				Vars: download.Vars{ID: res.RequestID, Model: res.Model, Index: idx, Count: len(outs)},
			})
			if err != nil {
				errs[i] = err
				return
			}
			files[i] = got
			r.emit(events.Event{Kind: events.Downloaded, RequestID: res.RequestID, Download: events.Download{Index: idx, Count: len(outs), Path: got.Path, Bytes: got.Bytes, URL: o.URL}})
		}()
	}
	wg.Wait()
	if st.DroppedOutputs > 0 {
		errs = append(errs, &OutputsCappedError{Total: len(outs) + st.DroppedOutputs, Max: len(outs)})
	}
	saved := make([]journal.File, 0, len(files))
	for _, f := range files {
		if f.Path != "" {
			saved = append(saved, f)
		}
	}
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == 1 {
		return saved, failed[0]
	}
	return saved, errors.Join(failed...)
}
