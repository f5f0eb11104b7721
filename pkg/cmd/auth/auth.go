// Package auth implements `hf auth login|status|logout`: store an API key
// once it is checked with the API, say which source supplies credentials,
// and remove what login stored.
package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

// probeID is a request id that exists nowhere: its status is 404 with a
// valid key and 401 with a bad one, and costs nothing.
const probeID = "00000000-0000-0000-0000-000000000000"

// checkTimeout bounds the credential check.
const checkTimeout = 20 * time.Second

// Options are the parsed flags of `hf auth`.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	// NewClient builds an API client with the given credentials.
	NewClient func(higgsfield.Credentials) (*higgsfield.Client, error)
	// Flags are the global --api-key/--api-secret.
	FlagKey, FlagSecret func() (string, string)
	// ReadSecret reads a line without echo from the terminal on stdin,
	// giving up when ctx ends.
	ReadSecret func(ctx context.Context) ([]byte, error)

	WithKey, JSON bool
}

// NewCmdAuth builds `hf auth` and its subcommands. runF replaces the run
// step of each in tests (it gets the verb).
func NewCmdAuth(f *cmdutil.Factory, runF func(verb string, o *Options) error) *cobra.Command {
	opts := &Options{
		IO:     f.IOStreams,
		Config: f.Config,
		NewClient: func(cr higgsfield.Credentials) (*higgsfield.Client, error) {
			cfg, err := f.Config()
			if err != nil {
				return nil, err
			}
			base := f.BaseURL
			if base == "" {
				base = cfg.String("base_url")
			}
			var debug io.Writer
			if f.Debug || cfg.Bool("debug") {
				debug = f.IOStreams.ErrOut
			}
			c, err := higgsfield.New(higgsfield.Options{BaseURL: base, Credentials: cr, UserAgent: "hf/" + f.Version, MaxAttempts: 3, Debug: debug})
			if err == nil {
				for _, w := range c.Warnings() { // e.g. a plain-http base URL, before the key goes there
					fmt.Fprintln(f.IOStreams.ErrOut, "hf: warning: "+w)
				}
			}
			return c, err
		},
		FlagKey: func() (string, string) { return f.APIKey, f.APISecret },
		ReadSecret: func(ctx context.Context) ([]byte, error) {
			in, ok := f.IOStreams.In.(*os.File)
			if !ok {
				return nil, errors.New("stdin is not a terminal")
			}
			return readPassword(ctx, int(in.Fd()))
		},
	}
	cmd := &cobra.Command{
		Use:   "auth <command>",
		Short: "Store, check and remove your API key",
		Long: `Store your API key once instead of exporting it in every shell. hf auth login
checks the key with a free API call before saving it: in the OS keyring when
there is one (credentials.store: auto), else in the config file (0600, in a
0700 directory). Keys in flags or the environment still take precedence.`,
	}
	run := func(verb string, f func(context.Context, *Options) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(verb, opts)
			}
			return f(cmd.Context(), opts)
		}
	}
	noArgs := func(hint string) cobra.PositionalArgs {
		return func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &cmdutil.FlagError{Err: fmt.Errorf("%s takes no arguments", cmd.CommandPath()), Hint: hint}
			}
			return nil
		}
	}
	login := &cobra.Command{
		Use:   "login",
		Short: "Check an API key with the API and store it",
		Long: `Read KEY_ID:KEY_SECRET from a hidden prompt on a terminal, or from stdin with
--with-key (never from an argument, which would land in shell history), check
it with a free status call, and store it. A key the API rejects is exit 6 and
nothing is stored.`,
		Example: `  hf auth login
  echo "$KEY_ID:$KEY_SECRET" | hf auth login --with-key`,
		Args: noArgs("the key is never taken as an argument (it would land in shell history): pipe it to hf auth login --with-key"),
		RunE: run("login", loginRun),
	}
	login.Flags().BoolVar(&opts.WithKey, "with-key", false, "read KEY_ID:KEY_SECRET from stdin")
	status := &cobra.Command{
		Use:   "status",
		Short: "Say where the credentials come from and whether the API accepts them",
		Args:  noArgs(""),
		RunE:  run("status", statusRun),
	}
	status.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	logout := &cobra.Command{
		Use:   "logout",
		Short: "Remove the key hf auth login stored",
		Args:  noArgs(""),
		RunE:  run("logout", logoutRun),
	}
	cmd.AddCommand(login, status, logout)
	return cmd
}

