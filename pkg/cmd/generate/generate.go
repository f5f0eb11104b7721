// Package generate implements `hf generate`: submit a generation, wait for
// it, download its outputs.
package generate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/ui"
)

// idemKeyRe compiles on first use: {1,255} costs 3,000 allocations, too much for every start-up.
var idemKeyRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._:-]{1,255}$`) })

// Options are the parsed flags of `hf generate`.
type Options struct {
	IO          *iostreams.IOStreams
	Engine      func(context.Context, cmdutil.EngineOptions) (*cmdutil.Engine, error)
	Client      func(cmdutil.ClientOptions) (*higgsfield.Client, error)
	Config      func() (*config.Config, error)
	Credentials func() (higgsfield.Credentials, string, error)
	Version     string

	Model   string
	Body    cmdutil.BodyFlags
	IdemKey string
	Out     cmdutil.OutputFlags

	JSON, Quiet, NoWait, Sandbox, DryRun bool
	Timeout, PollInterval, ExpiresAfter  time.Duration
	Endpoint                             cmdutil.EndpointOptions
}

// NewCmdGenerate builds `hf generate`. runF replaces the run step in tests.
func NewCmdGenerate(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Engine: f.Engine, Client: f.Client, Config: f.Config, Credentials: f.Credentials, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "generate MODEL [--prompt TEXT] [--set key=value]...",
		Short: "Submit a generation, wait for it, and download the result",
		Long: `Submit a generation to MODEL (e.g. higgsfield-ai/soul/standard), wait until it
finishes, and download every output. The request id is printed to stderr at
once and recorded in the journal, so an interrupted run can be picked up
with "hf wait ID". Saved paths are printed on stdout, one per line.

Parameters form a flat JSON body: --input FILE (or - for stdin) gives a JSON
object, --prompt sets "prompt", and each --set key=value sets one field
(the value is parsed as JSON when it is valid JSON, else taken as a string;
quote it as JSON, e.g. --set 'seed="42"', to force a string).

Local files: a --set value (or array element) starting with @ is a file
(--set image_url=@cat.png, --set 'image_urls=["@a.png","@b.jpg"]'); in --input
JSON, only strings in fields ending in _url, _urls or images are. hf checks
each file (image/jpeg, image/png, image/webp, image/gif, audio/wav or video/mp4,
by content), uploads it once (a URL is reused for 50 minutes) and sends its
public URL. "@@" sends a literal "@". The prompt is never a file.

