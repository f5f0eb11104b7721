package root

import (
	"context"
	"errors"
	"fmt"
	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/iostreams"
	"os"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/batch"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	dl "github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/job"
)

func TestExitCode(t *testing.T) {
	api := func(code int) error { return &higgsfield.APIError{StatusCode: code, Detail: "x"} }
	outcome := func(status string) error { return &job.OutcomeError{RequestID: "r", Status: status} }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain error", errors.New("boom"), 1},
		{"network error", fmt.Errorf("submit: %w", context.DeadlineExceeded), 1},
		{"FlagError", cmdutil.FlagErrorf("bad flag"), 2},
		{"ExistsError", &dl.ExistsError{Path: "out.png"}, 2},
		{"MissingCredentialsError", &config.MissingCredentialsError{}, 2},
		{"API 400", api(400), 2},
		{"API 422", api(422), 2},
		{"API 401", api(401), 6},
		{"API 402", api(402), 6},
		{"API 403", api(403), 6},
		{"API 404", api(404), 1},
		{"API 429", api(429), 1},
		{"API 500", api(500), 1},
		{"API 503", api(503), 1},
		{"failed", outcome(higgsfield.StatusFailed), 3},
		{"nsfw", outcome(higgsfield.StatusNSFW), 4},
		{"canceled", outcome(higgsfield.StatusCanceled), 5},
		{"DownloadError", &job.DownloadError{RequestID: "r", Err: errors.New("short read")}, 7},
		{"TimeoutError", &job.TimeoutError{RequestID: "r"}, 124},
		{"InterruptedError", &job.InterruptedError{RequestID: "r"}, 130},
		{"InterruptedError canceled", &job.InterruptedError{RequestID: "r", Canceled: true}, 130},
		{"SilentError", &cmdutil.SilentError{Code: 3}, 3},
		{"wrapped FlagError", fmt.Errorf("generate: %w", cmdutil.FlagErrorf("bad")), 2},
		{"wrapped API 401", fmt.Errorf("submit: %w", api(401)), 6},
		{"wrapped API 400 (cancel of a started request)", fmt.Errorf("r has already started (%w)", api(400)), 2},
		{"wrapped API 500", fmt.Errorf("submit: %w", api(500)), 1},
		{"wrapped nsfw", fmt.Errorf("job: %w", outcome(higgsfield.StatusNSFW)), 4},
		{"wrapped timeout", fmt.Errorf("job: %w", &job.TimeoutError{RequestID: "r"}), 124},
		{"wrapped interrupt", fmt.Errorf("job: %w", &job.InterruptedError{}), 130},
		{"wrapped download", fmt.Errorf("job: %w", &job.DownloadError{Err: errors.New("x")}), 7},
		{"wrapped missing credentials", fmt.Errorf("client: %w", &config.MissingCredentialsError{}), 2},
		{"joined", errors.Join(errors.New("a"), &job.TimeoutError{}), 124},
		{"cobra unknown command", errors.New(`unknown command "frob" for "hf"`), 2},
		{"cobra unknown flag", errors.New("unknown flag: --frob"), 2},
		{"cobra unknown shorthand", errors.New("unknown shorthand flag: 'z' in -z"), 2},
		{"cobra arg count", errors.New("accepts 1 arg(s), received 2"), 2},
		{"status check 404", &job.StatusCheckError{RequestID: "r", Err: api(404)}, 1},
		{"status check 422 is not the user's input", &job.StatusCheckError{RequestID: "r", Err: api(422)}, 1},
		{"status check 401", &job.StatusCheckError{RequestID: "r", Err: api(401)}, 6},
		{"batch run", &batch.RunError{Code: 4}, 4},
		{"wrapped batch run", fmt.Errorf("batch: %w", &batch.RunError{Code: 130}), 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
			// A batch job's error maps to the same code as a lone
			// generation's (both go through pkg/exitcode's one map).
			var flagErr *cmdutil.FlagError
			var missing *config.MissingCredentialsError
			var run *batch.RunError
			if tt.err == nil || errors.As(tt.err, &flagErr) || errors.As(tt.err, &missing) || errors.As(tt.err, &run) || strings.HasPrefix(tt.name, "cobra") || tt.name == "SilentError" {
				return
			}
			if got := batch.ExitCodeOf(tt.err); got != tt.want {
				t.Fatalf("batch.ExitCodeOf(%v) = %d, root says %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestExitCodeFileSystemErrorIsNotUsage(t *testing.T) {
	err := fmt.Errorf("syncing out.png: %w", os.ErrInvalid)
	if got := ExitCode(err); got != ExitError {
		t.Fatalf("ExitCode(%v) = %d, want %d", err, got, ExitError)
	}
}

// TestExitCodeFromCommands runs the real command tree: cobra's own errors
// must map to usage.
func TestExitCodeFromCommands(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unknown command", []string{"frobnicate"}, 2},
		{"unknown flag", []string{"generate", "--frobnicate", "m"}, 2},
		{"unknown global flag", []string{"--frobnicate", "history"}, 2},
		{"bad flag value", []string{"generate", "--timeout", "soon", "higgsfield-ai/soul/standard"}, 2},
		{"missing model", []string{"generate"}, 2},
		{"two models", []string{"generate", "a/b", "c/d"}, 2},
		{"invalid request id", []string{"wait", "../../etc"}, 2},
		{"cancel without id", []string{"cancel"}, 2},
		{"status with two ids", []string{"status", "a", "b"}, 2},
		{"version", []string{"version"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", t.TempDir())
			t.Setenv("XDG_STATE_HOME", t.TempDir())
			t.Setenv("HF_CONFIG", "")
			ios, _, _, errOut := iostreams.Test()
			cmd := NewCmdRoot(testenv.Factory(ios, "test"))
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if got := ExitCode(err); got != tt.want {
				t.Fatalf("hf %s: ExitCode(%v) = %d, want %d", strings.Join(tt.args, " "), err, got, tt.want)
			}
			if got := Report(ios, err); got != tt.want {
				t.Fatalf("Report = %d, want %d", got, tt.want)
			}
			if (err != nil) != (errOut.Len() > 0) {
				t.Fatalf("stderr %q for err %v", errOut.String(), err)
			}
		})
	}
}

func TestHint(t *testing.T) {
	api := func(code int, detail string) error { return &higgsfield.APIError{StatusCode: code, Detail: detail} }
	tests := []struct {
		name string
		err  error
		has  string // "" means no hint at all
	}{
		{"401", api(401, "Invalid credentials"), "HF_KEY"},
		{"wrapped 401", fmt.Errorf("submit: %w", api(401, "")), "--api-key"},
		{"403 credits", api(403, "Not enough credits"), "credits"},
		{"403 cloudflare 1010", api(403, "error code: 1010"), "1010"},
		{"402", api(402, ""), "credits"},
		{"404", api(404, "Not found"), "model id"},
		{"429", api(429, ""), "queue"},
		{"missing credentials", &config.MissingCredentialsError{}, "--sandbox"},
		{"wrapped missing credentials", fmt.Errorf("x: %w", &config.MissingCredentialsError{}), "cloud.higgsfield.ai"},
		{"flag error with hint", &cmdutil.FlagError{Err: errors.New("bad"), Hint: "see: hf generate --help"}, "see: hf generate --help"},
		{"flag error without hint", cmdutil.FlagErrorf("bad"), ""},
		{"500", api(500, ""), ""},
		{"plain", errors.New("boom"), ""},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Hint(tt.err)
			if tt.has == "" {
				if got != "" {
					t.Fatalf("Hint = %q, want none", got)
				}
				return
			}
			if !strings.Contains(got, tt.has) {
				t.Fatalf("Hint = %q, want it to mention %q", got, tt.has)
			}
		})
	}
	if Hint(api(403, "error code: 1010")) == Hint(api(403, "Not enough credits")) {
		t.Fatal("a Cloudflare 1010 refusal gets the credits hint")
	}
}

func TestReport(t *testing.T) {
	t.Run("reason then hint on stderr", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		code := Report(ios, &higgsfield.APIError{StatusCode: 401, Detail: "Invalid credentials"})
		if code != ExitAuth {
			t.Fatalf("code %d", code)
		}
		if out.Len() != 0 {
			t.Fatalf("stdout %q", out)
		}
		s := errOut.String()
		reason, hint := strings.Index(s, "Invalid credentials"), strings.Index(s, "HF_KEY")
		if reason < 0 || hint < 0 || hint < reason {
			t.Fatalf("stderr %q", s)
		}
	})
	t.Run("silent", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		if code := Report(ios, &cmdutil.SilentError{Code: 4}); code != 4 || out.Len()+errOut.Len() != 0 {
			t.Fatalf("code %d, out %q, err %q", code, out, errOut)
		}
	})
	t.Run("success", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		if code := Report(ios, nil); code != 0 || out.Len()+errOut.Len() != 0 {
			t.Fatalf("code %d, out %q, err %q", code, out, errOut)
		}
	})
}
