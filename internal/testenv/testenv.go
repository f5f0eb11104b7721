// Package testenv holds what command tests share: an environment with none
// of the user's settings, and running a command with a runF that captures
// its parsed options (the cli/cli flag-test pattern).
package testenv

import (
	"io"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmd/factory"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// vars are every environment variable hf reads, cleared by Isolate.
var vars = []string{
	"HF_CONFIG", "HF_BASE_URL", "HF_DEBUG", "HF_TIMEOUT",
	"HF_KEY", "HF_CREDENTIALS", "HF_API_KEY", "HF_API_SECRET", "HF_API_KEY_ID", "HF_API_KEY_SECRET",
	"NGROK_AUTHTOKEN", "HF_NGROK_AUTHTOKEN", "HF_NGROK_URL", "HF_NGROK_CONNECT_URL", "HF_NGROK_ROOT_CAS",
	"HF_NGROK_CONNECT_TIMEOUT", "HF_WEBHOOK_SECRET", "HF_VIA", "HF_LISTEN", "HF_WEBHOOK_URL",
	"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
}

// Isolate keeps the user's config, journal, credentials, tunnel settings and
// proxies out of a test: every variable hf reads is cleared and the XDG
// config and state homes are fresh temporary directories, which it returns.
func Isolate(t testing.TB) (configHome, stateHome string) {
	t.Helper()
	configHome, stateHome = t.TempDir(), t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", configHome)
	t.Setenv("XDG_STATE_HOME", stateHome)
	for _, k := range vars {
		t.Setenv(k, "")
	}
	return configHome, stateHome
}

// Parse builds a command with mk(f, runF), runs it with args (cobra's own
// output going to w), and returns the options runF captured. It fails the
// test when runF ran despite an error, or did not run without one.
func Parse[F, O any](t testing.TB, f F, mk func(F, func(*O) error) *cobra.Command, w io.Writer, args ...string) (*O, error) {
	t.Helper()
	var got *O
	cmd := mk(f, func(o *O) error {
		got = o
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(w)
	cmd.SetErr(w)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	if err == nil && got == nil {
		t.Fatal("runF was not called")
	}
	if err != nil && got != nil {
		t.Fatalf("runF was called despite %v", err)
	}
	return got, err
}

// Factory is the real Factory (pkg/cmd/factory.New) on the streams ios:
// what the hf binary would build, for tests that run a command end to end
// in-process. Tests that need fakes replace its functions.
func Factory(ios *iostreams.IOStreams, version string) *cmdutil.Factory {
	f := factory.New(version)
	f.IOStreams = ios
	return f
}
