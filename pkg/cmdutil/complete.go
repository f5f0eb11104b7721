package cmdutil

import (
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
// a parameter's documented values after "key=".
func CompleteSetKeys(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	models := higgsfield.Catalog()
	if len(args) > 0 {
		if m, ok := higgsfield.CatalogModel(args[0]); ok {
			models = []higgsfield.Model{m}
		}
	}
	if key, val, ok := strings.Cut(toComplete, "="); ok {
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
