// Package configcmd implements `hf config get|set|unset|list`: read and
// write hf's settings, validated against the key schema of pkg/config.
package configcmd

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// Options are the parsed flags of `hf config`.
type Options struct {
	IO *iostreams.IOStreams
	// Load reads the settings without rejecting bad values, so that a bad
	// file can be repaired.
	Load func() (*config.Config, error)

	Verb, Key, Value string
	JSON             bool
}

// NewCmdConfig builds `hf config` and its subcommands. runF replaces the run
// step in tests.
func NewCmdConfig(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Read and write hf's settings",
		Long: `Read and write the settings of hf's config file ($HF_CONFIG, else
$XDG_CONFIG_HOME/hf/config.yaml). Every key is checked (hf config set
webhook.via maybe is exit 2); the file is written atomically, private (0600
in a 0700 directory), keeping its comments. Credentials are stored by
hf auth login, not here, so that a secret never lands in shell history.`,
		Example: `  hf config list
  hf config set webhook.via poll
  hf config get generate.timeout
  hf config unset webhook.via`,
	}
	sub := func(use, short string, n int, verb string) *cobra.Command {
		opts := &Options{IO: f.IOStreams, Load: config.LoadUnchecked, Verb: verb}
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cmdutil.ExactArgs(n, fmt.Sprintf("config %s needs %s", verb, map[int]string{0: "no arguments", 1: "exactly one KEY", 2: "a KEY and a VALUE"}[n])),
			RunE: func(cmd *cobra.Command, args []string) error {
				if n > 0 {
					opts.Key = args[0]
				}
				if n > 1 {
					opts.Value = args[1]
				}
				if runF != nil {
					return runF(opts)
				}
				return configRun(opts)
			},
			ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				if n == 0 || len(args) > 0 {
					if len(args) == 1 && n == 2 {
						if k, ok := config.LookupKey(args[0]); ok && len(k.Values) > 0 {
							return k.Values, cobra.ShellCompDirectiveNoFileComp
						}
					}
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				var keys []string
				for _, k := range config.Keys {
					if verb != "set" || !k.Login {
						keys = append(keys, k.Name+"\t"+k.Help)
					}
				}
				return keys, cobra.ShellCompDirectiveNoFileComp
			},
		}
		if verb == "list" || verb == "get" {
			c.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
		}
		return c
	}
	cmd.AddCommand(
		sub("get KEY", "Print a setting's value (secrets masked) and where it comes from", 1, "get"),
		sub("set KEY VALUE", "Check a value and write it to the config file", 2, "set"),
		sub("unset KEY", "Remove a setting from the config file", 1, "unset"),
		sub("list", "Print every setting, its value (secrets masked) and source", 0, "list"),
	)
	return cmd
}

// Setting is one line of `hf config list --json`.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source,omitempty"`
	Env    string `json:"env,omitempty"`
	Secret bool   `json:"secret,omitempty"`
}

func setting(v config.Value) Setting {
	s := Setting{Key: v.Key.Name, Value: v.Shown(), Source: v.Source, Secret: v.Key.Secret}
	if len(v.Key.Env) > 0 {
		s.Env = v.Key.Env[0]
	}
	return s
}

func configRun(opts *Options) error {
	cfg, err := opts.Load()
	if err != nil {
		return err
	}
	if opts.Verb == "get" || opts.Verb == "list" {
		// What every other command warns about (a file others can read, an
		// unknown key, an $HF_CONFIG that does not exist), the command that
		// inspects the settings says too. set and unset rewrite the file
		// private, so its mode is no longer worth a word there.
		for _, w := range cfg.Warnings {
			fmt.Fprintln(opts.IO.ErrOut, "hf: warning: "+w)
		}
		// A bad value, which other commands refuse, is shown (so it can be
		// repaired) with a word about it.
		if err := cfg.Check(); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "hf: warning: %v\n", err)
		}
	}
	switch opts.Verb {
	case "get":
		v, err := cfg.Get(opts.Key)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, setting(v))
		}
		fmt.Fprintln(opts.IO.Out, v.Shown())
		if v.Source != "" {
			fmt.Fprintf(opts.IO.ErrOut, "hf: %s comes from %s\n", opts.Key, v.Source)
		}
	case "set":
		if err := cfg.Set(opts.Key, opts.Value); err != nil {
			return setError(opts.Key, err)
		}
		fmt.Fprintf(opts.IO.ErrOut, "hf: %s set in %s\n", opts.Key, cfg.Path())
		if v, err := cfg.Get(opts.Key); err == nil && v.Source != cfg.Path() {
			fmt.Fprintf(opts.IO.ErrOut, "hf: warning: %s overrides it\n", v.Source)
		}
	case "unset":
		was := cfg.InFile(opts.Key)
		if err := cfg.Unset(opts.Key); err != nil {
			return err
		}
		if !was {
			fmt.Fprintf(opts.IO.ErrOut, "hf: %s is not set in %s, nothing to remove\n", opts.Key, cfg.Path())
			break
		}
		fmt.Fprintf(opts.IO.ErrOut, "hf: %s removed from %s\n", opts.Key, cfg.Path())
	case "list":
		vals, err := cfg.List()
		if err != nil {
			return err
		}
		if opts.JSON {
			out := make([]Setting, len(vals))
			for i, v := range vals {
				out[i] = setting(v)
			}
			return cmdutil.WriteJSON(opts.IO.Out, out)
		}
		w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
		for _, v := range vals {
			src := v.Source
			if src == "" {
				src = "unset"
			}
			fmt.Fprintf(w, "%s\t%s\t(%s)\n", v.Key.Name, v.Shown(), src)
		}
		return w.Flush()
	}
	if err := cfg.Check(); err != nil && opts.Verb != "list" && opts.Verb != "get" {
		fmt.Fprintf(opts.IO.ErrOut, "hf: warning: %v\n", err)
	}
	return nil
}

// setError gives a refused hf config set a hint that fits it: the generic
// one for bad settings ("fix it with: hf config set KEY VALUE") would send
// the user back to the command that just refused, and for credentials to
// the very thing refused.
func setError(name string, err error) error {
	var ve *config.ValueError
	if !errors.As(err, &ve) || ve.Source != "" {
		return err
	}
	hint := "" // see: hf config set --help
	if k, ok := config.LookupKey(name); ok && k.Login {
		hint = `store a key with: hf auth login (or echo "$KEY_ID:$KEY_SECRET" | hf auth login --with-key)`
	}
	return &cmdutil.FlagError{Err: errors.New(ve.Error()), Hint: hint}
}