--dry-run prints the exact request, a curl equivalent (it reads the
credentials from the variables hf read them from; $HF_WEBHOOK_URL and
$IDEMPOTENCY_KEY stand for what hf makes at run time) and its estimated
cost, and spends, uploads and opens nothing. Without credentials it still
shows the request (exit 0, with a warning) and skips the estimate.`,
		Example: `  hf generate higgsfield-ai/soul/standard --prompt "a red fox in snow"
  hf generate higgsfield-ai/soul/standard --prompt "four foxes" --set batch_size=4 -d out
  hf generate kling-video/v2.1/pro/image-to-video -p "the fox turns its head" --set image_url=https://... --set duration=5
  hf generate --sandbox higgsfield-ai/soul/standard --prompt "no credentials needed"
  hf generate higgsfield-ai/soul/standard --prompt "x" -o - > fox.png
  hf generate kling-video/v2.1/pro/image-to-video -p "it walks" --set image_url=@cat.png
  hf generate higgsfield-ai/soul/standard -p "x" --dry-run`,
		Args: cmdutil.ExactArgs(1, "generate needs exactly one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			opts.Body.Changed(cmd)
			if err := higgsfield.ValidModel(opts.Model); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if opts.IdemKey != "" && !idemKeyRe().MatchString(opts.IdemKey) {
				return cmdutil.FlagErrorf("invalid --idempotency-key %q: use 1 to 255 letters, digits or ._:-", opts.IdemKey)
			}
			if !cmd.Flags().Changed("timeout") {
				if d, err := configDuration(f, "generate.timeout"); err != nil {
					return err
				} else if d > 0 {
					opts.Timeout = d
				}
			}
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if err := cmdutil.CheckPollInterval(opts.PollInterval); err != nil {
				return err
			}
			if opts.Body.PromptSet && strings.TrimSpace(opts.Body.Prompt) == "" {
				return cmdutil.FlagErrorf("--prompt is empty: give the text to generate from")
			}
			if opts.NoWait && opts.Sandbox {
				return &cmdutil.FlagError{Err: errors.New("--no-wait has no use with --sandbox: the sandbox's fake API ends with this run, so its id could not be picked up later"),
					Hint: "leave out --no-wait, or try --no-wait against the real API"}
			}
			if opts.NoWait && opts.Out.Output == "-" {
				return cmdutil.FlagErrorf("--no-wait downloads nothing, so -o - has nothing to write; drop one of them")
			}
			if cmd.Flags().Changed("expires-after") {
				if err := cmdutil.CheckExpiresAfter(opts.ExpiresAfter); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return generateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.Body.Register(cmd)
	opts.Out.Register(cmd, ".")
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON object on stdout instead of paths")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stderr but errors")
	fl.StringVar(&opts.IdemKey, "idempotency-key", "", "send this Idempotency-Key: the same key and parameters return the original request without a second charge")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "submit, print the request id on stdout, and exit")
	fl.BoolVar(&opts.Sandbox, "sandbox", false, "run against a built-in fake API: no credentials, no network, real PNG/MP4 outputs")
	fl.Var(config.NewDurationValue(&opts.Timeout, 30*time.Minute), "timeout", "give up waiting after this long (the request goes on; resume with hf wait)")
	opts.Endpoint.Register(cmd)
	fl.Var(config.NewDurationValue(&opts.PollInterval, 0), "poll-interval", "poll the status at this fixed interval (default: 2s growing to 10s)")
	fl.Var(config.NewDurationValue(&opts.ExpiresAfter, 0), "expires-after", "delete the request's data this long after it finishes (Hf-Expires-After; 1h up to the account's retention)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the exact request and its estimate; submit, upload and open nothing")
	_ = cmd.RegisterFlagCompletionFunc("set", cmdutil.CompleteSetKeys)
	cmd.ValidArgsFunction = cmdutil.CompleteModels
	return cmd
}

func configDuration(f *cmdutil.Factory, key string) (time.Duration, error) {
	cfg, err := f.Config()
	if err != nil {
		return 0, err
	}
	d, err := cfg.Duration(key)
	if err != nil {
		return 0, &cmdutil.FlagError{Err: fmt.Errorf("%s: %w", key, err)}
	}
	return d, nil
}

// BuildParams merges --input, --prompt and --set into the request body
// (file references left as written).
func BuildParams(stdin io.Reader, input string, prompt string, promptSet bool, sets []string) (map[string]any, error) {
	b := cmdutil.BodyFlags{Input: input, Prompt: prompt, PromptSet: promptSet, Sets: sets}
	body, err := b.Parse(stdin)
	if err != nil {
		return nil, err
	}
	return body.Merge(), nil
}

// ParseSet parses one --set key=value (cmdutil.ParseSet).
func ParseSet(s string) (string, any, error) { return cmdutil.ParseSet(s) }

// readTerminal reads the JSON body typed on a terminal (-i - with stdin a
// TTY): it says so first, and Ctrl-C stops it (exit 130) although the read
// itself cannot be interrupted.
func readTerminal(ctx context.Context, ios *iostreams.IOStreams) (io.Reader, error) {
	fmt.Fprintln(ios.ErrOut, "hf: reading the JSON body from stdin (Ctrl-D to end, Ctrl-C to stop)")
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(ios.In, 16<<20))
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, cmdutil.FlagErrorf("--input -: %v", r.err)
		}
		return bytes.NewReader(r.data), nil
	case <-ctx.Done():
		return nil, &job.InterruptedError{}
	}
}

// errUploadTimeout ends the uploads of a run that reached --timeout.
var errUploadTimeout = errors.New("--timeout reached while uploading")

// generateRun builds the request from opts, checks the output path, and
// runs the job on the engine opts.Engine builds.
func generateRun(ctx context.Context, opts *Options) error {
	stdin := opts.IO.In
	if opts.Body.Input == "-" && opts.IO.IsStdinTTY() {
		var err error
		if stdin, err = readTerminal(ctx, opts.IO); err != nil {
			return err
		}
	}
	body, err := opts.Body.Parse(stdin)
	if err != nil {
		return err
	}
	// Every file is checked before anything is opened, uploaded or spent.
	refs, err := body.Scan()
	if err != nil {
		return err
	}
	if !opts.Quiet {
		warnUnknownParams(opts.IO, opts.Model, body.Merge())
	}
	if opts.DryRun {
		return dryRun(ctx, opts, body)
	}
	out, err := opts.Out.Resolve(opts.IO, opts.JSON)
	if err != nil {
		return err
	}
	if out.Template.IsZero() && out.Stdout == nil {
		out.Template = download.Default
	}
	spec := job.Spec{Model: opts.Model, Params: body.Merge(), Output: out, Timeout: opts.Timeout, NoWait: opts.NoWait,
		IdempotencyKey: opts.IdemKey, ExpiresAfter: opts.ExpiresAfter}
	if !opts.NoWait && out.Stdout == nil {
		if err := cmdutil.CheckDir(out.Dir); err != nil {
			return err
		}
	}
	if !opts.NoWait {
		if err := job.Precheck(spec); err != nil {
			var exists *download.ExistsError
			if errors.As(err, &exists) {
				return err
			}
			return &cmdutil.FlagError{Err: err}
		}
	}
	eo := cmdutil.EngineOptions{Sandbox: opts.Sandbox, Quiet: opts.Quiet, PollInterval: opts.PollInterval}
	if !opts.NoWait { // nobody would be listening for the webhook
		eo.Endpoint = &opts.Endpoint
	}
	eng, err := opts.Engine(ctx, eo)
	if err != nil {
		return err
	}
	if len(refs) > 0 {
		// --timeout bounds the whole run, uploads included.
		start := time.Now()
		uctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errUploadTimeout)
		spec.Params, _, err = body.Resolve(uctx, cmdutil.NewResolver(opts.IO, eng.Runner.Client, opts.Quiet, opts.Sandbox))
		cancel()
		if err != nil {
			eng.Close()
			if errors.Is(context.Cause(ctx), job.ErrInterrupt) {
				return &job.InterruptedError{} // nothing was submitted
			}
			if ctx.Err() == nil && errors.Is(context.Cause(uctx), errUploadTimeout) {
				fmt.Fprintf(opts.IO.ErrOut, "error: uploading the input files took longer than --timeout %s; nothing was submitted\n", opts.Timeout)
				return &cmdutil.SilentError{Code: 124}
			}
			return err
		}
		spec.Timeout = max(spec.Timeout-time.Since(start), time.Second)
	}
	res, err := eng.Runner.Generate(ctx, spec)
	eng.Close()
	if opts.NoWait && err == nil && !opts.JSON {
		fmt.Fprintln(opts.IO.Out, res.RequestID)
		return nil
	}
	cmdutil.PrintResult(opts.IO, res, opts.JSON)
	if gerr := ui.GitHubActions(os.Getenv, opts.IO.ErrOut, "hf generate "+opts.Model, []ui.GHAJob{ui.GHAResult(res, err)}); gerr != nil {
		fmt.Fprintln(opts.IO.ErrOut, "hf: warning: "+gerr.Error())
	}
	return err
}

// warnUnknownParams warns about a model, body fields or values that the
// catalog does not list: a typo is caught early, but the API stays the
// judge and the body is sent as given.
func warnUnknownParams(ios *iostreams.IOStreams, model string, params map[string]any) {
	for _, w := range higgsfield.CatalogWarnings(model, params) {
		fmt.Fprintln(ios.ErrOut, "hf: warning: "+w)
	}
}
