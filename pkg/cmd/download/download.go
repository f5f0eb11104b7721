// Package download implements `hf download ID`: save the outputs of a
// finished request (again, elsewhere, or after a failed download).
package download

import (
	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmd/wait"
	"github.com/hf-cli/hf/pkg/cmdutil"
)

// NewCmdDownload builds `hf download`. runF replaces the run step in tests.
func NewCmdDownload(f *cmdutil.Factory, runF func(*wait.Options) error) *cobra.Command {
	opts := &wait.Options{IO: f.IOStreams, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "download ID",
		Short: "Download the outputs of a finished request",
		Long: `Check the request's status and download its outputs. A request that has not
finished yet is an error (use hf wait). The directory and name template
default to those recorded when the request was submitted.`,
		Example: `  hf download d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff
  hf download d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff -o 'fox-{index}.{ext}' --clobber`,
		Args: cmdutil.ExactArgs(1, "download needs exactly one request ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := cmdutil.RequestIDArg(args[0], f.Journal)
			if err != nil {
				return err
			}
			opts.RequestID = id
			if runF != nil {
				return runF(opts)
			}
			return wait.Run(cmd.Context(), opts)
		},
	}
	opts.Out.Register(cmd, "")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object on stdout instead of paths")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return cmd
}
