// Package estimate implements `hf estimate MODEL`: what a generation would
// cost, from the API's free estimate endpoint.
package estimate

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/sandbox"
)

// Options are the parsed flags of `hf estimate`.
type Options struct {
	IO     *iostreams.IOStreams
	Client func(cmdutil.ClientOptions) (*higgsfield.Client, error)

	Model         string
	Body          cmdutil.BodyFlags
	JSON, Sandbox bool
}

// NewCmdEstimate builds `hf estimate`. runF replaces the run step in tests.
func NewCmdEstimate(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "estimate MODEL [--prompt TEXT] [--set key=value]...",
		Short: "Show what a generation would cost, without spending anything",
		Long: `Ask the API what generating with MODEL and this body would cost, in credits
and USD. It takes the same body flags as hf generate; @FILE references are
checked but not uploaded (a placeholder URL stands in). The call is free.`,
		Example: `  hf estimate higgsfield-ai/soul/standard --prompt "a fox" --set batch_size=4
  hf estimate kling-video/v2.1/pro/image-to-video -p "it walks" --set image_url=@cat.png --json`,
		Args:              cmdutil.ExactArgs(1, "estimate needs exactly one MODEL argument"),
		ValidArgsFunction: cmdutil.CompleteModels,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			opts.Body.Changed(cmd)
			if err := higgsfield.ValidModel(opts.Model); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			return estimateRun(cmd.Context(), opts)
		},
	}
	opts.Body.Register(cmd)
	_ = cmd.RegisterFlagCompletionFunc("set", cmdutil.CompleteSetKeys)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the API's answer as JSON")
	cmd.Flags().BoolVar(&opts.Sandbox, "sandbox", false, "ask the built-in fake API (no credentials, no network)")
	return cmd
}

func estimateRun(ctx context.Context, opts *Options) error {
	body, err := opts.Body.Parse(opts.IO.In)
	if err != nil {
		return err
	}
	params, refs, err := body.Preview()
	if err != nil {
		return err
	}
	for _, w := range higgsfield.CatalogWarnings(opts.Model, params) {
		fmt.Fprintln(opts.IO.ErrOut, "hf: warning: "+w)
	}
	co := cmdutil.ClientOptions{}
	if opts.Sandbox {
		sb := sandbox.Start()
		defer sb.Close()
		co.BaseURL, co.NoCredentials = sb.URL, true
	}
	client, err := opts.Client(co)
	if err != nil {
		return err
	}
	est, err := client.Estimate(ctx, opts.Model, params)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, est)
	}
	fmt.Fprintln(opts.IO.Out, Line(est))
	if len(refs) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "hf: %d file(s) checked, not uploaded (a placeholder URL stood in)\n", len(refs))
	}
	return nil
}

// Line renders an estimate on one line: "1.500 credits ($0.094)".
func Line(e *higgsfield.Estimate) string {
	var parts []string
	switch {
	case e.Credits != "" && e.USD != "":
		parts = append(parts, e.Credits+" credits ($"+e.USD+")")
	case e.Credits != "":
		parts = append(parts, e.Credits+" credits")
	case e.USD != "":
		parts = append(parts, "$"+e.USD)
	}
	if e.PricingDescription != "" {
		parts = append(parts, e.PricingDescription)
	}
	return strings.Join(parts, "; ")
}
