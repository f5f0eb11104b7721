package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command in hf --help gets a page naming its usage and flags.
func TestRunWritesAPagePerCommand(t *testing.T) {
	out := t.TempDir()
	if err := run(out, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ page, has string }{
		{"hf.1", "hf - Generate images and videos"},
		{"hf-generate.1", `\fB--no-wait\fP`},
		{"hf-wait.1", "hf wait ID"},
		{"hf-download.1", "hf download ID"},
		{"hf-status.1", "hf status ID"},
		{"hf-cancel.1", "hf cancel ID"},
		{"hf-history.1", `\fB--limit\fP`},
		{"hf-doctor.1", `\fB--webhook-url\fP`},
		{"hf-version.1", "hf version"},
		{"hf-completion.1", "hf completion SHELL"},
		{"hf-listen.1", `\fB--forward-to\fP`},
		{"hf-webhook-send.1", "hf webhook send URL"},
		{"hf-webhook-replay.1", "hf webhook replay FILE"},
		{"hf-batch.1", "hf batch FILE"},
	} {
		data, err := os.ReadFile(filepath.Join(out, "man1", c.page))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(data); !strings.Contains(s, c.has) || !strings.Contains(s, `"hf 1.2.3"`) {
			t.Errorf("%s does not contain %q and the version:\n%.400s", c.page, c.has, s)
		}
	}
	pages, _ := filepath.Glob(filepath.Join(out, "man1", "*.1"))
	if len(pages) != 29 {
		t.Errorf("%d pages, want 29 (hf, its commands and their subcommands): %v", len(pages), pages)
	}
}

// The Homebrew cask names each page; a new command needs its line there.
func TestGoreleaserShipsEveryPage(t *testing.T) {
	out := t.TempDir()
	if err := run(out, "dev"); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(out, "man1", "*.1"))
	for _, p := range pages {
		if line := "- man/man1/" + filepath.Base(p) + ".gz"; !strings.Contains(string(cfg), line) {
			t.Errorf(".goreleaser.yaml homebrew_casks.manpages lacks %q", line)
		}
	}
	if n := strings.Count(string(cfg), "- man/man1/"); n != len(pages) {
		t.Errorf(".goreleaser.yaml names %d man pages, the commands make %d", n, len(pages))
	}
}

// hf.1 carries what cobra/doc leaves out: exit codes, the environment and
// the files, from the same sources as hf help exit-codes and hf config.
func TestRunAddsExitStatusEnvironmentFiles(t *testing.T) {
	out := t.TempDir()
	if err := run(out, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "man1", "hf.1"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{".SH EXIT STATUS\n", "  124  timed out waiting", "hf batch exits 0 when every job",
		".SH ENVIRONMENT\n", `\fBHF_KEY\fP, \fBHF_CREDENTIALS\fP`, `\fBHF_WEBHOOK_SECRET\fP`, "(setting generate.timeout; default 30m)", `\fBHF_CONFIG\fP`,
		".SH FILES\n", "config.yaml", "journal.jsonl"} {
		if !strings.Contains(s, want) {
			t.Errorf("hf.1 lacks %q", want)
		}
	}
	// Only hf.1 gets them.
	data, _ = os.ReadFile(filepath.Join(out, "man1", "hf-generate.1"))
	if strings.Contains(string(data), ".SH EXIT STATUS") {
		t.Error("hf-generate.1 has an EXIT STATUS section")
	}
}
