package completion_test

import (
	"errors"
	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/iostreams"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/cmd/root"
	"github.com/hf-cli/hf/pkg/cmdutil"
)

// hf runs `hf args...` through the real command tree, so that the scripts
// are generated for the root command named hf.
func hf(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("HF_CONFIG", "")
	ios, _, out, errOut := iostreams.Test()
	cmd := root.NewCmdRoot(testenv.Factory(ios, "test"))
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell string
		want  []string // lines that register the completion of hf
	}{
		{"bash", []string{"# bash completion V2 for hf", "complete -o default -F __start_hf hf"}},
		{"zsh", []string{"#compdef hf", "compdef _hf hf"}},
		{"fish", []string{"# fish completion for hf", "complete -c hf "}},
		{"powershell", []string{"# powershell completion for hf", "Register-ArgumentCompleter -CommandName 'hf'"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			out, errOut, err := hf(t, "completion", tt.shell)
			if err != nil {
				t.Fatal(err)
			}
			if errOut != "" {
				t.Fatalf("stderr %q", errOut)
			}
			if len(out) < 1000 {
				t.Fatalf("script of %d bytes:\n%s", len(out), out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Fatalf("the %s script has no %q", tt.shell, w)
				}
			}
			// Completions are asked of hf itself, with descriptions.
			if !strings.Contains(out, "__complete") {
				t.Fatalf("the %s script does not call hf __complete", tt.shell)
			}
		})
	}
}

func TestCompletionUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		errHas string
	}{
		{name: "unknown shell", args: []string{"completion", "tcsh"}, errHas: `unsupported shell "tcsh"`},
		{name: "case matters", args: []string{"completion", "Bash"}, errHas: `unsupported shell "Bash"`},
		{name: "no shell", args: []string{"completion"}, errHas: "completion needs one SHELL: bash, zsh, fish or powershell (got 0 arguments)"},
		{name: "two shells", args: []string{"completion", "bash", "zsh"}, errHas: "got 2 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := hf(t, tt.args...)
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %T %v, want *cmdutil.FlagError", err, err)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err %q does not say %q", err, tt.errHas)
			}
			if root.ExitCode(err) != 2 {
				t.Fatalf("exit code %d, want 2", root.ExitCode(err))
			}
			if out != "" {
				t.Fatalf("stdout %q, want nothing", out)
			}
		})
	}
}
