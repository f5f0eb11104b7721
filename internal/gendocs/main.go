// Command gendocs writes hf's man pages, one per command, from the cobra
// command tree, for the release archives and packages:
//
//	go run ./internal/gendocs -out dist/man -version 1.2.3
//
// writes <out>/man1/hf.1, hf-generate.1, ... It is a program of its own so
// that the hf binary does not link cobra/doc and go-md2man. The shell
// completions shipped beside the pages are completions/ (kept in sync with
// the commands by pkg/cmd/root's tests).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/hf-cli/hf/pkg/cmd/factory"
	"github.com/hf-cli/hf/pkg/cmd/root"
	"github.com/hf-cli/hf/pkg/config"
)

func main() {
	out := flag.String("out", "dist/man", "directory to write man1/ into")
	version := flag.String("version", "dev", "version named in the pages")
	flag.Parse()
	if err := run(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(out, version string) error {
	cmd := root.NewCmdRoot(factory.New(version))
	cmd.DisableAutoGenTag = true // no date: the same tree gives the same pages
	dir := filepath.Join(out, "man1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{Title: "HF", Section: "1", Source: "hf " + version, Manual: "hf manual"}
	if err := doc.GenManTree(cmd, header, dir); err != nil {
		return err
	}
	return appendSections(filepath.Join(dir, "hf.1"), cmd)
}

// appendSections adds to hf.1 what cobra/doc leaves out: EXIT STATUS (the
// text of hf help exit-codes), ENVIRONMENT (every variable a setting comes
// from, from the config schema) and FILES.
func appendSections(page string, cmd *cobra.Command) error {
	var b strings.Builder
	for _, c := range cmd.Commands() {
		if c.Name() == "exit-codes" {
			b.WriteString(".SH EXIT STATUS\n.nf\n" + roff(c.Long) + "\n.fi\n")
		}
	}
	b.WriteString(".SH ENVIRONMENT\n")
	b.WriteString(".TP\n\\fBHF_CONFIG\\fP\nthe config file to read instead of $XDG_CONFIG_HOME/hf/config.yaml\n")
	for _, k := range config.Keys {
		if len(k.Env) == 0 {
			continue
		}
		names := make([]string, len(k.Env))
		for i, e := range k.Env {
			names[i] = "\\fB" + e + "\\fP"
		}
		def := ""
		if k.Default != "" {
			def = "; default " + k.Default
		}
		fmt.Fprintf(&b, ".TP\n%s\n%s (setting %s%s)\n", strings.Join(names, ", "), roff(k.Help), k.Name, roff(def))
	}
	b.WriteString(`.SH FILES
.TP
$XDG_CONFIG_HOME/hf/config.yaml (else ~/.config/hf/config.yaml)
settings (hf config list shows each with its source)
.TP
$XDG_STATE_HOME/hf/journal.jsonl (else ~/.local/state/hf)
every request this machine submitted (hf history); sandbox runs in sandbox/ beside it
.TP
$XDG_STATE_HOME/hf/uploads.json
uploaded files' URLs, reused for 50 minutes
`)
	f, err := os.OpenFile(page, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// roff escapes text for a man page: backslashes, and a line starting with
// a control character.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
