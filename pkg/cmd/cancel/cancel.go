// Package cancel implements `hf cancel ID`: cancel a request that is still queued.
package cancel

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
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
			opts.RequestID = args[0]
			if err := cmdutil.RequestIDArg(opts.RequestID); err != nil {
				return err
			}
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
	if err := client.Cancel(ctx, opts.RequestID, cancelURL); err != nil {
		var ae *higgsfield.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest {
			return fmt.Errorf("%s has already started and can no longer be canceled (%w)", opts.RequestID, err)
		}
		return err
	}
	if known { // requests from elsewhere stay out of this machine's history
		_ = j.Append(journal.Record{Event: "status", RequestID: opts.RequestID, Status: higgsfield.StatusCanceled, Error: "canceled by the user"})
	}
	fmt.Fprintf(opts.IO.ErrOut, "hf: canceled %s\n", opts.RequestID)
	return nil
}
