package listen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/webhook"
)

// MaxSavedBody bounds the body of a saved delivery read back for a replay.
const MaxSavedBody = 8 << 20

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

// Save writes d to dir (created private when missing) as an HTTP request
// message named by its webhook-id, atomically (a temporary file renamed into
// place), readable by the owner only. It returns the file's path.
func Save(dir string, d *webhook.RawDelivery) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName(d.Header.Get("webhook-id")))
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		return "", err
	}
	return path, WriteFileAtomic(path, buf.Bytes(), 0o600)
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
