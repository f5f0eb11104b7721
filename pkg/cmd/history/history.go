// Package history implements `hf history`: what the journal holds, newest first.
package history

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

// Options are the parsed flags of `hf history`.
type Options struct {
	IO      *iostreams.IOStreams
	Journal func(sandbox bool) (*journal.Journal, error)
	JSON    bool
	Limit   int
	// Pending: only requests not known to have finished.
	Pending bool
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
never finished here can be picked up with hf wait ID. A submit that got no
answer (hf was killed while it was in flight) has no id: it is listed with
the Idempotency-Key that finds it, if the API created it, without paying
twice (hf generate … --idempotency-key KEY, with the same parameters).`,
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
	cmd.Flags().BoolVar(&opts.Pending, "pending", false, "only requests not known to have finished (pick them up with hf wait ID)")
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
	if opts.Pending {
		entries = slices.DeleteFunc(entries, func(e journal.Entry) bool { return higgsfield.Terminal(e.Status) })
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
		if opts.Pending {
			fmt.Fprintln(opts.IO.ErrOut, "hf: no pending requests")
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "hf: no requests recorded yet")
		}
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tMODEL\tSTATUS\tSUBMITTED\tFILES\tPROMPT")
	var unanswered []journal.Entry
	for _, e := range entries {
		status := e.Status
		if status == "" {
			status = "unknown"
		}
		id := e.RequestID
		if id == "" {
			id = "-"
			unanswered = append(unanswered, e)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", id, e.Model, status, ago(opts.Now().Sub(e.SubmittedAt)), len(e.Files), Truncate(e.Prompt, promptWidth))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return explainUnanswered(opts.IO, unanswered)
}

// explainUnanswered says, for each submit that got no answer (hf was
// killed, or its connection lost, while it was in flight), how to find the
// request without paying twice.
func explainUnanswered(ios *iostreams.IOStreams, entries []journal.Entry) error {
	for _, e := range entries {
		if _, err := fmt.Fprintf(ios.ErrOut, "hf: the submit of %s %s got no answer; if the API created it: %s\n",
			e.Model, e.SubmittedAt.Local().Format(time.DateTime), job.ReplayHint(e.IdempotencyKey)); err != nil {
			return err
		}
	}
	return nil
}

// promptWidth is how much of a prompt a history row shows.
const promptWidth = 40

// Truncate shortens s to at most n characters on one line, ending in "…"
// when cut; control characters become spaces.
func Truncate(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
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
