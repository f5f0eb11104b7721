package batch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

// LockVersion is the lock file format written.
const LockVersion = 1

// LockPath is the lock file of a manifest: X.yaml → X.lock.json beside it.
func LockPath(manifest string) string {
	ext := filepath.Ext(manifest)
	return strings.TrimSuffix(manifest, ext) + ".lock.json"
}

// LockedJob is what the lock file records of one job.
type LockedJob struct {
	Name     string `json:"name"`
	Identity string `json:"identity"`
	// Nonce is the --force that made this identity differ from a plain one.
	Nonce string `json:"nonce,omitempty"`
	// Attempt numbers the Idempotency-Key of the current request; it grows
	// when a request ends failed, nsfw or canceled.
	Attempt   int          `json:"attempt"`
	Model     string       `json:"model"`
	RequestID string       `json:"request_id,omitempty"`
	Status    string       `json:"status,omitempty"`
	Error     string       `json:"error,omitempty"`
	Files     []LockedFile `json:"files,omitempty"`
}

// LockedFile is one saved output. Path is relative to the manifest's
// directory, with forward slashes, so the lock means the same anywhere.
type LockedFile struct {
	Path        string `json:"path"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	URL         string `json:"url,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	ExpiresAt   string `json:"expires_at,omitempty"`
	// Stat is what the file looked like on this machine when it was last
	// hashed. It is not in the lock file (it differs on every checkout)
	// but in the stat cache (see UseStatCache).
	Stat *FileStat `json:"-"`
}

// FileStat is what a file looked like when it was last hashed, as git's
// index keeps it: a file whose stat still matches is not hashed again.
type FileStat struct {
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	Inode   uint64 `json:"inode,omitempty"`
}

type lockFile struct {
	Version int         `json:"version"`
	Jobs    []LockedJob `json:"jobs"`
}

// Lock is the lock file's state, kept in memory per job and written
// atomically, at most every interval while jobs change and once at the end.
type Lock struct {
	path     string // "" when there is no lock file (--no-lock, stdin)
	interval time.Duration

	mu       sync.Mutex
	cond     *sync.Cond
	jobs     map[string]LockedJob
	version  uint64 // bumped by every Put
	written  uint64 // the version on disk
	writing  bool
	lastSave time.Time
	err      error
	writes   int
	disk     []byte // the file's bytes as last read or written

	statPath string // the stat cache ("" for none)
	statDisk []byte
}

// OpenLock reads the lock file at path (absent: empty). path "" gives a
// lock that is never written.
func OpenLock(path string) (*Lock, error) {
	l := &Lock{path: path, interval: 200 * time.Millisecond, jobs: map[string]LockedJob{}}
	l.cond = sync.NewCond(&l.mu)
	if path == "" {
		return l, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	var lf lockFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&lf); err != nil {
		return nil, fmt.Errorf("%s: not a lock file (%v); move it away to start afresh", path, err)
	}
	l.disk = data
	if lf.Version != LockVersion {
		return nil, fmt.Errorf("%s: lock file version %d, this hf knows %d", path, lf.Version, LockVersion)
	}
	for _, j := range lf.Jobs {
		if err := checkLocked(j); err != nil {
			return nil, fmt.Errorf("%s: %v; fix or remove that job's entry (a lock file is written by hf batch)", path, err)
		}
		l.jobs[j.Name] = j
	}
	return l, nil
}

// statCache is the stat cache file: per lock file path, the stat each
// recorded file had when it was hashed, on this machine.
type statCache struct {
	Version int                  `json:"version"`
	Files   map[string]statEntry `json:"files"`
}

type statEntry struct {
	SHA256 string `json:"sha256"`
	FileStat
}

