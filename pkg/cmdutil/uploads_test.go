package cmdutil

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/inputs"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// A big file gets a progress bar on a terminal and one line otherwise.
func TestUploadProgress(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // the upload cache
	big := make([]byte, 3<<20)
	_, _ = rand.Read(big)
	png := hftest.Sample("image/png", 1)
	dir := t.TempDir()
	p := filepath.Join(dir, "big.png")
	if err := os.WriteFile(p, append(png, big...), 0o644); err != nil { // sniffs as PNG
		t.Fatal(err)
	}
	srv := hftest.New()
	t.Cleanup(srv.Close)
	for _, tty := range []bool{true, false} {
		ios, _, _, errOut := iostreams.Test()
		ios.SetStderrTTY(tty)
		c, err := higgsfield.New(higgsfield.Options{BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		r := NewResolver(ios, c, false, false)
		r.Cache = nil // upload each time
		if _, _, err := r.Upload(context.Background(), p, ""); err != nil {
			t.Fatal(err)
		}
		out := errOut.String()
		if bar := strings.Contains(out, "uploading big.png"); bar != tty || !strings.Contains(out, "uploaded "+p) {
			t.Fatalf("tty %v: %q", tty, out)
		}
	}
	quiet, _, _, errOut := iostreams.Test()
	c, _ := higgsfield.New(higgsfield.Options{BaseURL: srv.URL})
	if _, _, err := NewResolver(quiet, c, true, false).Upload(context.Background(), p, ""); err != nil || errOut.Len() != 0 {
		t.Fatalf("quiet: %v %q", err, errOut.String())
	}
}

// The bar itself: drawn while a big file goes up on a terminal, gone when it
// is stored (the "uploaded" line follows it), never for a small file, and
// the drawing stops with the upload (nothing writes after the last event).
func TestUploadBar(t *testing.T) {
	ref := inputs.Ref{Path: "dir/big.png", SHA256: "abc", ContentType: "image/png", Size: 3 << 20}
	small := inputs.Ref{Path: "small.png", SHA256: "def", ContentType: "image/png", Size: 1<<20 - 1}
	tests := []struct {
		name   string
		tty    bool
		ref    inputs.Ref
		hasBar bool
	}{
		{"big on a terminal", true, ref, true},
		{"big, not a terminal", false, ref, false},
		{"small on a terminal", true, small, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, errOut := iostreams.Test()
			ios.SetStderrTTY(tt.tty)
			report := progress(ios)
			for _, done := range []int64{0, tt.ref.Size / 2, tt.ref.Size} {
				report(inputs.Event{Ref: tt.ref, Done: done, Total: tt.ref.Size})
			}
			report(inputs.Event{Ref: tt.ref, URL: "https://storage.example.com/x"})
			out := errOut.String()
			if got := strings.Contains(out, "uploading big.png"); got != tt.hasBar {
				t.Fatalf("bar drawn %v, want %v: %q", got, tt.hasBar, out)
			}
			line := "hf: uploaded " + tt.ref.Path + " (image/png, "
			if !strings.Contains(out, line) {
				t.Fatalf("no %q line: %q", line, out)
			}
			if tt.hasBar && (!strings.Contains(out, "/ 3.0 MiB") || strings.Index(out, "uploading") > strings.Index(out, line)) {
				t.Fatalf("the bar shows no byte counts, or comes after the line: %q", out)
			}
			time.Sleep(3 * barRefresh)
			if errOut.String() != out {
				t.Fatalf("written after the upload ended: %q", strings.TrimPrefix(errOut.String(), out))
			}
		})
	}
}
