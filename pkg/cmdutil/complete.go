package cmdutil

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

// CompleteModels completes a MODEL argument with the catalog's model ids.
func CompleteModels(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, m := range higgsfield.Catalog() {
		if strings.HasPrefix(m.ID, toComplete) {
			out = append(out, m.ID+"\t"+m.Kind+", "+m.Task)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// CompleteSetKeys completes --set: the parameter names of the model given
// as the first argument (of every catalog model when it is unknown), then
// a parameter's documented values after "key=", and local files after
// "key=@".
func CompleteSetKeys(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	models := higgsfield.Catalog()
	if len(args) > 0 {
		if m, ok := higgsfield.CatalogModel(args[0]); ok {
			models = []higgsfield.Model{m}
		}
	}
	if key, val, ok := strings.Cut(toComplete, "="); ok {
		if path, ok := strings.CutPrefix(val, "@"); ok && !strings.HasPrefix(path, "@") {
			return completeFiles(key+"=@", path)
		}
		var out []string
		for _, m := range models {
			p, found := m.Param(key)
			if !found {
				continue
			}
			for _, v := range p.Values {
				if strings.HasPrefix(v, val) && !slices.Contains(out, key+"="+v) {
					out = append(out, key+"="+v)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, m := range models {
		for _, p := range m.Params {
			c := p.Name + "="
			if strings.HasPrefix(c, toComplete) && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// maxCompleteFiles bounds the files listed for one completion.
const maxCompleteFiles = 500

// completeFiles lists the files and directories that start with partial
// (a path as typed, relative to the working directory), each after prefix
// ("image_url=@"): the shell's own file completion would drop the prefix.
// Directories end in "/" so completion continues inside them; hidden
// entries are offered only once partial names a dot.
func completeFiles(prefix, partial string) ([]string, cobra.ShellCompDirective) {
	dir, base := filepath.Split(partial)
	list := dir
	if list == "" {
		list = "."
	}
	if rest, ok := strings.CutPrefix(list, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			list = filepath.Join(home, rest)
		}
	}
	entries, err := os.ReadDir(list)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		c := prefix + dir + name
		if e.IsDir() || (e.Type()&fs.ModeSymlink != 0 && isDir(filepath.Join(list, name))) {
			c += "/"
		}
		out = append(out, c)
		if len(out) == maxCompleteFiles {
			break
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
