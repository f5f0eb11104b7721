package soak

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hf-cli/hf/pkg/journal"
)

// moduleRoot walks up from the test's directory to the one holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// ports hands out loopback addresses for --listen that no other run of this
// test holds at the same time.
type ports struct {
	mu    sync.Mutex
	inUse map[string]bool
}

func (p *ports) take(t *testing.T) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inUse == nil {
		p.inUse = map[string]bool{}
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !p.inUse[addr] {
			p.inUse[addr] = true
			return addr
		}
	}
	t.Fatal("no free loopback port")
	return ""
}

func (p *ports) release(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inUse, addr)
}

func sha256File(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// decodeOne decodes data as exactly one JSON object (surrounding white
// space allowed) into v.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return json.Unmarshal(raw, v)
}

// filesUnder lists the regular files under dir (relative paths, sorted); a
// missing dir has none.
func filesUnder(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// partFiles lists every ".part" file under root.
func partFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(d.Name(), ".part") {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// rawRecords reads a journal file line by line; every line must be one whole
// JSON record with an event and a request id, except the records of a submit
// before its answer (submitting, submit_failed), which carry its
// Idempotency-Key instead. Those are checked, not returned: each
// "submitted" record with a key must follow a "submitting" one with that key
// (hf journals a submit before sending it).
func rawRecords(path string) ([]journal.Record, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var recs []journal.Record
	var bad []string
	if len(data) > 0 && data[len(data)-1] != '\n' {
		bad = append(bad, "file does not end with a newline (torn last record)")
	}
	sending := map[string]bool{} // keys of journaled submits
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var rec journal.Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil || dec.More() {
			bad = append(bad, fmt.Sprintf("line %d does not parse (%v): %.200q", n, err, line))
			continue
		}
		if rec.RequestID == "" && rec.IdempotencyKey != "" && (rec.Event == journal.EventSubmitting || rec.Event == journal.EventSubmitFailed) && !rec.Time.IsZero() {
			if rec.Event == journal.EventSubmitting {
				sending[rec.IdempotencyKey] = true
			}
			continue
		}
		if rec.Event == journal.EventSubmitted && rec.IdempotencyKey != "" && !sending[rec.IdempotencyKey] {
			bad = append(bad, fmt.Sprintf("line %d: a submitted record whose submit was not journaled before it went out: %.200q", n, line))
		}
		if rec.RequestID == "" || rec.Event == "" || rec.Time.IsZero() {
			bad = append(bad, fmt.Sprintf("line %d lacks request_id, event or time: %.200q", n, line))
			continue
		}
		recs = append(recs, rec)
	}
	return recs, bad, sc.Err()
}

// tally counts things by name and prints them sorted.
type tally map[string]int

func (t tally) String() string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, t[k]))
	}
	return strings.Join(parts, " ")
}

func (t tally) sum() int {
	n := 0
	for _, v := range t {
		n += v
	}
	return n
}
