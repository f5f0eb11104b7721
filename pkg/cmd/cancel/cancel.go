// Package cancel implements `hf cancel ID`: cancel a request that is still queued.
package cancel

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

// Options are the parsed flags of `hf cancel`.
type Options struct {
	IO        *iostreams.IOStreams
	Client    func(cmdutil.ClientOptions) (*higgsfield.Client, error)
	Journal   func(sandbox bool) (*journal.Journal, error)
	RequestID string
}

// NewCmdCancel builds `hf cancel`. runF replaces the run step in tests.
func NewCmdCancel(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client, Journal: f.Journal}
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a request that is still queued",
		Long: `Cancel a request. Only queued requests can be canceled (and are refunded);
one that has started runs to the end.`,
		Args: cmdutil.ExactArgs(1, "cancel needs exactly one request ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := cmdutil.RequestIDArg(args[0], f.Journal)
			if err != nil {
				return err
			}
			opts.RequestID = id
			if runF != nil {
				return runF(opts)
			}
			return cancelRun(cmd.Context(), opts)
		},
	}
}

func cancelRun(ctx context.Context, opts *Options) error {
	client, err := opts.Client(cmdutil.ClientOptions{})
	if err != nil {
		return err
	}
	var cancelURL string
	j, jerr := opts.Journal(false)
	known := false
	if jerr == nil {
		var e journal.Entry
		if e, known, _ = j.Lookup(opts.RequestID); known {
			cancelURL = e.CancelURL
		}
	}
	var record func(journal.Record)
	if known { // requests from elsewhere stay out of this machine's history
		record = func(rec journal.Record) { _ = j.Append(rec) }
	}
	if err := job.Cancel(ctx, client, opts.RequestID, cancelURL, record); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "hf: canceled %s\n", opts.RequestID)
	return nil
}