// UseStatCache keeps the files' stat data in the file at path (in the
// state directory, not beside the lock: mtimes and inodes differ on every
// machine and checkout, so a committed lock holding them would change on
// every fresh clone). Its entries count only for files recorded with the
// same path, size and sha256; a missing or unreadable cache means hashing.
func (l *Lock) UseStatCache(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statPath = path
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	l.statDisk = data
	var sc statCache
	if json.Unmarshal(data, &sc) != nil || sc.Version != 1 {
		return
	}
	for name, j := range l.jobs {
		for k, f := range j.Files {
			if e, ok := sc.Files[f.Path]; ok && e.SHA256 == f.SHA256 && e.Size == f.Bytes {
				st := e.FileStat
				j.Files[k].Stat = &st
			}
		}
		l.jobs[name] = j
	}
}

// saveStats writes the stat cache when it changed. The caller holds l.mu.
func (l *Lock) saveStatsLocked() error {
	if l.statPath == "" {
		return nil
	}
	sc := statCache{Version: 1, Files: map[string]statEntry{}}
	for _, j := range l.jobs {
		for _, f := range j.Files {
			if f.Stat != nil {
				sc.Files[f.Path] = statEntry{SHA256: f.SHA256, FileStat: *f.Stat}
			}
		}
	}
	data, err := json.Marshal(sc) // map keys sorted
	if err != nil || bytes.Equal(data, l.statDisk) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.statPath), 0o700); err != nil {
		return err
	}
	if err := writeAtomic(l.statPath, data); err != nil {
		return err
	}
	l.statDisk = data
	return nil
}

var sha256Re = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })

// checkLocked refuses an entry hf would not have written: its request id
// goes into API paths and GitHub Actions outputs, its sha256 decides what
// is up to date. (Where its files may be is for the plan to judge: it
// knows the output directory.)
func checkLocked(j LockedJob) error {
	if j.Name == "" {
		return errors.New("a job without a name")
	}
	if strings.ContainsFunc(j.Name, unicode.IsControl) {
		return fmt.Errorf("job %q: control characters in its name", j.Name)
	}
	if j.RequestID != "" {
		if err := higgsfield.ValidID(j.RequestID); err != nil {
			return fmt.Errorf("job %s: %v", j.Name, err)
		}
	}
	if j.Attempt < 0 {
		return fmt.Errorf("job %s: attempt %d is negative", j.Name, j.Attempt)
	}
	for _, f := range j.Files {
		if f.Path == "" || strings.ContainsFunc(f.Path, unicode.IsControl) {
			return fmt.Errorf("job %s: file path %q", j.Name, f.Path)
		}
		if !sha256Re().MatchString(f.SHA256) {
			return fmt.Errorf("job %s: %s: sha256 %q is not 64 lowercase hex digits", j.Name, f.Path, f.SHA256)
		}
	}
	return nil
}

// Path is the lock file's path ("" without one).
func (l *Lock) Path() string { return l.path }

// Get returns what the lock records of the job called name.
func (l *Lock) Get(name string) (LockedJob, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j, ok := l.jobs[name]
	return j, ok
}

// Put records j (by name) in memory; Commit or Close writes it.
func (l *Lock) Put(j LockedJob) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs[j.Name] = j
	l.version++
}

// Update applies f to the job called name (zero when absent) and records it.
func (l *Lock) Update(name string, f func(*LockedJob)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j := l.jobs[name]
	j.Name = name
	f(&j)
	l.jobs[name] = j
	l.version++
}

// Keep drops the jobs keep rejects (jobs no longer in the manifest whose
// files are gone), so the lock does not grow with every rename.
func (l *Lock) Keep(keep func(LockedJob) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, j := range l.jobs {
		if !keep(j) {
			delete(l.jobs, name)
			l.version++
		}
	}
}

// Writes returns how many times the file was written.
func (l *Lock) Writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

// Commit returns once every Put made before it is on disk. Commits that
// arrive together share one write, and writes are at least interval apart,
// so a batch of n jobs writes the file O(run time / interval) times, not n.
func (l *Lock) Commit() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.path == "" {
		return nil
	}
	want := l.version
	for l.written < want {
		if !l.writing {
			l.writing = true
			go l.writer()
		}
		l.cond.Wait()
	}
	return l.err
}

