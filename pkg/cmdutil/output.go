package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

// ExactArgs is cobra.ExactArgs with a usage error that says what is missing.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			got := fmt.Sprintf("%d arguments", len(args))
			if len(args) == 1 {
				got = "1 argument"
			}
			return &FlagError{Err: fmt.Errorf("%s (got %s)", what, got), Hint: "see: " + cmd.CommandPath() + " --help"}
		}
		return nil
	}
}

// RequestIDArg validates a request id argument.
func RequestIDArg(id string) error {
	if err := higgsfield.ValidID(id); err != nil {
		return &FlagError{Err: err}
	}
	return nil
}

// OutputFlags are -d/--dir, -o/--output and --clobber, shared by generate,
// wait and download.
type OutputFlags struct {
	Dir, Output string
	Clobber     bool
}

// Register adds the flags to cmd. dirDefault "" means "from the journal, else .".
func (o *OutputFlags) Register(cmd *cobra.Command, dirDefault string) {
	dirHelp := "directory to save outputs in"
	outHelp := "file name template: {id} {index} {count} {ext} {model} {date}, or - for stdout (one output)"
	if dirDefault == "" {
		dirHelp += " (default: the one recorded when the request was submitted, else .)"
		outHelp += " (default: as recorded, else " + download.DefaultTemplate + ")"
	} else {
		outHelp += ` (default "` + download.DefaultTemplate + `")`
	}
	cmd.Flags().StringVarP(&o.Dir, "dir", "d", dirDefault, dirHelp)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", outHelp)
	cmd.Flags().BoolVar(&o.Clobber, "clobber", false, "overwrite existing files")
}

// Resolve validates the flags into a job.Output. Empty fields stay empty
// (the caller or the journal fills them).
func (o *OutputFlags) Resolve(ios *iostreams.IOStreams, jsonOut bool) (job.Output, error) {
	out := job.Output{Dir: o.Dir, Clobber: o.Clobber}
	if o.Output == "-" {
		if jsonOut {
			return out, FlagErrorf("-o - writes the file to stdout, which --json needs for its object; use one or the other")
		}
		out.Stdout = ios.Out
		return out, nil
	}
	if o.Output != "" {
		t, err := download.ParseTemplate(o.Output)
		if err != nil {
			return out, &FlagError{Err: fmt.Errorf("invalid -o template: %w", err)}
		}
		out.Template = t
	}
	return out, nil
}

// WriteJSON writes v to w as indented JSON followed by a newline: the one
// shape of every --json output.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// PrintResult writes a job's result on stdout: one JSON object with
// jsonOut, else the saved paths one per line. Nothing when the output
// went to stdout itself.
func PrintResult(ios *iostreams.IOStreams, res job.Result, jsonOut bool) {
	if jsonOut {
		if res.RequestID == "" {
			return
		}
		_ = WriteJSON(ios.Out, res)
		return
	}
	for _, f := range res.Files {
		if f.Path != "-" {
			fmt.Fprintln(ios.Out, f.Path)
		}
	}
}
