package journal

// The audit trail: verified webhook deliveries kept beside the journal, as
// the API's docs advise ("store webhook payloads for audit and debugging"),
// one private file per delivery under deliveries/<request id>/.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Kept is one delivery kept for a request.
type Kept struct {
	Path    string
	ModTime time.Time
	Data    []byte
}

// deliveriesDir is where the deliveries of request id are kept.
func (j *Journal) deliveriesDir(id string) string {
	return filepath.Join(filepath.Dir(j.path), "deliveries", SafeName(id))
}

// KeepDelivery writes data (a delivery as an HTTP request message) for
// request id under the name of its webhook-id, atomically and readable by
// the owner only. A redelivery (same webhook-id) replaces the earlier file.
// It returns the file's path.
func (j *Journal) KeepDelivery(id, webhookID string, data []byte) (string, error) {
	if id == "" {
		return "", errors.New("journal: keeping a delivery without a request id")
	}
	dir := j.deliveriesDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("journal: keeping a delivery: %w", err)
	}
	name := "delivery"
	if webhookID != "" {
		name = SafeName(webhookID)
	}
	path := filepath.Join(dir, name+".http")
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("journal: keeping a delivery: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("journal: keeping a delivery: %w", err)
	}
	return path, nil
}

// Deliveries returns the deliveries kept for request id, oldest first.
func (j *Journal) Deliveries(id string) ([]Kept, error) {
	dir := j.deliveriesDir(id)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []Kept
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".http") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		out = append(out, Kept{Path: path, ModTime: fi.ModTime(), Data: data})
	}
	slices.SortStableFunc(out, func(a, b Kept) int { return a.ModTime.Compare(b.ModTime) })
	return out, nil
}

// SafeName makes s (an id from the network) a file name: letters, digits,
// '.', '_' and '-' are kept, anything else becomes '_' and adds a hash
// suffix so that two names never collide; no leading dot or dash (no hidden
// file, nothing a shell command takes for an option), at most 116 bytes.
func SafeName(s string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
	safe = strings.TrimLeft(safe, ".-")
	if len(safe) > 100 {
		safe = safe[:100]
	}
	if safe != s || safe == "" {
		if safe == "" {
			safe = "id"
		}
		sum := sha256.Sum256([]byte(s))
		safe += "-" + hex.EncodeToString(sum[:6])
	}
	return safe
}
