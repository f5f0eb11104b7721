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
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

// Options are the parsed flags of `hf cancel`.
type Options struct {
	IO        *iostreams.IOStreams
	Client    func(cmdutil.ClientOptions) (*higgsfield.Client, error)
	Journal   func(sandbox bool) (*journal.Journal, error)
	RequestID string
	JSON      bool
}

// NewCmdCancel builds `hf cancel`. runF replaces the run step in tests.
func NewCmdCancel(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client, Journal: f.Journal}
	cmd := &cobra.Command{
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
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object: request_id, status, canceled, error")
	return cmd
}

// View is the --json shape of hf cancel.
type View struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status,omitempty"`
	// Canceled: this run canceled the request.
	Canceled bool   `json:"canceled"`
	Error    string `json:"error,omitempty"`
}

func cancelRun(ctx context.Context, opts *Options) error {
	client, err := opts.Client(cmdutil.ClientOptions{})
	if err != nil {
		return err
	}
	var cancelURL, statusURL string
	j, jerr := opts.Journal(false)
	known := false
	if jerr == nil {
		var e journal.Entry
		if e, known, _ = j.Lookup(opts.RequestID); known {
			cancelURL, statusURL = e.CancelURL, e.StatusURL
		}
	}
	var record func(journal.Record)
	if known { // requests from elsewhere stay out of this machine's history
		record = func(rec journal.Record) { _ = j.Append(rec) }
	}
	v := View{RequestID: opts.RequestID}
	err = job.Cancel(ctx, client, opts.RequestID, cancelURL, record)
	var ae *higgsfield.APIError
	switch {
	case err == nil:
		v.Status, v.Canceled = higgsfield.StatusCanceled, true
		if !opts.JSON {
			fmt.Fprintf(opts.IO.ErrOut, "hf: canceled %s\n", opts.RequestID)
		}
	case errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest:
		// Refused: say what the request is, not only that it has started.
		if st, serr := client.Status(ctx, opts.RequestID, statusURL); serr == nil {
			v.Status = st.Status
			if known && st.Terminal() {
				_ = j.Append(journal.Record{Event: journal.EventStatus, RequestID: opts.RequestID, Status: st.Status, Error: st.Error})
			}
			switch {
			case st.Status == higgsfield.StatusCanceled:
				err = nil
				if !opts.JSON {
					fmt.Fprintf(opts.IO.ErrOut, "hf: %s was already canceled\n", opts.RequestID)
				}
			case st.Terminal():
				err = fmt.Errorf("%s has already finished (%s); there is nothing to cancel (%w)", opts.RequestID, st.Status, ae)
			}
		}
	}
	if err != nil {
		v.Error = err.Error()
	}
	if opts.JSON {
		if werr := cmdutil.WriteJSON(opts.IO.Out, v); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
