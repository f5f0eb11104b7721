package inputs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
)

// Uploader sends bytes to storage and returns their public URL
// (*higgsfield.Client is one). r is an io.ReadSeeker, so a failed PUT can
// be sent again.
type Uploader interface {
	Upload(ctx context.Context, contentType string, r io.Reader, size int64) (publicURL string, err error)
}

// Event reports the upload of one distinct content: bytes sent as they go
// (Done of Total), then once more with URL set when it is done. Cached is
// set (and nothing sent) when a URL uploaded earlier is reused.
type Event struct {
	Ref         Ref
	Done, Total int64
	URL         string
	Cached      bool
}

// Resolver uploads the files a body references and substitutes their public
// URLs. It is safe for concurrent use: a content being uploaded by one call
// is waited for, not uploaded again, by another.
type Resolver struct {
	Uploader Uploader
	// Cache, when set, reuses URLs of contents uploaded in the last 50
	// minutes, across hf processes. Cache failures only cost an upload.
	Cache *Cache
	// Scope tells apart uploads to different APIs (the base URL): a
	// sandbox URL is never reused against the real API.
	Scope string
	// Progress, when set, receives Events (from the calling goroutine).
	Progress func(Event)

	mu       sync.Mutex
	done     map[string]string // key → URL, uploaded by this resolver
	inflight map[string]*call
}

type call struct {
	wait chan struct{}
	url  string
	err  error
}

// ErrChanged is the cause of a file that changed between its check and its
// upload.
var ErrChanged = errors.New("changed while being uploaded")

// Resolve checks the files body references (as Scan does; nothing is
// uploaded when one is bad), uploads each distinct content once, and
// returns a new body with each reference replaced by its public URL and
// "@@" strings unescaped, with the references found. body is not modified.
func (r *Resolver) Resolve(ctx context.Context, body map[string]any, mode Mode, baseDir string) (map[string]any, []Ref, error) {
	found, err := scan(body, mode, baseDir)
	if err != nil {
		return nil, nil, err
	}
	refs := make([]Ref, len(found))
	urls := map[string]string{} // abs path → URL
	for i, f := range found {
		refs[i] = f.Ref
		if _, ok := urls[f.abs]; ok {
			continue
		}
		u, err := r.url(ctx, f)
		if err != nil {
			return nil, refs, err
		}
		urls[f.abs] = u
	}
	out, err := transform(body, mode, func(_, path string) (any, error) {
		abs, err := resolvePath(path, baseDir)
		if err != nil {
			return nil, err
		}
		return urls[abs], nil
	})
	return out, refs, err
}

func key(f found) string { return f.SHA256 + " " + f.ContentType }

