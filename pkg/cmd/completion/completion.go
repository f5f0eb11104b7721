// Package completion implements `hf completion SHELL`: shell completion scripts.
package completion

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// Options are the parsed arguments of `hf completion`.
type Options struct {
	IO    *iostreams.IOStreams
	Shell string
	// Root is the command tree the script completes.
	Root *cobra.Command
}

// NewCmdCompletion builds `hf completion`. runF replaces the run step in tests.
func NewCmdCompletion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "completion SHELL",
		Short: "Print the completion script for bash, zsh, fish or powershell",
		Long: `Print a shell completion script on stdout. To load completions:

  bash:        source <(hf completion bash)
  zsh:         hf completion zsh > "${fpath[1]}/_hf"
  fish:        hf completion fish > ~/.config/fish/completions/hf.fish
  powershell:  hf completion powershell | Out-String | Invoke-Expression

The same scripts are shipped in the release archives under completions/.`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cmdutil.ExactArgs(1, "completion needs one SHELL: bash, zsh, fish or powershell"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Shell, opts.Root = args[0], cmd.Root()
			if runF != nil {
				return runF(opts)
			}
			return completionRun(cmd.Context(), opts)
		},
	}
}

func completionRun(_ context.Context, opts *Options) error {
	root, out := opts.Root, opts.IO.Out
	switch opts.Shell {
	case "bash":
		return root.GenBashCompletionV2(out, true)
	case "zsh":
		return root.GenZshCompletion(out)
	case "fish":
		return root.GenFishCompletion(out, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(out)
	}
	return cmdutil.FlagErrorf("unsupported shell %q: want bash, zsh, fish or powershell", opts.Shell)
}
