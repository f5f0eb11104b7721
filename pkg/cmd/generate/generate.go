// Package generate implements `hf generate`: submit a generation, wait for
// it, download its outputs.
package generate

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

// idemKeyRe compiles on first use: {1,255} costs 3,000 allocations, too much for every start-up.
var idemKeyRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._:-]{1,255}$`) })

// Options are the parsed flags of `hf generate`.
type Options struct {
	IO     *iostreams.IOStreams
	Engine func(context.Context, cmdutil.EngineOptions) (*cmdutil.Engine, error)

	Model     string
	Prompt    string
	PromptSet bool
	Sets      []string
	Input     string
	IdemKey   string
	Out       cmdutil.OutputFlags

	JSON, Quiet, NoWait, Sandbox bool
	Timeout, PollInterval        time.Duration
	Endpoint                     cmdutil.EndpointOptions
}

// NewCmdGenerate builds `hf generate`. runF replaces the run step in tests.
func NewCmdGenerate(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Engine: f.Engine}
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
quote it as JSON, e.g. --set 'seed="42"', to force a string).`,
		Example: `  hf generate higgsfield-ai/soul/standard --prompt "a red fox in snow"
  hf generate higgsfield-ai/soul/standard --prompt "four foxes" --set batch_size=4 -d out
  hf generate kling-video/v2.1/pro/image-to-video --set image_url=https://... --set duration=5
  hf generate --sandbox higgsfield-ai/soul/standard --prompt "no credentials needed"
  hf generate higgsfield-ai/soul/standard --prompt "x" -o - > fox.png`,
		Args: cmdutil.ExactArgs(1, "generate needs exactly one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			opts.PromptSet = cmd.Flags().Changed("prompt")
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
			if opts.PollInterval < 0 {
				return cmdutil.FlagErrorf("--poll-interval must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return generateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Prompt, "prompt", "p", "", "the prompt (sets the \"prompt\" field)")
	fl.StringArrayVarP(&opts.Sets, "set", "s", nil, "set a body field: key=value (value parsed as JSON when valid)")
	fl.StringVarP(&opts.Input, "input", "i", "", "read the JSON body from FILE, or - for stdin")
	opts.Out.Register(cmd, ".")
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON object on stdout instead of paths")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stderr but errors")
	fl.StringVar(&opts.IdemKey, "idempotency-key", "", "send this Idempotency-Key: the same key and parameters return the original request without a second charge")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "submit, print the request id on stdout, and exit")
	fl.BoolVar(&opts.Sandbox, "sandbox", false, "run against a built-in fake API: no credentials, no network, real PNG/MP4 outputs")
	fl.DurationVar(&opts.Timeout, "timeout", 30*time.Minute, "give up waiting after this long (the request goes on; resume with hf wait)")
	opts.Endpoint.Register(cmd)
	fl.DurationVar(&opts.PollInterval, "poll-interval", 0, "poll the status at this fixed interval (default: 2s growing to 10s)")
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

// BuildParams merges --input, --prompt and --set into the request body.
func BuildParams(stdin io.Reader, input string, prompt string, promptSet bool, sets []string) (map[string]any, error) {
	params := map[string]any{}
	if input != "" {
		var data []byte
		var err error
		if input == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
		} else {
			data, err = os.ReadFile(input)
		}
		if err != nil {
			return nil, cmdutil.FlagErrorf("--input: %v", err)
		}
		if err := decodeJSON(data, &params); err != nil || params == nil {
			return nil, cmdutil.FlagErrorf("--input %s: want a JSON object (%v)", input, oneLine(err))
		}
	}
	if promptSet {
		params["prompt"] = prompt
	}
	for _, s := range sets {
		key, val, err := ParseSet(s)
		if err != nil {
			return nil, &cmdutil.FlagError{Err: err}
		}
		params[key] = val
	}
	if len(params) == 0 {
		return nil, cmdutil.FlagErrorf("nothing to generate: pass --prompt, --set key=value or --input FILE")
	}
	return params, nil
}

func oneLine(err error) string {
	if err == nil {
		return "got null"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// ParseSet parses one --set key=value. The value is JSON when it parses as
// JSON, else the raw string.
func ParseSet(s string) (string, any, error) {
	key, raw, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", nil, fmt.Errorf("invalid --set %q: want key=value", s)
	}
	var v any
	if err := decodeJSON([]byte(raw), &v); err == nil {
		return key, v, nil
	}
	return key, raw, nil
}

// decodeJSON decodes exactly one JSON value, keeping numbers as written
// (a seed above 2^53 must not be rounded).
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// generateRun builds the request from opts, checks the output path, and
// runs the job on the engine opts.Engine builds.
func generateRun(ctx context.Context, opts *Options) error {
	params, err := BuildParams(opts.IO.In, opts.Input, opts.Prompt, opts.PromptSet, opts.Sets)
	if err != nil {
		return err
	}
	out, err := opts.Out.Resolve(opts.IO, opts.JSON)
	if err != nil {
		return err
	}
	if out.Template.IsZero() && out.Stdout == nil {
		out.Template = download.Default
	}
	spec := job.Spec{Model: opts.Model, Params: params, Output: out, Timeout: opts.Timeout, NoWait: opts.NoWait, IdempotencyKey: opts.IdemKey}
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
	res, err := eng.Runner.Generate(ctx, spec)
	eng.Close()
	if opts.NoWait && err == nil && !opts.JSON {
		fmt.Fprintln(opts.IO.Out, res.RequestID)
		return nil
	}
	cmdutil.PrintResult(opts.IO, res, opts.JSON)
	return err
}
