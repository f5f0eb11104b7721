//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A config file that is a FIFO (or another non-regular file) is refused at
// once: reading a FIFO blocks until a writer comes, and hf would hang before
// doing anything; writing would replace the FIFO or device with a file.
func TestConfigNotRegular(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip(err)
	}
	t.Setenv("HF_CONFIG", path)
	done := make(chan error, 1)
	go func() {
		c, err := LoadUnchecked()
		if err == nil {
			err = c.Set("debug", "true")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(3 * time.Second):
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("loading a FIFO config hung")
	}
	if info, err := os.Lstat(path); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", info, err)
	}
}
