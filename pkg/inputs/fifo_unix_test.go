//go:build unix

package inputs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A file replaced by a FIFO between its check and its upload does not hang
// hf (opening a FIFO blocks until a writer comes): it is a changed file.
func TestResolveFileBecameFIFO(t *testing.T) {
	dir := files(t, map[string]string{"cat.png": "image/png"})
	_, c := fake(t)
	r := &Resolver{Uploader: c}
	f, err := scan(map[string]any{"x": "@cat.png"}, SetFlags, dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cat.png")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.fetch(ctxT(t), f[0])
		done <- err
	}()
	select {
	case err := <-done:
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("err = %v, want a *FileError", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the open so the test can end.
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("the upload hung opening a FIFO")
	}
}
