package batch

import (
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/exitcode"
)

// A run's error says what to do next: the command that picks it up, or,
// when the API rejected a job's input, that a retry cannot help.
func TestRunErrorAdvice(t *testing.T) {
	const resume = "hf batch m.txt --model a/b --sandbox"
	failed := func(name string, code int) *Outcome {
		return &Outcome{Name: name, State: StateFailed, ExitCode: code, Error: "boom"}
	}
	ok := &Outcome{Name: "fine", State: StateGenerated}
	tests := []struct {
		name     string
		jobs     []*Outcome
		want     []string
		wantNot  []string
		wantCode int
	}{
		{"failed: retry", []*Outcome{ok, failed("a", exitcode.Failed)}, []string{"1 job of 2 did not succeed; retry it with: " + resume + " (saved jobs are not generated again)"}, nil, exitcode.Failed},
		{"two failed", []*Outcome{failed("a", exitcode.Failed), failed("b", exitcode.Failed), ok}, []string{"2 jobs of 3 did not succeed; retry them with: " + resume}, nil, exitcode.Failed},
		{"422 only: no retry", []*Outcome{ok, failed("e", exitcode.Usage)}, []string{"the API rejected the input of job e", "fix the manifest", "a retry fails the same way"}, []string{"retry it with", "retry them with"}, exitcode.Usage},
		{"422 and a timeout", []*Outcome{failed("e", exitcode.Usage), failed("t", exitcode.Timeout), failed("u", exitcode.Usage)},
			[]string{"3 jobs of 3 did not succeed", "the API rejected the input of jobs e, u (fix the manifest: a retry fails the same way)", "retry the other one with: " + resume}, nil, exitcode.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Jobs: tt.jobs}
			r.summarize(0)
			err := r.Err(resume)
			if err == nil {
				t.Fatal("no error")
			}
			if code := err.(*RunError).ExitCode(); code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nhas %q", err, w)
				}
			}
		})
	}
}