// url returns the public URL of f's content: from this resolver, the
// cache, an upload in flight, or a new upload.
func (r *Resolver) url(ctx context.Context, f found) (string, error) {
	k := key(f)
	for {
		r.mu.Lock()
		if u, ok := r.done[k]; ok {
			r.mu.Unlock()
			r.report(Event{Ref: f.Ref, Done: f.Size, Total: f.Size, URL: u, Cached: true})
			return u, nil
		}
		if c, ok := r.inflight[k]; ok {
			r.mu.Unlock()
			select {
			case <-c.wait:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if c.err == nil {
				r.report(Event{Ref: f.Ref, Done: f.Size, Total: f.Size, URL: c.url, Cached: true})
				return c.url, nil
			}
			continue // the other call failed: try on our own
		}
		c := &call{wait: make(chan struct{})}
		if r.inflight == nil {
			r.inflight, r.done = map[string]*call{}, map[string]string{}
		}
		r.inflight[k] = c
		r.mu.Unlock()

		c.url, c.err = r.fetch(ctx, f)
		r.mu.Lock()
		delete(r.inflight, k)
		if c.err == nil {
			r.done[k] = c.url
		}
		r.mu.Unlock()
		close(c.wait)
		return c.url, c.err
	}
}

func (r *Resolver) fetch(ctx context.Context, f found) (string, error) {
	if r.Cache != nil {
		if u, ok, _ := r.Cache.Get(f.SHA256, f.ContentType, r.Scope); ok {
			r.report(Event{Ref: f.Ref, Done: f.Size, Total: f.Size, URL: u, Cached: true})
			return u, nil
		}
	}
	if r.Uploader == nil {
		return "", errors.New("inputs: no uploader")
	}
	file, err := openRead(f.abs)
	if err != nil {
		return "", &FileError{Field: f.Field, Path: f.Path, Reason: "cannot be opened: " + unwrapPath(err), Supported: Supported}
	}
	defer file.Close()
	if info, err := file.Stat(); err != nil || !info.Mode().IsRegular() {
		return "", &FileError{Field: f.Field, Path: f.Path, Reason: ErrChanged.Error() + " (it is no longer a regular file)"}
	}
	body := &sendReader{f: file, h: sha256.New(), total: f.Size, report: func(done int64) {
		r.report(Event{Ref: f.Ref, Done: done, Total: f.Size})
	}}
	u, err := r.Uploader.Upload(ctx, f.ContentType, body, f.Size)
	changed := body.changed
	if err == nil {
		// What was sent must be the whole file as checked: not fewer bytes,
		// not other bytes, and the file must not have grown meanwhile.
		info, serr := file.Stat()
		changed = changed || body.sent != f.Size || hex.EncodeToString(body.h.Sum(nil)) != f.SHA256 ||
			serr != nil || info.Size() != f.Size
	}
	if changed {
		return "", &FileError{Field: f.Field, Path: f.Path, Reason: ErrChanged.Error()}
	}
	if err != nil {
		return "", fmt.Errorf("uploading %s: %w", f.Path, err)
	}
	if r.Cache != nil {
		_ = r.Cache.Put(f.SHA256, f.ContentType, r.Scope, u)
	}
	r.report(Event{Ref: f.Ref, Done: f.Size, Total: f.Size, URL: u})
	return u, nil
}

func (r *Resolver) report(e Event) {
	if r.Progress != nil {
		r.Progress(e)
	}
}

// sendReader reads the file for the PUT, hashing what is sent and
// reporting progress. Rewinding to the start (a retry) restarts both.
type sendReader struct {
	f      *os.File
	h      hash.Hash
	sent   int64
	total  int64
	report func(int64)
	// changed is set when the file ended before the size it was checked
	// with; the PUT is aborted and not retried.
	changed bool
}

func (s *sendReader) Read(p []byte) (int, error) {
	// Never send more than was checked: a file that grew is caught by the
	// digest, and the PUT's Content-Length stays true.
	if left := s.total - s.sent; int64(len(p)) > left {
		p = p[:max(left, 0)]
	}
	if len(p) == 0 {
		return 0, io.EOF
	}
	n, err := s.f.Read(p)
	s.h.Write(p[:n])
	s.sent += int64(n)
	if n > 0 {
		s.report(s.sent)
	}
	if errors.Is(err, io.EOF) && s.sent < s.total {
		// A short body would break the PUT's Content-Length; the file shrank.
		s.changed = true
		return n, ErrChanged
	}
	return n, err
}

func (s *sendReader) Seek(offset int64, whence int) (int64, error) {
	switch {
	case offset == 0 && whence == io.SeekCurrent:
		return s.sent, nil
	case offset == 0 && whence == io.SeekStart:
		if s.changed {
			return 0, ErrChanged // sending it again would not help
		}
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		s.h.Reset()
		s.sent = 0
		return 0, nil
	}
	return 0, errors.New("inputs: only rewinding to the start is supported")
}

// Check checks one file as Scan does (path as given, relative to baseDir).
func Check(path, baseDir string) (Ref, error) {
	abs, err := resolvePath(path, baseDir)
	if err != nil {
		return Ref{}, &FileError{Path: path, Reason: err.Error(), Supported: Supported}
	}
	f, err := check(abs)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			fe.Path = path
		}
		return Ref{}, err
	}
	f.Path = path
	return f.Ref, nil
}

// Upload checks and uploads one file (or reuses its URL) and returns its
// Ref and public URL: hf upload.
func (r *Resolver) Upload(ctx context.Context, path, baseDir string) (Ref, string, error) {
	abs, err := resolvePath(path, baseDir)
	if err != nil {
		return Ref{}, "", &FileError{Path: path, Reason: err.Error(), Supported: Supported}
	}
	f, err := check(abs)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			fe.Path = path
		}
		return Ref{}, "", err
	}
	f.Path = path
	u, err := r.url(ctx, f)
	return f.Ref, u, err
}
