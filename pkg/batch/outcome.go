package batch

import (
	"strconv"
	"strings"
	"time"

	"github.com/hf-cli/hf/pkg/exitcode"
)

// State is how a job ended in a run.
type State string

const (
	StateGenerated    State = "generated"
	StateUpToDate     State = "up_to_date"
	StateRedownloaded State = "redownloaded"
	StateFailed       State = "failed"
	// StateSkipped: a job it takes an input from did not succeed.
	StateSkipped State = "skipped"
	// StateNotRun: never started (--fail-fast, Ctrl-C, rejected credentials).
	StateNotRun State = "not_run"
	// StateInterrupted: started, then Ctrl-C; its request may go on.
	StateInterrupted State = "interrupted"
)

// Succeeded reports whether s leaves the job's outputs on disk.
func (s State) Succeeded() bool {
	return s == StateGenerated || s == StateUpToDate || s == StateRedownloaded
}

// File is one output of a job, as reported.
type File struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url,omitempty"`
}

// Outcome is how one job ended; it is also the job's --json object.
type Outcome struct {
	Name       string   `json:"name"`
	Model      string   `json:"model"`
	RequestID  string   `json:"request_id"`
	Status     string   `json:"status"`
	State      State    `json:"state"`
	Files      []File   `json:"files"`
	NotifiedBy string   `json:"notified_by"`
	Error      string   `json:"error"`
	ExitCode   int      `json:"exit_code"`
	Seconds    float64  `json:"seconds"`
	Credits    *float64 `json:"credits,omitempty"`

	// Index is the job's 1-based position in the manifest.
	Index int `json:"-"`
	// Err is the error behind State failed or interrupted.
	Err error `json:"-"`
}

// Summary counts a run's outcomes.
type Summary struct {
	Total        int     `json:"total"`
	Generated    int     `json:"generated"`
	UpToDate     int     `json:"up_to_date"`
	Redownloaded int     `json:"redownloaded"`
	Failed       int     `json:"failed"`
	Skipped      int     `json:"skipped"`
	NotRun       int     `json:"not_run"`
	Interrupted  int     `json:"interrupted"`
	ExitCode     int     `json:"exit_code"`
	Seconds      float64 `json:"seconds"`
	// LockFile is where the lock was written ("" without one).
	LockFile string `json:"lock_file,omitempty"`
}

// Report is everything a run did: one outcome per job in manifest order.
// It is the --json object.
type Report struct {
	Jobs    []*Outcome `json:"jobs"`
	Summary Summary    `json:"summary"`

	interrupted, auth bool
	lockErr           error
}

// ExitCode is the run's exit status: 0 when every job is saved or up to
// date; else the code all unsuccessful jobs share (3 failed, 4 nsfw, 5
// canceled, 7 download, 124 timeout, 2 rejected input); 1 for mixed
// outcomes or jobs skipped because a dependency failed; 6 when credentials
// were rejected; 130 on Ctrl-C. Jobs not run (--fail-fast) do not count.
func (r *Report) ExitCode() int {
	switch {
	case r.lockErr != nil:
		return exitcode.Error
	case r.auth:
		return exitcode.Auth
	case r.interrupted:
		return exitcode.Interrupted
	}
	code := exitcode.OK
	for _, o := range r.Jobs {
		switch o.State {
		case StateSkipped:
			return exitcode.Error
		case StateFailed, StateInterrupted:
			if code != exitcode.OK && code != o.ExitCode {
				return exitcode.Error
			}
			code = o.ExitCode
		}
	}
	return code
}

func (r *Report) summarize(elapsed time.Duration) {
	s := Summary{Total: len(r.Jobs), Seconds: elapsed.Seconds(), LockFile: r.Summary.LockFile}
	for _, o := range r.Jobs {
		switch o.State {
		case StateGenerated:
			s.Generated++
		case StateUpToDate:
			s.UpToDate++
		case StateRedownloaded:
			s.Redownloaded++
		case StateFailed:
			s.Failed++
		case StateSkipped:
			s.Skipped++
		case StateNotRun:
			s.NotRun++
		case StateInterrupted:
			s.Interrupted++
		}
	}
	r.Summary = s
	r.Summary.ExitCode = r.ExitCode()
}

// Err returns the run's failure, or nil: an error whose message sums the
// run up (resume is the command that runs the batch again) and whose
// ExitCode method gives the status.
func (r *Report) Err(resume string) error {
	code := r.ExitCode()
	if code == exitcode.OK {
		return nil
	}
	e := &RunError{Code: code, Summary: r.Summary, Err: r.lockErr, Resume: resume}
	for _, o := range r.Jobs {
		if o.State == StateFailed && o.ExitCode == exitcode.Usage {
			e.Rejected = append(e.Rejected, o.Name)
		}
	}
	return e
}

// RunError is a run that did not save every job.
type RunError struct {
	Code    int
	Summary Summary
	// Err is what stopped the run before it began, if anything did.
	Err error
	// Resume is the command that picks the batch up again.
	Resume string
	// Rejected names the jobs whose input the API refused (400/422, or an
	// output in the way): the same command fails them the same way.
	Rejected []string
}

func (e *RunError) Error() string {
	s := e.Summary
	if e.Err != nil {
		return e.Err.Error()
	}
	switch e.Code {
	case exitcode.Interrupted:
		return "interrupted; resume with: " + e.Resume + " (nothing is paid for twice)"
	case exitcode.Auth:
		return "credentials rejected; the batch stopped"
	}
	bad := s.Failed + s.Skipped + s.Interrupted
	msg := plural(bad, "job") + " of " + plural(s.Total, "") + " did not succeed"
	if len(e.Rejected) > 0 {
		what := "job "
		if len(e.Rejected) > 1 {
			what = "jobs "
		}
		msg += "; the API rejected the input of " + what + strings.Join(e.Rejected, ", ") + " (fix the manifest: a retry fails the same way)"
	}
	switch rest := bad - len(e.Rejected); {
	case rest == 0:
		return msg
	case len(e.Rejected) > 0 && rest == 1:
		return msg + "; retry the other one with: " + e.Resume + " (saved jobs are not generated again)"
	case len(e.Rejected) > 0:
		return msg + "; retry the others with: " + e.Resume + " (saved jobs are not generated again)"
	case rest == 1:
		return msg + "; retry it with: " + e.Resume + " (saved jobs are not generated again)"
	}
	return msg + "; retry them with: " + e.Resume + " (saved jobs are not generated again)"
}

// ExitCode is the status the process exits with.
func (e *RunError) ExitCode() int { return e.Code }

func plural(n int, what string) string {
	s := strconv.Itoa(n)
	if what == "" {
		return s
	}
	if n == 1 {
		return s + " " + what
	}
	return s + " " + what + "s"
}

// ExitCodeOf maps the error a job ended with to its exit code: the same
// map as a single generation's (exitcode.Of).
func ExitCodeOf(err error) int { return exitcode.Of(err) }
