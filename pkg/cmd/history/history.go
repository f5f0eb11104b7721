// Package history implements `hf history`: what the journal holds, newest first.
package history

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/journal"
)

// Options are the parsed flags of `hf history`.
type Options struct {
	IO      *iostreams.IOStreams
	Journal func(sandbox bool) (*journal.Journal, error)
	JSON    bool
	Limit   int
	Now     func() time.Time
}

// NewCmdHistory builds `hf history`. runF replaces the run step in tests.
func NewCmdHistory(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Journal: f.Journal, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the requests this machine submitted, newest first",
		Long: `List the requests recorded in the journal ($XDG_STATE_HOME/hf/journal.jsonl),
newest first, with their last known status and saved files. A request that
never finished here can be picked up with hf wait ID.`,
		Args: cmdutil.ExactArgs(0, "history takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("--limit must be 0 (all) or more")
			}
			if runF != nil {
				return runF(opts)
			}
			return historyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON array")
	cmd.Flags().IntVarP(&opts.Limit, "limit", "n", 0, "show at most this many requests (0: all)")
	return cmd
}

func historyRun(_ context.Context, opts *Options) error {
	j, err := opts.Journal(false)
	if err != nil {
		return err
	}
	entries, err := j.Entries()
	if err != nil {
		return err
	}
	if opts.Limit > 0 && len(entries) > opts.Limit {
		entries = entries[:opts.Limit]
	}
	if entries == nil {
		entries = []journal.Entry{}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "hf: no requests recorded yet")
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tMODEL\tSTATUS\tSUBMITTED\tFILES")
	for _, e := range entries {
		status := e.Status
		if status == "" {
			status = "unknown"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", e.RequestID, e.Model, status, ago(opts.Now().Sub(e.SubmittedAt)), len(e.Files))
	}
	return tw.Flush()
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
