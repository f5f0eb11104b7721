// Package testenv holds what command tests share: an environment with none
// of the user's settings, Factories (the real one on test streams, and one
// of fakes that reads no environment at all), and running a command with a
// runF that captures its parsed options (the cli/cli flag-test pattern).
package testenv

import (
	"io"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmd/factory"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/journal"
)

// proxyVars are the proxy settings Go's HTTP client (and ngrok) read.
var proxyVars = []string{"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"}

// Isolate keeps the user's config, journal, credentials, tunnel settings and
// proxies out of a test: every variable hf reads is cleared and the XDG
// config and state homes are fresh temporary directories, which it returns.
func Isolate(t testing.TB) (configHome, stateHome string) {
	t.Helper()
	configHome, stateHome = t.TempDir(), t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", configHome)
	t.Setenv("XDG_STATE_HOME", stateHome)
	for _, k := range append(config.EnvVars(), proxyVars...) {
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

// Fake is a Factory that reads no environment and no config file: Config
// holds the defaults and values, Credentials are kid:ksecret, the API is at
// base (a hftest server), and the journal lives in the test's journal
// directory (JournalDir(t); the sandbox's in its "sandbox" subdirectory), so
// every Fake of one test shares it. The Engine is the real one wired to those.
type Fake struct {
	*cmdutil.Factory
	JournalDir string
}

// NewFake builds a Fake on the streams ios.
func NewFake(t testing.TB, ios *iostreams.IOStreams, base string, values map[string]any) *Fake {
	t.Helper()
	f := factory.New("test")
	f.IOStreams = ios
	f.BaseURL = base
	cfg := config.New(values)
	f.Config = func() (*config.Config, error) { return cfg, nil }
	f.Credentials = func() (higgsfield.Credentials, string, error) {
		return higgsfield.Credentials{ID: "kid", Secret: "ksecret"}, "the test", nil
	}
	dir := JournalDir(t)
	f.Journal = func(sandbox bool) (*journal.Journal, error) {
		if sandbox {
			return journal.Open(filepath.Join(dir, "sandbox"))
		}
		return journal.Open(dir)
	}
	return &Fake{Factory: f, JournalDir: dir}
}

var journalDirs sync.Map // testing.TB → string

// JournalDir is the journal directory of test t's Fakes: a temporary
// directory, the same for every call with the same t.
func JournalDir(t testing.TB) string {
	if d, ok := journalDirs.Load(t); ok {
		return d.(string)
	}
	d := t.TempDir()
	journalDirs.Store(t, d)
	t.Cleanup(func() { journalDirs.Delete(t) })
	return d
}

// OpenJournal opens test t's Fake journal.
func OpenJournal(t testing.TB) *journal.Journal {
	t.Helper()
	j, err := journal.Open(JournalDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return j
}
