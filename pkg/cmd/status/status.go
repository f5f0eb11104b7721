// Package status implements `hf status ID`: one look at a request's status.
package status

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

// Options are the parsed flags of `hf status`.
type Options struct {
	IO        *iostreams.IOStreams
	Client    func(cmdutil.ClientOptions) (*higgsfield.Client, error)
	Journal   func(sandbox bool) (*journal.Journal, error)
	RequestID string
	JSON      bool
	// Delivery prints the kept webhook delivery that resolved the request.
	Delivery bool
}

// NewCmdStatus builds `hf status`. runF replaces the run step in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client, Journal: f.Journal}
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a request's status and outputs",
		Long: `Fetch a request's status once and print it on stdout. The exit code is 0
whatever the status is; use hf wait to block until it finishes.`,
		Args: cmdutil.ExactArgs(1, "status needs exactly one request ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := cmdutil.RequestIDArg(args[0], f.Journal)
			if err != nil {
				return err
			}
			opts.RequestID = id
			if opts.Delivery && opts.JSON {
				// Checked here, not by cobra's flag groups, whose error is
				// no usage error (exit 1, not 2).
				return cmdutil.FlagErrorf("--delivery and --json cannot be used together")
			}
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&opts.Delivery, "delivery", false, "print the verified webhook delivery (headers and body) that resolved the request, as kept beside the journal")
	return cmd
}

// View is the --json shape of a status: the shape of hf generate's and
// hf wait's objects (request_id, model, status, files, error), plus the
// API's URLs. files holds every output URL, with the path it was saved at
// when the journal knows one.
type View struct {
	RequestID string         `json:"request_id"`
	Model     string         `json:"model"`
	Status    string         `json:"status"`
	Files     []journal.File `json:"files"`
	Error     string         `json:"error,omitempty"`
	StatusURL string         `json:"status_url,omitempty"`
	CancelURL string         `json:"cancel_url,omitempty"`
	ExpiresAt string         `json:"expires_at,omitempty"`
}

func statusRun(ctx context.Context, opts *Options) error {
	if opts.Delivery {
		return deliveryRun(opts)
	}
	client, err := opts.Client(cmdutil.ClientOptions{})
	if err != nil {
		return err
	}
	var (
		entry journal.Entry
		known bool
		j     *journal.Journal
	)
	if j, err = opts.Journal(false); err == nil {
		entry, known, _ = j.Lookup(opts.RequestID)
	}
	st, err := client.Status(ctx, opts.RequestID, entry.StatusURL)
	if err != nil {
		return err
	}
	if known && st.Status != "" && (st.Status != entry.Status || st.Error != entry.Error) {
		// What hf status learns, hf history shows.
		_ = j.Append(journal.Record{Event: journal.EventStatus, RequestID: opts.RequestID, Status: st.Status, Error: st.Error})
	}
	v := View{RequestID: st.RequestID, Model: entry.Model, Status: st.Status, StatusURL: st.StatusURL, CancelURL: st.CancelURL,
		Error: st.Error, ExpiresAt: st.ExpiresAt, Files: []journal.File{}}
	if v.RequestID == "" {
		v.RequestID = opts.RequestID
	}
	for _, o := range st.Outputs {
		f := journal.File{URL: o.URL, ContentType: o.ContentType}
		for _, g := range entry.Files {
			if download.SameAsset(g.URL, o.URL) {
				f.Path, f.SHA256, f.Bytes = g.Path, g.SHA256, g.Bytes
				if f.ContentType == "" {
					f.ContentType = g.ContentType
				}
			}
		}
		v.Files = append(v.Files, f)
	}
	v.Files = cmdutil.RelativePaths(v.Files)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, v)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "request\t%s\n", v.RequestID)
	if v.Model != "" {
		fmt.Fprintf(tw, "model\t%s\n", v.Model)
	}
	fmt.Fprintf(tw, "status\t%s\n", v.Status)
	if v.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", v.Error)
	}
	for i, f := range v.Files {
		line := f.URL
		if f.Path != "" {
			line = f.Path + "  " + f.URL
		}
		fmt.Fprintf(tw, "%s\t%s\n", fieldOf(st.Outputs[i]), line)
	}
	if v.ExpiresAt != "" {
		fmt.Fprintf(tw, "expires\t%s\n", v.ExpiresAt)
	}
	return tw.Flush()
}

// deliveryRun prints the kept delivery that resolved the request: no API
// call, the journal knows.
func deliveryRun(opts *Options) error {
	j, err := opts.Journal(false)
	if err != nil {
		return err
	}
	data, _, err := job.ResolvingDelivery(j, opts.RequestID)
	if err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(data)
	return err
}

func fieldOf(o higgsfield.Output) string { return o.Field }
