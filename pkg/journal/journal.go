// Package journal owns the append-only local record of every request hf
// makes, so that nothing paid for is ever lost: one JSON line per event
// (submitted, status, downloaded, download_failed) in a private file that
// several hf processes may append to at once, folded back into one entry per
// request for `hf history`, `hf wait ID` and `hf download ID`. A submit is
// recorded before it is sent ("submitting", by its Idempotency-Key), so a
// crash or kill while it is in flight still leaves the key that finds the
// request without paying twice.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/hf-cli/hf/pkg/download"
)

// Events a record can carry.
const (
	// EventSubmitting is written before a submit is sent: no request id
	// yet, only the Idempotency-Key (and the model, the parameters' digest).
	// The "submitted" record with the same key replaces it; "submit_failed"
	// drops it (the API certainly created nothing).
	EventSubmitting     = "submitting"
	EventSubmitFailed   = "submit_failed"
	EventSubmitted      = "submitted"
	EventStatus         = "status"
	EventDownloaded     = "downloaded"
	EventDownloadFailed = "download_failed"
)

// File is one downloaded output of a request, as pkg/download saved it.
type File = download.File

// Record is one line of the journal: something that happened to a request.
type Record struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Model     string    `json:"model,omitempty"`
	Status    string    `json:"status,omitempty"`
	StatusURL string    `json:"status_url,omitempty"`
	CancelURL string    `json:"cancel_url,omitempty"`
	Error     string    `json:"error,omitempty"`
	// Dir (absolute) and Template are the output settings chosen at submit.
	Dir        string `json:"dir,omitempty"`
	Template   string `json:"template,omitempty"`
	Files      []File `json:"files,omitempty"`
	NotifiedBy string `json:"notified_by,omitempty"`
	// Prompt is the request's "prompt" field (submitted records only).
	Prompt string `json:"prompt,omitempty"`
	// IdempotencyKey is the submit's key (submitting, submitted and
	// submit_failed records); ParamsSHA256 the sha256 of the JSON body sent.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	ParamsSHA256   string `json:"params_sha256,omitempty"`
}

// StatusSubmitting is the status of an entry whose submit got no answer
// (yet): it has no request id, only its IdempotencyKey.
const StatusSubmitting = "submitting"

