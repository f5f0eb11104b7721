package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

const secret = "s3cr3t-value-1"

// setup isolates the environment, starts a fake accepting kid:secret, and
// returns options wired to it with the real config loader.
func setup(t *testing.T) (*Options, *hftest.Server, *iostreams.IOStreams, func() string) {
	t.Helper()
	keyring.MockInitWithError(errors.New("no keyring in tests"))
	testenv.Isolate(t)
	srv := hftest.New(hftest.WithCredentials("kid", secret))
	t.Cleanup(srv.Close)
	ios, _, out, errOut := iostreams.Test()
	opts := &Options{
		IO:     ios,
		Config: config.Load,
		NewClient: func(cr higgsfield.Credentials) (*higgsfield.Client, error) {
			return higgsfield.New(higgsfield.Options{BaseURL: srv.URL, Credentials: cr, MaxAttempts: 1})
		},
		FlagKey: func() (string, string) { return "", "" },
	}
	return opts, srv, ios, func() string { return out.String() + errOut.String() }
}

func configPath(t *testing.T) string {
	d, err := config.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "config.yaml")
}

func TestLoginStatusLogout(t *testing.T) {
	for _, viaTTY := range []bool{false, true} {
		t.Run(map[bool]string{false: "with-key", true: "hidden prompt"}[viaTTY], func(t *testing.T) {
			opts, srv, ios, output := setup(t)
			in := ios.In.(interface{ WriteString(string) (int, error) })
			if viaTTY {
				ios.SetStdinTTY(true)
				ios.SetStderrTTY(true)
				opts.ReadSecret = func(context.Context) ([]byte, error) { return []byte("kid:" + secret + "\n"), nil }
			} else {
				opts.WithKey = true
				_, _ = in.WriteString("kid:" + secret + "\n")
			}
			if err := loginRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			path := configPath(t)
			for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
				info, err := os.Stat(p)
				if err != nil || info.Mode().Perm() != mode {
					t.Fatalf("%s: %v %v, want %o", p, info, err, mode)
				}
			}
			if n := srv.Count(hftest.StatusEP); n != 1 {
				t.Fatalf("%d checks, want 1 free status call", n)
			}
			if err := statusRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			out := output()
			for _, want := range []string{"logged in with key kid", "key id: kid", "secret: ****(14 chars)", "the API accepts them", "credentials: " + path} {
				if !strings.Contains(out, want) {
					t.Fatalf("output lacks %q:\n%s", want, out)
				}
			}
			if err := logoutRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			if strings.Contains(string(data), "kid") {
				t.Fatalf("logout left:\n%s", data)
			}
			var missing *config.MissingCredentialsError
			if err := statusRun(context.Background(), opts); !errors.As(err, &missing) {
				t.Fatalf("status after logout: %v", err)
			}
			if strings.Contains(output(), secret) {
				t.Fatalf("the secret was printed:\n%s", output())
			}
		})
	}
}

func TestLoginRejected(t *testing.T) {
	opts, _, ios, output := setup(t)
	opts.WithKey = true
	_, _ = ios.In.(interface{ WriteString(string) (int, error) }).WriteString("kid:wrong-secret\n")
	err := loginRun(context.Background(), opts)
	if higgsfield.StatusCodeOf(err) != 401 {
		t.Fatalf("err = %v, want the API's 401 (exit 6)", err)
	}
	if _, err := os.Stat(configPath(t)); !os.IsNotExist(err) {
		t.Fatal("a rejected key was saved")
	}
	if strings.Contains(output()+err.Error(), "wrong-secret") {
		t.Fatal("the secret was printed")
	}
}

func TestLoginNetworkErrorSavesNothing(t *testing.T) {
	opts, srv, ios, _ := setup(t)
	opts.WithKey = true
	_, _ = ios.In.(interface{ WriteString(string) (int, error) }).WriteString("kid:" + secret)
	srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: 503})
	if err := loginRun(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "nothing was stored") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(configPath(t)); !os.IsNotExist(err) {
		t.Fatal("an unchecked key was saved")
	}
}

func TestLoginInput(t *testing.T) {
	tests := []struct {
		name, in string
		tty      bool
		withKey  bool
		want     string
	}{
		{name: "no terminal, no --with-key", want: "no terminal"},
		{name: "empty", withKey: true, want: "no key given"},
		{name: "malformed", withKey: true, in: "just-an-id\n", want: "KEY_ID:KEY_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, srv, ios, _ := setup(t)
			opts.WithKey = tt.withKey
			_, _ = ios.In.(interface{ WriteString(string) (int, error) }).WriteString(tt.in)
			err := loginRun(context.Background(), opts)
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v", err)
			}
			if len(srv.Hits()) != 0 {
				t.Fatal("the API was called")
			}
		})
	}
}

func TestLoginNeverTakesAnArgument(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := testenv.NewFake(t, ios, "http://127.0.0.1:1", nil)
	cmd := NewCmdAuth(f.Factory, func(string, *Options) error { t.Fatal("ran"); return nil })
	cmd.SetArgs([]string{"login", "kid:" + secret})
	cmd.SetOut(ios.ErrOut)
	cmd.SetErr(ios.ErrOut)
	err := cmd.Execute()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(fe.Hint, "--with-key") || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v (hint %q)", err, fe.Hint)
	}
}

func TestLoginKeyring(t *testing.T) {
	opts, _, ios, output := setup(t)
	keyring.MockInit()
	t.Cleanup(func() { keyring.MockInitWithError(errors.New("no keyring in tests")) })
	opts.WithKey = true
	_, _ = ios.In.(interface{ WriteString(string) (int, error) }).WriteString("kid:" + secret)
	if err := loginRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(configPath(t))
	if strings.Contains(string(data), secret) || !strings.Contains(output(), "OS keyring") {
		t.Fatalf("file:\n%s\noutput:\n%s", data, output())
	}
	if err := statusRun(context.Background(), opts); err != nil || !strings.Contains(output(), "credentials: OS keyring") {
		t.Fatalf("%v\n%s", err, output())
	}
	if err := logoutRun(context.Background(), opts); err != nil || !strings.Contains(output(), "and the OS keyring") {
		t.Fatalf("%v\n%s", err, output())
	}
	if _, err := keyring.Get("hf-cli", "kid"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("keyring entry left: %v", err)
	}
}

// Ctrl-C at the hidden prompt is exit 130 (an *InterruptedError) with
// nothing checked or stored.
func TestLoginPromptInterrupted(t *testing.T) {
	opts, srv, ios, _ := setup(t)
	ios.SetStdinTTY(true)
	ios.SetStderrTTY(true)
	ctx, cancel := context.WithCancelCause(context.Background())
	opts.ReadSecret = func(ctx context.Context) ([]byte, error) {
		cancel(job.ErrInterrupt)
		<-ctx.Done()
		return nil, context.Cause(ctx)
	}
	err := loginRun(ctx, opts)
	var ie *job.InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an *InterruptedError", err)
	}
	if _, err := os.Stat(configPath(t)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a config file was written: %v", err)
	}
	if len(srv.Hits()) != 0 {
		t.Fatalf("the API was called: %v", srv.Hits())
	}
}