// readKey reads the key from stdin (--with-key) or a hidden prompt.
func readKey(ctx context.Context, opts *Options) (string, error) {
	if opts.WithKey {
		line, err := bufio.NewReader(io.LimitReader(opts.IO.In, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimSpace(line), nil
	}
	if !opts.IO.CanPrompt() {
		return "", &cmdutil.FlagError{Err: errors.New("no terminal to ask for the key on"), Hint: `pipe it instead: echo "$KEY_ID:$KEY_SECRET" | hf auth login --with-key`}
	}
	fmt.Fprint(opts.IO.ErrOut, "Paste your API key (KEY_ID:KEY_SECRET, from the Higgsfield console): ")
	b, err := opts.ReadSecret(ctx)
	fmt.Fprintln(opts.IO.ErrOut)
	if errors.Is(err, job.ErrInterrupt) || ctx.Err() != nil {
		return "", &job.InterruptedError{} // nothing was stored
	}
	if err != nil {
		return "", fmt.Errorf("reading the key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// check asks the API whether cr is accepted: a status call for a request
// that does not exist answers 404 to a good key and 401 to a bad one.
func check(ctx context.Context, opts *Options, cr higgsfield.Credentials) error {
	client, err := opts.NewClient(cr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	_, err = client.Status(ctx, probeID, "")
	if err == nil || higgsfield.StatusCodeOf(err) == 404 {
		return nil
	}
	return err
}

func loginRun(ctx context.Context, opts *Options) error {
	raw, err := readKey(ctx, opts)
	if err != nil {
		return err
	}
	if raw == "" {
		return cmdutil.FlagErrorf("no key given: want KEY_ID:KEY_SECRET")
	}
	cr, err := higgsfield.ParseCredentials(raw)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if err := check(ctx, opts, cr); err != nil {
		if higgsfield.StatusCodeOf(err) == 401 || higgsfield.StatusCodeOf(err) == 403 {
			return fmt.Errorf("the API rejected key %s, nothing was stored: %w", cr.ID, err)
		}
		return fmt.Errorf("could not check key %s with the API, nothing was stored: %w", cr.ID, err)
	}
	saved, err := cfg.SaveCredentials(cr)
	if err != nil {
		return err
	}
	switch {
	case saved.Keyring:
		fmt.Fprintf(opts.IO.ErrOut, "hf: logged in with key %s; the secret is in the OS keyring, the key id in %s\n", cr.ID, saved.File)
	default:
		if saved.Fallback != "" {
			fmt.Fprintf(opts.IO.ErrOut, "hf: no OS keyring to use (%s)\n", oneLine(saved.Fallback))
		}
		fmt.Fprintf(opts.IO.ErrOut, "hf: logged in with key %s; stored in %s (readable only by you)\n", cr.ID, saved.File)
	}
	if _, src, err := cfg.Credentials(opts.FlagKey()); err == nil && src != saved.File && !strings.HasPrefix(src, config.SourceKeyring) {
		fmt.Fprintf(opts.IO.ErrOut, "hf: note: %s is set and takes precedence over the stored key\n", src)
	}
	return nil
}

// Status is `hf auth status --json`.
type Status struct {
	Source   string `json:"source"`
	KeyID    string `json:"key_id"`
	Secret   string `json:"secret"` // masked
	Accepted bool   `json:"accepted"`
	Error    string `json:"error,omitempty"`
}

func statusRun(ctx context.Context, opts *Options) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	cr, src, err := cfg.Credentials(opts.FlagKey())
	if err != nil {
		return err
	}
	st := Status{Source: src, KeyID: cr.ID, Secret: config.Mask(cr.Secret)}
	cerr := check(ctx, opts, cr)
	st.Accepted = cerr == nil
	if cerr != nil {
		st.Error = cerr.Error()
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, st); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(opts.IO.Out, "credentials: %s\nkey id: %s\nsecret: %s\n", st.Source, st.KeyID, st.Secret)
		if st.Accepted {
			fmt.Fprintln(opts.IO.Out, "the API accepts them")
		}
	}
	if cerr != nil {
		return fmt.Errorf("credentials from %s: %w", src, cerr)
	}
	return nil
}

func logoutRun(_ context.Context, opts *Options) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	r, err := cfg.DeleteCredentials()
	if err != nil {
		return err
	}
	if len(r.Keys) == 0 && !r.Keyring {
		fmt.Fprintln(opts.IO.ErrOut, "hf: no stored key to remove")
		return nil
	}
	where := "from " + r.File
	if r.Keyring {
		where += " and the OS keyring"
	}
	fmt.Fprintf(opts.IO.ErrOut, "hf: removed the stored key %s\n", where)
	if _, src, err := cfg.Credentials(opts.FlagKey()); err == nil {
		fmt.Fprintf(opts.IO.ErrOut, "hf: note: %s still supplies credentials\n", src)
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
