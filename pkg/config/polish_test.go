package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/download"
)

// The boolean error lists every spelling ParseBool takes, and each listed
// spelling is taken: the message and the parser cannot drift apart.
func TestBoolErrorListsEverySpelling(t *testing.T) {
	_, err := ParseBool("maybe")
	if err == nil {
		t.Fatal("maybe accepted")
	}
	for _, p := range BoolSpellings {
		if !strings.Contains(err.Error(), p[0]+"/"+p[1]) {
			t.Errorf("%q lacks %s/%s", err, p[0], p[1])
		}
		for i, v := range []string{p[0], strings.ToUpper(p[1])} {
			if b, err := ParseBool(v); err != nil || b != (i == 0) {
				t.Errorf("ParseBool(%q) = %v, %v", v, b, err)
			}
		}
	}
}

// A bad value's hint fits where it comes from: a variable wins over the
// file, so hf config set cannot fix it; a file's value is set or unset with
// hf config; nothing mentions "the variable" when there is none.
func TestValueErrorHint(t *testing.T) {
	tests := []struct {
		name      string
		file, env string
		has       []string
		hasNot    []string
	}{
		{name: "env", env: "abc", has: []string{"unset HF_TIMEOUT"}, hasNot: []string{"hf config set", "the variable"}},
		{name: "file", file: "generate:\n  timeout: abc\n", has: []string{"hf config set generate.timeout VALUE", "hf config unset generate.timeout"}, hasNot: []string{"variable", "HF_TIMEOUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg := isolate(t)
			if tt.file != "" {
				writeConfig(t, xdg, tt.file, 0o600)
			}
			t.Setenv("HF_TIMEOUT", tt.env)
			_, err := Load()
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v", err)
			}
			h := ve.Hint()
			for _, s := range tt.has {
				if !strings.Contains(h, s) {
					t.Errorf("hint %q lacks %q", h, s)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(h, s) {
					t.Errorf("hint %q has %q", h, s)
				}
			}
		})
	}
	// A refused hf config set has no source: no hint of its own.
	isolate(t)
	c, _ := LoadUnchecked()
	err := c.Set("webhook.via", "maybe")
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Hint() != "" {
		t.Fatalf("set: %v, hint %q", err, ve.Hint())
	}
}

// download.max_bytes and download.stall_timeout show their defaults like
// every other key, and the defaults are the ones the downloader applies.
func TestDownloadDefaults(t *testing.T) {
	isolate(t)
	c := load(t)
	for key, want := range map[string]string{"download.max_bytes": "8GiB", "download.stall_timeout": "30s"} {
		v, err := c.Get(key)
		if err != nil || v.Value != want || v.Source != "default" {
			t.Errorf("Get(%s) = %+v, %v; want %s from default", key, v, err, want)
		}
	}
	n, d, err := download.Limits(c.String("download.max_bytes"), c.String("download.stall_timeout"))
	if err != nil || n != download.DefaultMaxBytes || d != download.DefaultStallTimeout {
		t.Fatalf("Limits of the defaults = %d, %v, %v; the downloader's own are %d, %v", n, d, err, download.DefaultMaxBytes, download.DefaultStallTimeout)
	}
}

// A config file hf cannot read is a usage error (exit 2) naming the file,
// with a hint; an $HF_CONFIG that does not exist is a warning only.
func TestConfigFileErrors(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	t.Setenv("HF_CONFIG", dir) // a directory
	_, err := LoadUnchecked()
	var fe *FileError
	if !errors.As(err, &fe) || fe.ExitCode() != 2 || !strings.Contains(err.Error(), dir) || !strings.Contains(fe.Hint(), "HF_CONFIG") {
		t.Fatalf("directory: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("a: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_CONFIG", bad)
	if _, err := LoadUnchecked(); !errors.As(err, &fe) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad YAML: %v", err)
	}
	t.Setenv("HF_CONFIG", filepath.Join(dir, "missing.yaml"))
	c, err := LoadUnchecked()
	if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "does not exist yet") {
		t.Fatalf("missing: %v %q", err, c.Warnings)
	}
}

// The webhook secret error says what a valid secret looks like, and the
// recipe it gives makes one that passes.
func TestWebhookSecretFormat(t *testing.T) {
	k, _ := LookupKey("webhook.secret")
	err := k.Validate("whsec_…")
	if err == nil || !strings.Contains(err.Error(), "whsec_ + base64") {
		t.Fatalf("err = %v", err)
	}
	if err := k.Validate("whsec_c2VjcmV0LXNpZ25pbmcta2V5MTIzNDU2Nzg5MA=="); err != nil {
		t.Fatal(err)
	}
}