// Flush starts writing what changed, without waiting: the file follows the
// run at most interval behind.
func (l *Lock) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.path != "" && l.written < l.version && !l.writing {
		l.writing = true
		go l.writer()
	}
}

// writer writes the file, no sooner than interval after the last write, and
// again while Puts keep coming in and someone waits. Called with writing set.
func (l *Lock) writer() {
	l.mu.Lock()
	for {
		if wait := time.Until(l.lastSave.Add(l.interval)); wait > 0 {
			l.mu.Unlock()
			time.Sleep(wait)
			l.mu.Lock()
		}
		v := l.version
		data := l.encodeLocked()
		if bytes.Equal(data, l.disk) {
			// Only what the lock does not hold changed (stat data): the
			// file stays as it is, byte for byte and mtime.
			l.written = v
			l.cond.Broadcast()
			if l.written >= l.version {
				l.writing = false
				l.mu.Unlock()
				return
			}
			continue
		}
		l.mu.Unlock()
		err := writeAtomic(l.path, data)
		l.mu.Lock()
		l.lastSave = time.Now()
		l.writes++
		if err == nil {
			l.disk = data
		}
		if err != nil {
			l.err = err
			l.written = l.version // waiters get the error rather than hang
		} else {
			l.err = nil
			l.written = v
		}
		l.cond.Broadcast()
		if l.written >= l.version {
			l.writing = false
			l.mu.Unlock()
			return
		}
	}
}

// Save writes the file now (at the end of a run) when anything changed
// since the last write.
func (l *Lock) Save() error {
	l.mu.Lock()
	for l.writing {
		l.cond.Wait()
	}
	if l.path == "" {
		l.mu.Unlock()
		return nil
	}
	_ = l.saveStatsLocked() // only a cache: when it cannot be written, the next run hashes
	if (l.written == l.version && l.writes > 0) || (l.version == 0) {
		l.mu.Unlock()
		return nil
	}
	v := l.version
	data := l.encodeLocked()
	if bytes.Equal(data, l.disk) {
		l.written = v
		l.mu.Unlock()
		return nil
	}
	l.writing = true
	l.mu.Unlock()
	err := writeAtomic(l.path, data)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writing = false
	l.writes++
	l.lastSave = time.Now()
	if err == nil {
		l.written, l.disk = v, data
	}
	l.cond.Broadcast()
	return err
}

// encodeLocked renders the lock: jobs sorted by name, two-space indent, so
// that a committed lock diffs cleanly. The caller holds l.mu.
func (l *Lock) encodeLocked() []byte {
	lf := lockFile{Version: LockVersion, Jobs: make([]LockedJob, 0, len(l.jobs))}
	for _, j := range l.jobs {
		lf.Jobs = append(lf.Jobs, j)
	}
	slices.SortFunc(lf.Jobs, func(a, b LockedJob) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(lf, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("batch: encoding the lock: %v", err))
	}
	return append(data, '\n')
}

// writeAtomic replaces path with data: a temporary file beside it, fsynced,
// renamed over it, and the directory synced.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing the lock file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// statOf returns what the lock keeps of a file's stat.
func statOf(info fs.FileInfo) *FileStat {
	return &FileStat{Size: info.Size(), MtimeNS: info.ModTime().UnixNano(), Inode: inode(info)}
}

// check reports whether the file recorded as f is on disk at abs with the
// recorded sha256. A file whose stat matches the recorded one is trusted
// without hashing unless verify is set; otherwise it is hashed, and fresh
// is the stat to record when it matched.
func check(abs string, f LockedFile, verify bool) (ok bool, fresh *FileStat) {
	info, err := os.Lstat(abs)
	if err != nil || !info.Mode().IsRegular() || info.Size() != f.Bytes || f.SHA256 == "" {
		return false, nil
	}
	st := statOf(info)
	if !verify && f.Stat != nil && *f.Stat == *st {
		return true, st
	}
	file, err := os.Open(abs)
	if err != nil {
		return false, nil
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return false, nil
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return false, nil
	}
	return true, st
}
