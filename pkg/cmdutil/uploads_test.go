package cmdutil

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
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
