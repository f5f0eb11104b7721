// Package completion implements `hf completion SHELL`: shell completion scripts.
package completion

import (
	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
)

// NewCmdCompletion builds `hf completion`.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
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
			root, out := cmd.Root(), f.IOStreams.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return cmdutil.FlagErrorf("unsupported shell %q: want bash, zsh, fish or powershell", args[0])
		},
	}
}
