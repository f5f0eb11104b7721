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

	"github.com/spf13/cobra/doc"

	"github.com/hf-cli/hf/pkg/cmd/factory"
	"github.com/hf-cli/hf/pkg/cmd/root"
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
	return doc.GenManTree(cmd, header, dir)
}
