package wait_test

import (
	"context"
	"errors"
	"github.com/hf-cli/hf/pkg/iostreams"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmd/download"
	"github.com/hf-cli/hf/pkg/cmd/factory"
	"github.com/hf-cli/hf/pkg/cmd/wait"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

const id = "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"

type newCmd func(*cmdutil.Factory, func(*wait.Options) error) *cobra.Command

// parse runs the command with a runF that captures the options.
func parse(t *testing.T, mk newCmd, args ...string) (*wait.Options, error) {
	t.Helper()
	testenv.Isolate(t)
	ios, _, _, errOut := iostreams.Test()
	return testenv.Parse(t, testenv.Factory(ios, "test"), mk, errOut, args...)
}

func TestNewCmdWaitFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *wait.Options)
	}{
		{name: "defaults", args: []string{id}, check: func(t *testing.T, o *wait.Options) {
			if o.RequestID != id || !o.Wait {
				t.Fatalf("%+v", o)
			}
			// Empty output flags mean "as recorded in the journal".
			if o.Out.Dir != "" || o.Out.Output != "" || o.Out.Clobber {
				t.Fatalf("output flags %+v", o.Out)
			}
			if o.Timeout != 30*time.Minute || o.PollInterval != 0 || o.JSON || o.Quiet {
				t.Fatalf("%+v", o)
			}
			if o.IO == nil || o.Engine == nil {
				t.Fatal("dependencies not injected")
			}
		}},
		{name: "every flag", args: []string{id, "-d", "out", "-o", "fox-{index}.{ext}", "--clobber", "--json", "-q", "--timeout", "5m", "--poll-interval", "1s"},
			check: func(t *testing.T, o *wait.Options) {
				if o.Out.Dir != "out" || o.Out.Output != "fox-{index}.{ext}" || !o.Out.Clobber || !o.JSON || !o.Quiet {
					t.Fatalf("%+v", o)
				}
				if o.Timeout != 5*time.Minute || o.PollInterval != time.Second {
					t.Fatalf("timeout %s poll %s", o.Timeout, o.PollInterval)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(t, wait.NewCmdWait, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

// TestPrefixID: a unique prefix of a journaled id names that request, as
// the help's "hf wait 3f1c" suggests; an id that is no UUID never reaches
// the API.
func TestPrefixID(t *testing.T) {
	_, state := testenv.Isolate(t)
	j, err := journal.Open(filepath.Join(state, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(journal.Record{Event: journal.EventSubmitted, RequestID: id}); err != nil {
		t.Fatal(err)
	}
	for _, mk := range []newCmd{wait.NewCmdWait, download.NewCmdDownload} {
		ios, _, _, errOut := iostreams.Test()
		o, err := testenv.Parse(t, testenv.Factory(ios, "test"), mk, errOut, "d7e6")
		if err != nil || o.RequestID != id {
			t.Fatalf("d7e6: %+v, %v", o, err)
		}
		_, err = testenv.Parse(t, testenv.Factory(ios, "test"), mk, errOut, "not-a-uuid")
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Fatalf("not-a-uuid: %v, want a usage error", err)
		}
	}
}

func TestNewCmdDownloadFlags(t *testing.T) {
	o, err := parse(t, download.NewCmdDownload, id, "--dir", "out", "--output", "-", "--clobber", "--json", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	if o.RequestID != id || o.Wait {
		t.Fatalf("download must not wait: %+v", o)
	}
	if o.Out.Dir != "out" || o.Out.Output != "-" || !o.Out.Clobber || !o.JSON || !o.Quiet {
		t.Fatalf("%+v", o)
	}

	o, err = parse(t, download.NewCmdDownload, id)
	if err != nil {
		t.Fatal(err)
	}
	if o.Out.Dir != "" || o.Out.Output != "" || o.Wait {
		t.Fatalf("defaults %+v", o)
	}
}

func TestUsageErrors(t *testing.T) {
	cmds := map[string]newCmd{"wait": wait.NewCmdWait, "download": download.NewCmdDownload}
	tests := []struct {
		name     string
		cmds     []string
		args     []string
		flagErr  bool
		contains string
	}{
		{name: "no id", cmds: []string{"wait", "download"}, flagErr: true, contains: "request ID"},
		{name: "two ids", cmds: []string{"wait", "download"}, args: []string{id, id}, flagErr: true, contains: "got 2"},
		{name: "path traversal", cmds: []string{"wait", "download"}, args: []string{"../../etc/passwd"}, flagErr: true, contains: "invalid request id"},
		{name: "slash", cmds: []string{"wait", "download"}, args: []string{"a/b"}, flagErr: true, contains: "invalid request id"},
		{name: "leading dash", cmds: []string{"wait", "download"}, args: []string{"--", "-abc"}, flagErr: true, contains: "invalid request id"},
		{name: "query", cmds: []string{"wait", "download"}, args: []string{"abc?x=1"}, flagErr: true, contains: "invalid request id"},
		{name: "too long", cmds: []string{"wait", "download"}, args: []string{strings.Repeat("a", 129)}, flagErr: true, contains: "invalid request id"},
		{name: "zero timeout", cmds: []string{"wait"}, args: []string{id, "--timeout", "0s"}, flagErr: true, contains: "--timeout"},
		{name: "poll interval under the floor", cmds: []string{"wait"}, args: []string{id, "--poll-interval", "20ms"}, flagErr: true, contains: "below the 1s floor"},
		{name: "negative poll interval", cmds: []string{"wait"}, args: []string{id, "--poll-interval", "-1s"}, flagErr: true, contains: "--poll-interval"},
		{name: "unparsable timeout", cmds: []string{"wait"}, args: []string{id, "--timeout", "soon"}, contains: "--timeout"},
		{name: "download has no --timeout", cmds: []string{"download"}, args: []string{id, "--timeout", "1m"}, contains: "timeout"},
		{name: "unknown flag", cmds: []string{"wait", "download"}, args: []string{id, "--frobnicate"}, contains: "frobnicate"},
	}
	for _, tt := range tests {
		for _, name := range tt.cmds {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				_, err := parse(t, cmds[name], tt.args...)
				if err == nil {
					t.Fatal("want an error")
				}
				var fe *cmdutil.FlagError
				if tt.flagErr && !errors.As(err, &fe) {
					t.Fatalf("err = %T %v, want *cmdutil.FlagError", err, err)
				}
				if !strings.Contains(err.Error(), tt.contains) {
					t.Fatalf("err %q does not mention %q", err, tt.contains)
				}
			})
		}
	}
}

// TestRunAgainstFakeAPI runs `hf wait` and `hf download` end to end against
// hftest, with credentials and base URL from the environment.
func TestRunAgainstFakeAPI(t *testing.T) {
	t.Setenv(factory.TestPollEnv, "10ms") // the fake is on loopback
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(10*time.Millisecond, 10*time.Millisecond))
	t.Cleanup(srv.Close)
	client, err := higgsfield.New(higgsfield.Options{BaseURL: srv.URL, Credentials: higgsfield.Credentials{ID: "kid", Secret: "ksecret"}})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(t *testing.T) string {
		t.Helper()
		st, err := client.Submit(context.Background(), higgsfield.SubmitRequest{Model: "higgsfield-ai/soul/standard", Params: map[string]any{"prompt": "x", "batch_size": 2}})
		if err != nil {
			t.Fatal(err)
		}
		return st.RequestID
	}
	run := func(t *testing.T, mk newCmd, args ...string) (string, error) {
		t.Helper()
		ios, _, out, errOut := iostreams.Test()
		cmd := mk(testenv.NewFake(t, ios, srv.URL, nil).Factory, nil)
		cmd.SetArgs(args)
		cmd.SetOut(errOut)
		cmd.SetErr(errOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.ExecuteContext(context.Background())
		if strings.Contains(errOut.String(), "ksecret") {
			t.Fatalf("stderr shows the secret: %s", errOut)
		}
		return out.String(), err
	}
	paths := func(t *testing.T, stdout, dir string, n int) {
		t.Helper()
		lines := strings.Fields(stdout)
		if len(lines) != n {
			t.Fatalf("stdout %q, want %d paths", stdout, n)
		}
		for _, p := range lines {
			if filepath.Dir(p) != dir {
				t.Fatalf("%s is not in %s", p, dir)
			}
			if _, err := os.Stat(p); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("wait", func(t *testing.T) {
		id := submit(t)
		dir := t.TempDir()
		out, err := run(t, wait.NewCmdWait, id, "-d", dir, "--timeout", "5s")
		if err != nil {
			t.Fatal(err)
		}
		paths(t, out, dir, 2)
	})
	t.Run("download of a finished request", func(t *testing.T) {
		id := submit(t)
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if j, _ := srv.Job(id); j.Status == "completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the fake never completed the job")
			}
		}
		dir := t.TempDir()
		out, err := run(t, download.NewCmdDownload, id, "-d", dir)
		if err != nil {
			t.Fatal(err)
		}
		paths(t, out, dir, 2)
	})
	t.Run("download of an unfinished request", func(t *testing.T) {
		srv.SetTiming(time.Hour, time.Hour)
		defer srv.SetTiming(10*time.Millisecond, 10*time.Millisecond)
		id := submit(t)
		_, err := run(t, download.NewCmdDownload, id, "-d", t.TempDir())
		var nr *job.NotReadyError
		if !errors.As(err, &nr) || nr.Status != "queued" {
			t.Fatalf("err = %v, want a NotReadyError", err)
		}
	})
	t.Run("wait times out", func(t *testing.T) {
		srv.SetTiming(time.Hour, time.Hour)
		defer srv.SetTiming(10*time.Millisecond, 10*time.Millisecond)
		id := submit(t)
		_, err := run(t, wait.NewCmdWait, id, "-d", t.TempDir(), "--timeout", "100ms")
		var te *job.TimeoutError
		if !errors.As(err, &te) || te.RequestID != id {
			t.Fatalf("err = %v, want a TimeoutError", err)
		}
	})
	t.Run("unknown request", func(t *testing.T) {
		_, err := run(t, wait.NewCmdWait, "00000000-0000-4000-8000-000000000000", "-d", t.TempDir())
		if higgsfield.StatusCodeOf(err) != 404 {
			t.Fatalf("err = %v, want the API's 404", err)
		}
	})
}
