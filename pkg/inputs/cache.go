package inputs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// CacheTTL is how long an uploaded content's public URL is reused.
const CacheTTL = 50 * time.Minute

// lockWait bounds how long a cache call waits for another hf process's
// lock; past it the cache is skipped (a miss), never waited on forever.
var lockWait = 5 * time.Second

// maxCacheFile bounds the cache file read into memory.
const maxCacheFile = 8 << 20

// Cache remembers the public URL of each uploaded content (by sha256,
// content type and scope, e.g. the API base URL) for CacheTTL, in a private
// file (0600, directory 0700) that several hf processes may share: every
// read-modify-write holds a file lock, and the file is replaced atomically.
type Cache struct {
	path, lock string
	ttl        time.Duration
	now        func() time.Time
}

// CacheEntry is one remembered upload.
type CacheEntry struct {
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type"`
	Scope       string    `json:"scope,omitempty"`
	URL         string    `json:"url"`
	Time        time.Time `json:"time"`
}

// mu orders this process's own cache calls (file locks do not exclude two
// goroutines of one process on every system).
var mu sync.Mutex

// OpenCache opens (creating it when needed) the upload cache in dir,
// normally the state directory.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload cache: %w", err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("upload cache: %w", err)
		}
	}
	return &Cache{
		path: filepath.Join(dir, "uploads.json"),
		lock: filepath.Join(dir, "uploads.lock"),
		ttl:  CacheTTL,
		now:  time.Now,
	}, nil
}

// Path is the cache file.
func (c *Cache) Path() string { return c.path }

// SetClock replaces the cache's clock (tests).
func (c *Cache) SetClock(now func() time.Time) { c.now = now }

// Get returns the URL of content sha256 of type ct uploaded in scope less
// than CacheTTL ago.
func (c *Cache) Get(sha, ct, scope string) (string, bool, error) {
	var url string
	var hit bool
	err := c.locked(func(entries []CacheEntry) ([]CacheEntry, bool) {
		now := c.now()
		for _, e := range entries {
			if e.SHA256 == sha && e.ContentType == ct && e.Scope == scope && c.fresh(e, now) && publicURL(e.URL) {
				url, hit = e.URL, true
			}
		}
		return nil, false
	})
	return url, hit, err
}

// Put records that content sha256 of type ct is at url in scope, now, and
// drops expired entries.
func (c *Cache) Put(sha, ct, scope, url string) error {
	return c.locked(func(entries []CacheEntry) ([]CacheEntry, bool) {
		now := c.now()
		kept := entries[:0]
		for _, e := range entries {
			if c.fresh(e, now) && !(e.SHA256 == sha && e.ContentType == ct && e.Scope == scope) {
				kept = append(kept, e)
			}
		}
		return append(kept, CacheEntry{SHA256: sha, ContentType: ct, Scope: scope, URL: url, Time: now.UTC()}), true
	})
}

func (c *Cache) fresh(e CacheEntry, now time.Time) bool {
	age := now.Sub(e.Time)
	return age >= 0 && age < c.ttl
}

// locked runs f on the entries under the file lock; when f says so, the
// entries it returns replace the file.
func (c *Cache) locked(f func([]CacheEntry) ([]CacheEntry, bool)) error {
	mu.Lock()
	defer mu.Unlock()
	lk := flock.New(c.lock, flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	ok, err := lk.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil || !ok {
		return fmt.Errorf("upload cache: locking %s: %v", c.lock, errOr(err, "another hf holds the lock"))
	}
	defer lk.Unlock()
	entries, err := c.read()
	if err != nil {
		return err
	}
	next, write := f(entries)
	if !write {
		return nil
	}
	return c.write(next)
}

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

// publicURL reports whether a cached URL can be sent as an input: an
// absolute http(s) URL, as the upload answer's public_url was.
func publicURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// read loads the entries; a missing or unreadable (corrupt) file is an
// empty cache, since losing it costs only an upload. So is a file others
// may write: its URLs would be sent as the user's inputs.
func (c *Cache) read() ([]CacheEntry, error) {
	f, err := openRead(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upload cache: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() ||
		(runtime.GOOS != "windows" && info.Mode().Perm()&0o022 != 0) {
		return nil, nil
	}
	var entries []CacheEntry
	dec := json.NewDecoder(&limitedReader{f: f, left: maxCacheFile})
	if dec.Decode(&entries) != nil {
		return nil, nil
	}
	return entries, nil
}

type limitedReader struct {
	f    *os.File
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errors.New("upload cache file too large")
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.f.Read(p)
	l.left -= int64(n)
	return n, err
}

// write replaces the file atomically: a private temporary file in the same
// directory, synced, then renamed over the old one.
func (c *Cache) write(entries []CacheEntry) error {
	data, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".uploads-*.tmp")
	if err != nil {
		return fmt.Errorf("upload cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("upload cache: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("upload cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("upload cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("upload cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("upload cache: %w", err)
	}
	return nil
}
