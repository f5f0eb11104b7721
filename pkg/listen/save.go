package listen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"

	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/webhook"
)

// MaxSavedBody bounds the body of a saved delivery read back for a replay.
const MaxSavedBody = 8 << 20

// DefaultSaveLimit bounds what one hf listen --save writes: past it, hf
// warns once and saves no more (deliveries are still forwarded), so that a
// flood of deliveries cannot fill the disk.
const DefaultSaveLimit = 1 << 30

// RejectedDir is the subdirectory of --save DIR that receives the deliveries
// the relay refused (bad signature or timestamp, not JSON): kept for
// debugging (replay them once the secret is right), and never in place of an
// accepted delivery that carries the same webhook-id.
const RejectedDir = "rejected"

// FileName is the name a delivery is saved under: its webhook-id made safe
// for a file name (journal.SafeName), plus ".http". A redelivery (same
// webhook-id) replaces the earlier file; a delivery without an id gets a
// random name.
func FileName(webhookID string) string {
	if webhookID == "" {
		return "delivery-" + uuid.NewString() + ".http"
	}
	return journal.SafeName(webhookID) + ".http"
}

// PrepareSaveDir creates dir (private) when missing and checks that files
// can be written in it, so that a bad --save fails before any delivery.
func PrepareSaveDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".hf-save-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", dir, pe.Err)
		}
		return fmt.Errorf("cannot write in %w", err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// saveEncoded writes data, a delivery as an HTTP request message, to dir
// (created private when missing) under the name of its webhook-id,
// atomically (a temporary file renamed into place) and readable by the owner
// only; a rejected delivery goes to dir/rejected instead. It returns the
// file's path.
func saveEncoded(dir, webhookID string, data []byte, rejected bool) (string, error) {
	if rejected {
		dir = filepath.Join(dir, RejectedDir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName(webhookID))
	if err := WriteFileAtomic(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// saver is --save with its bound: it counts the bytes written by this run.
type saver struct {
	dir   string
	limit int64
	mu    sync.Mutex
	used  int64
	full  bool
}

// save writes d unless the bound is reached; warn hears, once, that it was.
// It returns the file written ("" when none).
func (s *saver) save(d *webhook.RawDelivery, rejected bool, warn func(string)) (string, error) {
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		return "", err
	}
	n := int64(buf.Len())
	s.mu.Lock()
	if s.full || s.used+n > s.limit {
		first := !s.full
		s.full = true
		used := s.used
		s.mu.Unlock()
		if first {
			warn(fmt.Sprintf("--save: %d bytes saved by this run, the bound is %d; saving no more deliveries (they are still forwarded and shown)", used, s.limit))
		}
		return "", nil
	}
	s.used += n // reserved now, so that concurrent deliveries cannot pass the bound together
	s.mu.Unlock()
	path, err := saveEncoded(s.dir, d.Header.Get("webhook-id"), buf.Bytes(), rejected)
	if err != nil {
		s.mu.Lock()
		s.used -= n
		s.mu.Unlock()
	}
	return path, err
}

// CheckWritable reports whether WriteFileAtomic(path) can create its
// temporary file, with the error WriteFileAtomic would return; it leaves
// nothing behind. It lets a command fail on a bad output path before it
// spends anything (an ngrok session) on the way there.
func CheckWritable(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it to path, so that a reader sees the old file or the whole new
// one, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temporary name means nothing to the user
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Load reads a delivery saved by Save (or by the audit trail).
// It refuses, before reading, what cannot be one: a directory, a device or
// a pipe (which would block), or a file larger than a delivery can be.
func Load(path string) (*webhook.RawDelivery, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s: not a saved delivery (not a regular file)", path)
	case fi.Size() > webhook.MaxRawHead+MaxSavedBody:
		return nil, fmt.Errorf("%s: not a saved delivery: %d bytes, over the %d-byte limit", path, fi.Size(), webhook.MaxRawHead+MaxSavedBody)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := webhook.DecodeRaw(f, MaxSavedBody)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}