// Entry is everything known about one request, folded from its records.
// It is what `hf history --json` prints.
type Entry struct {
	RequestID  string `json:"request_id"`
	Model      string `json:"model,omitempty"`
	Status     string `json:"status,omitempty"`
	StatusURL  string `json:"status_url,omitempty"`
	CancelURL  string `json:"cancel_url,omitempty"`
	Error      string `json:"error,omitempty"`
	Dir        string `json:"dir,omitempty"`
	Template   string `json:"template,omitempty"`
	NotifiedBy string `json:"notified_by,omitempty"`
	Prompt     string `json:"prompt,omitempty"`
	// IdempotencyKey picks the request up again (hf generate …
	// --idempotency-key KEY); an entry without a RequestID is a submit that
	// got no answer, which the API may or may not have created.
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	ParamsSHA256   string    `json:"params_sha256,omitempty"`
	Files          []File    `json:"files,omitempty"`
	SubmittedAt    time.Time `json:"submitted_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Journal is the record file in one directory.
type Journal struct {
	path, lock string
	// readOnly is why the journal cannot be written (nil: it can).
	readOnly error
}

// mu orders this process's own appends and reads. The file lock does that
// across processes, but on systems with fcntl locks (AIX, Solaris) it does
// not exclude two goroutines of one process.
var mu sync.RWMutex

// DefaultDir is $XDG_STATE_HOME/hf, else ~/.local/state/hf; on Windows it
// is hf\state under the user's config directory.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "hf"), nil
	}
	if runtime.GOOS == "windows" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("finding the journal directory: %w", err)
		}
		return filepath.Join(d, "hf", "state"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the journal directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "hf"), nil
}

// Open makes sure dir exists and is private (0700), and that the journal
// file dir/journal.jsonl exists and is private (0600). A directory hf may
// not write to (read-only, another user's) still opens when its journal
// can be read: Entries works, Append fails.
func Open(dir string) (*Journal, error) { return openWith(dir, openWritable) }

// openWith is Open with the writable open passed in (tests fail it: root
// writes through file modes).
func openWith(dir string, writable func(string) (*Journal, error)) (*Journal, error) {
	j, err := writable(dir)
	if err == nil {
		return j, nil
	}
	if f, rerr := os.Open(filepath.Join(dir, "journal.jsonl")); rerr == nil {
		f.Close()
		return &Journal{path: filepath.Join(dir, "journal.jsonl"), lock: filepath.Join(dir, "journal.lock"), readOnly: err}, nil
	}
	return nil, err
}

func openWritable(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	if err := restrict(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	j := &Journal{path: filepath.Join(dir, "journal.jsonl"), lock: filepath.Join(dir, "journal.lock")}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	f.Close()
	if err := restrict(j.path, 0o600); err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	return j, nil
}

// Writable is nil when Append can work, else why it cannot (Open fell
// back to reading a journal in a directory hf may not write).
func (j *Journal) Writable() error { return j.readOnly }

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// Append writes r as one line, under an exclusive lock, and syncs it to
// disk. Time is set to now if zero. It is safe to call from several
// goroutines and processes at once.
func (j *Journal) Append(r Record) error {
	if j.readOnly != nil {
		return j.readOnly
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: encoding record: %w", err)
	}
	line = append(line, '\n')

	mu.Lock()
	defer mu.Unlock()
	lock := flock.New(j.lock)
	if err := lock.Lock(); err != nil {
		return fmt.Errorf("journal: locking: %w", err)
	}
	defer lock.Unlock()
	return writeLine(j.path, line)
}

// writeLine appends line to the file at path and syncs it. The file is
// opened read-write so that a line torn by a crash can be seen and ended
// first; O_APPEND still puts every write at the end.
func writeLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	torn, err := endsTorn(f)
	if torn {
		line = append([]byte{'\n'}, line...)
	}
	if err == nil {
		_, err = f.Write(line)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: writing %s: %w", path, err)
	}
	return nil
}

// endsTorn reports whether f is non-empty and does not end with a newline.
func endsTorn(f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], fi.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

// Entries folds the records into one entry per request, newest submission
// first. Lines that do not parse (a write torn by a crash) are skipped.
func (j *Journal) Entries() ([]Entry, error) {
	mu.RLock()
	defer mu.RUnlock()
	if j.readOnly == nil { // nobody can append to a journal hf may not write
		lock := flock.New(j.lock)
		if err := lock.RLock(); err != nil {
			return nil, fmt.Errorf("journal: locking: %w", err)
		}
		defer lock.Unlock()
	}
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()

	var order []*Entry
	byID := map[string]*Entry{}
	byKey := map[string]*Entry{} // submits by Idempotency-Key
	dropped := map[*Entry]bool{}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := readLine(r)
		var rec Record
		if len(bytes.TrimSpace(line)) > 0 && json.Unmarshal(line, &rec) == nil {
			if e := fold(rec, byID, byKey, &order); e != nil {
				if rec.Event == EventSubmitFailed {
					dropped[e] = true
				} else {
					e.apply(rec)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("journal: reading: %w", err)
		}
	}
	out := make([]Entry, 0, len(order))
	for i := len(order) - 1; i >= 0; i-- {
		if !dropped[order[i]] {
			out = append(out, *order[i])
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return b.SubmittedAt.Compare(a.SubmittedAt) })
	return out, nil
}

// MaxLine is the longest journal line Entries reads; longer ones (garbage,
// or a record no hf wrote) are skipped without being held in memory.
const MaxLine = 1 << 20

// readLine returns the next line of r (with its newline), or nil for a line
// longer than MaxLine, which it reads past in chunks.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLine {
			return skipLine(r, err)
		}
		line = append(line, chunk...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// skipLine discards the rest of the current line.
func skipLine(r *bufio.Reader, err error) ([]byte, error) {
	for err == bufio.ErrBufferFull {
		_, err = r.ReadSlice('\n')
	}
	return nil, err
}

// ErrNoMatch: no journaled request id starts with the prefix Resolve was given.
var ErrNoMatch = errors.New("no request in the journal starts with it")

// AmbiguousError: several journaled request ids start with Prefix.
type AmbiguousError struct {
	Prefix string
	IDs    []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%d requests in the journal start with %q", len(e.IDs), e.Prefix)
}

// Resolve returns the one journaled request id that starts with prefix
// (compared without case), ErrNoMatch, or an *AmbiguousError.
func (j *Journal) Resolve(prefix string) (string, error) {
	entries, err := j.Entries()
	if err != nil {
		return "", err
	}
	prefix = strings.ToLower(prefix)
	var ids []string
	for _, e := range entries {
		if e.RequestID != "" && strings.HasPrefix(strings.ToLower(e.RequestID), prefix) {
			ids = append(ids, e.RequestID)
		}
	}
	switch len(ids) {
	case 0:
		return "", ErrNoMatch
	case 1:
		return ids[0], nil
	}
	return "", &AmbiguousError{Prefix: prefix, IDs: ids}
}

// fold finds the entry rec belongs to, creating it when rec starts one,
// or returns nil for a record that changes nothing. A record with a
// request id belongs to that request's entry; one with only a key
// (submitting, submit_failed) to the submit with that key. A "submitted"
// record turns the pending submit with its key into the request's entry.
func fold(rec Record, byID, byKey map[string]*Entry, order *[]*Entry) *Entry {
	key := rec.IdempotencyKey
	if rec.RequestID == "" {
		if key == "" {
			return nil
		}
		e := byKey[key]
		switch {
		case e != nil && e.RequestID != "":
			return nil // a replay of a key whose request is known: that entry stands
		case e == nil && rec.Event == EventSubmitting:
			e = &Entry{}
			byKey[key] = e
			*order = append(*order, e)
		}
		return e
	}
	e := byID[rec.RequestID]
	if e == nil && key != "" {
		if p := byKey[key]; p != nil && p.RequestID == "" {
			e = p // the pending submit was answered
			e.RequestID = rec.RequestID
			byID[rec.RequestID] = e
		}
	}
	if e == nil {
		e = &Entry{RequestID: rec.RequestID}
		byID[rec.RequestID] = e
		*order = append(*order, e)
	}
	if key != "" {
		byKey[key] = e
	}
	return e
}

// Lookup returns the entry of request id, and whether there is one.
func (j *Journal) Lookup(id string) (Entry, bool, error) {
	entries, err := j.Entries()
	if err != nil {
		return Entry{}, false, err
	}
	for _, e := range entries {
		if e.RequestID == id {
			return e, true, nil
		}
	}
	return Entry{}, false, nil
}

// apply folds one record into e: non-empty fields replace older ones, files
// are merged by path (or URL), and a successful download clears an earlier
// download error. SubmittedAt is the time of the "submitted" record, or of
// the first record when there is none.
func (e *Entry) apply(r Record) {
	if e.SubmittedAt.IsZero() || r.Event == EventSubmitted {
		e.SubmittedAt = r.Time
	}
	switch {
	case r.Event == EventSubmitting:
		r.Status = StatusSubmitting
	case r.Event == EventSubmitted && e.Status == StatusSubmitting:
		e.Status = "" // answered: whatever the answer says
	}
	if r.Time.After(e.UpdatedAt) {
		e.UpdatedAt = r.Time
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&e.Model, r.Model)
	set(&e.Status, r.Status)
	set(&e.StatusURL, r.StatusURL)
	set(&e.CancelURL, r.CancelURL)
	set(&e.Dir, r.Dir)
	set(&e.Template, r.Template)
	set(&e.NotifiedBy, r.NotifiedBy)
	set(&e.Prompt, r.Prompt)
	set(&e.IdempotencyKey, r.IdempotencyKey)
	set(&e.ParamsSHA256, r.ParamsSHA256)
	if r.Event == EventDownloaded {
		e.Error = r.Error
	}
	set(&e.Error, r.Error)
	for _, f := range r.Files {
		key := func(f File) string {
			if f.Path != "" {
				return "p:" + f.Path
			}
			return "u:" + f.URL
		}
		if i := slices.IndexFunc(e.Files, func(g File) bool { return key(g) == key(f) }); i >= 0 {
			e.Files[i] = f
		} else {
			e.Files = append(e.Files, f)
		}
	}
}
