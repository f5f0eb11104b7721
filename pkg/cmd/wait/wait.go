// Package wait implements `hf wait ID`: pick up a request submitted earlier,
// wait until it finishes, and download its outputs.
package wait

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

// Options are the parsed flags of `hf wait` and `hf download`.
type Options struct {
	IO     *iostreams.IOStreams
	Engine func(context.Context, cmdutil.EngineOptions) (*cmdutil.Engine, error)

	RequestID             string
	Out                   cmdutil.OutputFlags
	JSON, Quiet           bool
	Timeout, PollInterval time.Duration
	// Wait is false for `hf download`: a request that is not finished is an error.
	Wait bool
}

// NewCmdWait builds `hf wait`. runF replaces the run step in tests.
func NewCmdWait(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Engine: f.Engine, Wait: true}
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for a submitted request to finish, then download it",
		Long: `Check the request's status at once, keep polling until it finishes, then
download its outputs. The directory and name template default to those
recorded when the request was submitted. Ctrl-C stops waiting; the request
goes on.`,
		Example: `  hf wait d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff
  hf wait d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff -d out --json`,
		Args: cmdutil.ExactArgs(1, "wait needs exactly one request ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := cmdutil.RequestIDArg(args[0], f.Journal)
			if err != nil {
				return err
			}
			opts.RequestID = id
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if err := cmdutil.CheckPollInterval(opts.PollInterval); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	opts.Out.Register(cmd, "")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object on stdout instead of paths")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stderr but errors")
	cmd.Flags().Var(config.NewDurationValue(&opts.Timeout, 30*time.Minute), "timeout", "give up waiting after this long")
	cmd.Flags().Var(config.NewDurationValue(&opts.PollInterval, 0), "poll-interval", "poll the status at this fixed interval (default: 2s growing to 10s)")
	return cmd
}

// Run resumes the request (the run step of `hf wait` and `hf download`).
func Run(ctx context.Context, opts *Options) error {
	out, err := opts.Out.Resolve(opts.IO, opts.JSON)
	if err != nil {
		return err
	}
	eng, err := opts.Engine(ctx, cmdutil.EngineOptions{Quiet: opts.Quiet, PollInterval: opts.PollInterval})
	if err != nil {
		return err
	}
	res, err := eng.Runner.Resume(ctx, job.ResumeSpec{RequestID: opts.RequestID, Output: out, Timeout: opts.Timeout, Wait: opts.Wait})
	eng.Close()
	if opts.Out.Dir == "" {
		// The directory came from the journal (absolute): show paths as
		// generate did, relative to here when they are below it.
		res.Files = cmdutil.RelativePaths(res.Files)
	}
	cmdutil.PrintResult(opts.IO, res, opts.JSON)
	return err
}
