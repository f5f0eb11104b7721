// Package deletecmd implements `hf delete ID`: remove a finished request's
// inputs and outputs on the server.
package deletecmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

// Options are the parsed flags of `hf delete`.
type Options struct {
	IO     *iostreams.IOStreams
	Client func(cmdutil.ClientOptions) (*higgsfield.Client, error)

	RequestID string
	Yes, JSON bool
}

// NewCmdDelete builds `hf delete`. runF replaces the run step in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a finished request's inputs and outputs on the server",
		Long: `Delete the input and output files, prompt and parameters of a finished
request on Higgsfield's servers now, whatever its retention (billing records
stay). Files already downloaded are not touched. On a terminal hf asks first;
scripts pass --yes (without a terminal and without --yes, hf refuses: exit 2).`,
		Example: `  hf delete 3f1c2a9e-6699-4f6c-bb45-2ad7fd9158ff
  hf delete 3f1c2a9e-6699-4f6c-bb45-2ad7fd9158ff --yes --json`,
		Args: cmdutil.ExactArgs(1, "delete needs exactly one request ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The whole id: deleting is not undone, so no prefix lookup.
			id, err := cmdutil.RequestIDArg(args[0], nil)
			if err != nil {
				return err
			}
			opts.RequestID = id
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the API's answer as JSON")
	return cmd
}

func deleteRun(ctx context.Context, opts *Options) error {
	if !opts.Yes {
		if !opts.IO.CanPrompt() {
			return &cmdutil.FlagError{Err: fmt.Errorf("refusing to delete %s without confirmation: no terminal to ask on", opts.RequestID), Hint: "pass --yes to delete without asking"}
		}
		fmt.Fprintf(opts.IO.ErrOut, "Delete the inputs and outputs of %s on the server? This cannot be undone. [y/N] ", opts.RequestID)
		yes, err := confirmed(ctx, opts.IO.In)
		if err != nil {
			fmt.Fprintln(opts.IO.ErrOut)
			return &job.InterruptedError{} // nothing was deleted
		}
		if !yes {
			fmt.Fprintln(opts.IO.ErrOut, "hf: not deleted")
			return &cmdutil.SilentError{Code: 1}
		}
	}
	client, err := opts.Client(cmdutil.ClientOptions{})
	if err != nil {
		return err
	}
	d, err := client.Delete(ctx, opts.RequestID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	fmt.Fprintf(opts.IO.ErrOut, "hf: deleted the data of %s on the server\n", opts.RequestID)
	return nil
}

// confirmed reads the answer to the question; Ctrl-C (ctx ending) ends the
// wait for it with ctx's cause: hf's signal handler catches the interrupt,
// so the blocked read alone would wait for Enter.
func confirmed(ctx context.Context, in io.Reader) (bool, error) {
	ch := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(io.LimitReader(in, 256)).ReadString('\n')
		ch <- line
	}()
	select {
	case line := <-ch:
		if ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}
