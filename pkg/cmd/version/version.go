// Package version implements `hf version`.
package version

import (
	"context"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// Options are what `hf version` prints from.
type Options struct {
	IO      *iostreams.IOStreams
	Version string
}

// NewCmdVersion builds `hf version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	return &cobra.Command{
		Use:   "version",
		Short: "Print hf's version",
		Args:  cmdutil.ExactArgs(0, "version takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
}

func versionRun(_ context.Context, opts *Options) error {
	fmt.Fprintf(opts.IO.Out, "hf %s (%s, %s/%s)\n", opts.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
