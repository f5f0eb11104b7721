// Package archtest holds the layering rules of the house as tests, read
// from `go list`: packages below the commands never import the command
// layer, the leaf packages import no other hf package, and `hf version`
// does not link the ngrok agent.
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hf-cli/hf/"

// goList runs `go list` with a template printing "path: imports..." for
// pattern and returns the packages' imports (or deps), keyed by path.
func goList(t *testing.T, field string, patterns ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-f", "{{.ImportPath}}:{{range ." + field + "}} {{.}}{{end}}"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	pkgs := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, imports, _ := strings.Cut(sc.Text(), ":")
		pkgs[path] = strings.Fields(imports)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// commandLayer reports whether path is pkg/cmd/..., pkg/cmdutil or pkg/ui.
func commandLayer(path string) bool {
	p := strings.TrimPrefix(path, module)
	return p == "pkg/cmd" || strings.HasPrefix(p, "pkg/cmd/") || p == "pkg/cmdutil" || p == "pkg/ui"
}

// violations lists, for pkgs, the imports of the command layer by packages
// under pkg/ outside pkg/cmd/ (pkg/cmdutil included: it may not use pkg/ui).
func violations(pkgs map[string][]string) []string {
	var bad []string
	for path, imports := range pkgs {
		p := strings.TrimPrefix(path, module)
		if !strings.HasPrefix(p, "pkg/") || p == "pkg/cmd" || strings.HasPrefix(p, "pkg/cmd/") {
			continue
		}
		for _, imp := range imports {
			if commandLayer(imp) && imp != path {
				bad = append(bad, p+" imports "+strings.TrimPrefix(imp, module))
			}
		}
	}
	return bad
}

func TestLowerPackagesDoNotImportTheCommandLayer(t *testing.T) {
	for _, v := range violations(goList(t, "Imports", "./pkg/...")) {
		t.Error(v)
	}
}

// The rule itself must catch what it is for.
func TestViolationsCatchesForbiddenImports(t *testing.T) {
	pkgs := map[string][]string{
		module + "pkg/job":          {module + "pkg/ui"},
		module + "pkg/endpoint":     {module + "pkg/cmdutil"},
		module + "pkg/webhook":      {module + "pkg/cmd/root"},
		module + "pkg/cmdutil":      {module + "pkg/ui"},
		module + "pkg/cmd/generate": {module + "pkg/ui", module + "pkg/cmdutil"},
		module + "pkg/ui":           {module + "pkg/events"},
	}
	if got := len(violations(pkgs)); got != 4 {
		t.Fatalf("violations = %v, want the 4 forbidden imports", violations(pkgs))
	}
}

func TestLeafPackagesImportNoOtherHFPackage(t *testing.T) {
	for path, imports := range goList(t, "Imports", "./pkg/events", "./pkg/iostreams") {
		for _, imp := range imports {
			if strings.HasPrefix(imp, module) {
				t.Errorf("%s is a leaf but imports %s", path, imp)
			}
		}
	}
}

func TestVersionDoesNotLinkNgrok(t *testing.T) {
	for path, deps := range goList(t, "Deps", "./pkg/cmd/version") {
		for _, d := range deps {
			if strings.Contains(d, "ngrok") {
				t.Errorf("%s depends on %s", path, d)
			}
		}
	}
}
