// Package download owns getting generated outputs onto disk: atomic,
// resumable, verified downloads (a ".part" file resumed with Range after a
// dropped connection, length and sha256 checks, an fsync and a publish that
// never overwrites silently) and the output-name template that decides where
// each output goes.
package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	redactpkg "github.com/hf-cli/hf/pkg/redact"
)

// Fetcher downloads outputs. The zero value is ready to use.
type Fetcher struct {
	// Client is used as is; the caller guarantees it carries no credentials.
	// nil means a client that waits at most 30s for response headers and has
	// no overall timeout (a large video may take long; ctx bounds it).
	Client *http.Client
	// Retries is how many times a dropped, short or 5xx answer is resumed.
	// 0 means 5; a negative value means none.
	Retries int
	// Progress, if set, is called with the bytes written so far and the total
	// (-1 when unknown), at most about 10 times a second and once at the end.
	Progress func(written, total int64)
}

// Target says where an output goes.
type Target struct {
	// Dir is the output directory ("" is the current one).
	Dir string
	// Template names the file inside Dir ("" is DefaultTemplate).
	Template string
	// Vars fill Template; Fetch sets Ext from the response.
	Vars Vars
	// Clobber allows replacing an existing file.
	Clobber bool
	// ContentTypeHint is the type the API announced, used for the extension
	// when the response has no useful Content-Type.
	ContentTypeHint string
}

// File is one downloaded output.
type File struct {
	Path, URL, ContentType, SHA256 string
	Bytes                          int64
}

// ExistsError reports that an output's path is taken and Clobber is off.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return e.Path + " already exists (use --clobber to overwrite)"
}

// Error is a failed download. Permanent means retrying the same URL will not
// help (a 4xx answer, a local file error); otherwise retries ran out.
type Error struct {
	URL       string
	Err       error
	Permanent bool
}

func (e *Error) Error() string { return "downloading " + redact(e.URL) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

const (
	defaultRetries = 5
	progressEvery  = 100 * time.Millisecond
)

var defaultClient = func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: tr}
}()

// Precheck returns an *ExistsError if the path rendered from t (with
// t.Vars.Ext as given) exists and t.Clobber is off, and a template error if
// t's template is invalid.
func Precheck(t Target) error {
	final, err := t.path(t.Vars)
	if err != nil || t.Clobber {
		return err
	}
	return absent(final)
}

// Fetch downloads rawURL to the path rendered from t, the extension coming
// from the response's Content-Type, else t.ContentTypeHint, else the URL. The
// bytes go to "<path>.part" (resumed if a previous run left one), are checked
// against the announced length, synced, and published under the final name
// only when complete. Without Clobber an existing file (or symlink) is never
// replaced: Fetch returns an *ExistsError. An invalid template is returned
// as Render's error. Other failures are an *Error and leave the .part file
// for a later resume.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, t Target) (File, error) {
	if _, err := t.path(t.Vars); err != nil {
		return File{}, err
	}
	tr, err := f.newTransfer(rawURL)
	if err != nil {
		return File{}, err
	}
	var final string
	var part *os.File
	defer func() {
		if part != nil {
			part.Close()
		}
	}()
	tr.open = func(contentType string) error {
		v := t.Vars
		v.Ext = firstNonEmpty(extForType(contentType), extForType(t.ContentTypeHint), ExtFor("", rawURL))
		var err error
		if final, err = t.path(v); err != nil {
			return err
		}
		if !t.Clobber {
			if err := absent(final); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return err
		}
		if part, err = openPart(final + ".part"); err != nil {
			return err
		}
		// A previous run may have left a prefix: hash it and go on from there.
		n, err := io.Copy(tr.hash, part)
		tr.written, tr.w = n, part
		return err
	}
	tr.rewind = func() error {
		if err := part.Truncate(0); err != nil {
			return err
		}
		_, err := part.Seek(0, io.SeekStart)
		return err
	}
	if err := tr.run(ctx); err != nil {
		if ee := (*ExistsError)(nil); errors.As(err, &ee) {
			return File{}, ee
		}
		return File{}, err
	}
	err = part.Sync()
	if cerr := part.Close(); err == nil {
		err = cerr
	}
	part = nil
	if err == nil {
		err = publish(final+".part", final, t.Clobber)
	}
	if ee := (*ExistsError)(nil); errors.As(err, &ee) {
		return File{}, ee
	}
	if err != nil {
		return File{}, &Error{URL: rawURL, Err: err, Permanent: true}
	}
	syncDir(filepath.Dir(final))
	file := tr.file(t.ContentTypeHint)
	file.Path = final
	return file, nil
}

// Stream writes one output to w (for "-o -") with the same retries as Fetch:
// a resume asks for the bytes after those already written; a server that
// answers a resume with the whole body has its prefix checked against what
// w already got and skipped. It creates no files.
func (f *Fetcher) Stream(ctx context.Context, rawURL string, w io.Writer) (File, error) {
	tr, err := f.newTransfer(rawURL)
	if err != nil {
		return File{}, err
	}
	tr.open = func(string) error { tr.w = w; return nil }
	if err := tr.run(ctx); err != nil {
		return File{}, err
	}
	return tr.file(""), nil
}

func (t Target) path(v Vars) (string, error) {
	tmpl := t.Template
	if tmpl == "" {
		tmpl = DefaultTemplate
	}
	rel, err := Render(tmpl, v)
	if err != nil {
		return "", err
	}
	return filepath.Join(t.Dir, rel), nil
}

// absent returns an *ExistsError if anything, even a dangling symlink, is at p.
func absent(p string) error {
	_, err := os.Lstat(p)
	switch {
	case err == nil:
		return &ExistsError{Path: p}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return err
	}
}

// publish moves the complete part to final. Without clobber a hard link
// creates final only if nothing is there (atomically, symlinks included);
// where links are unsupported a checked rename stands in. With clobber a
// rename replaces final, a symlink itself rather than its target.
func publish(part, final string, clobber bool) error {
	if clobber {
		return os.Rename(part, final)
	}
	err := os.Link(part, final)
	switch {
	case err == nil:
		_ = os.Remove(part) // final is complete; a stray part is harmless
		return nil
	case errors.Is(err, fs.ErrExist):
		return &ExistsError{Path: final}
	}
	if err := absent(final); err != nil {
		return err
	}
	return os.Rename(part, final)
}

func openPart(p string) (*os.File, error) {
	f, err := openNoFollow(p)
	if err != nil {
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link; refusing to write through it", p)
		}
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file", p)
		}
		return nil, err
	}
	return f, nil
}

// transfer moves one output's bytes from url to w, across retries.
type transfer struct {
	f   *Fetcher
	url string
	// open is called with the first answer's Content-Type before any body
	// byte is read. It sets w and, when resuming, written and hash.
	open func(contentType string) error
	// rewind empties w for a server that answers a resume with the whole
	// body; nil when w cannot rewind (the prefix is then verified and skipped).
	rewind func() error

	w           io.Writer
	werr        error
	hash        hash.Hash
	written     int64
	total       int64 // -1 while unknown
	contentType string
	lastTick    time.Time
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

func permanent(err error) error { return permanentError{err} }

// errResume asks run to retry at once: a .part was found after a request
// made without Range.
var errResume = errors.New("resuming")

func (f *Fetcher) newTransfer(rawURL string) (*transfer, error) {
	u, err := url.Parse(rawURL)
	if err == nil && u.Scheme != "http" && u.Scheme != "https" {
		err = fmt.Errorf("unsupported URL scheme %q", u.Scheme)
	}
	if err != nil {
		return nil, &Error{URL: rawURL, Err: err, Permanent: true}
	}
	return &transfer{f: f, url: rawURL, hash: sha256.New(), total: -1}, nil
}

func (t *transfer) run(ctx context.Context) error {
	retries := t.f.Retries
	switch {
	case retries == 0:
		retries = defaultRetries
	case retries < 0:
		retries = 0
	}
	for attempt := 0; ; {
		err := t.attempt(ctx)
		var pe permanentError
		switch {
		case err == nil:
			if t.f.Progress != nil {
				t.f.Progress(t.written, t.total)
			}
			return nil
		case errors.Is(err, errResume):
			continue
		case ctx.Err() != nil:
			return &Error{URL: t.url, Err: ctx.Err()}
		case errors.As(err, &pe):
			return &Error{URL: t.url, Err: pe.error, Permanent: true}
		case attempt >= retries:
			return &Error{URL: t.url, Err: err}
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return &Error{URL: t.url, Err: err}
		}
		attempt++
	}
}

// attempt makes one request, from byte t.written on, and copies its body.
func (t *transfer) attempt(ctx context.Context) error {
	resp, err := t.get(ctx)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if t.w == nil {
		t.contentType = resp.Header.Get("Content-Type")
		if err := t.open(t.contentType); err != nil {
			return permanent(err)
		}
		if t.written > 0 && resp.StatusCode != http.StatusPartialContent {
			return errResume
		}
	}
	switch resp.StatusCode {
	case http.StatusRequestedRangeNotSatisfiable:
		// Everything may already be here (a run that stopped before publishing).
		if _, total, ok := contentRange(resp.Header.Get("Content-Range")); ok && total == t.written {
			t.total = total
			return nil
		}
		err := fmt.Errorf("server refused to resume at byte %d", t.written)
		if t.rewind == nil {
			return permanent(err)
		}
		if rerr := t.restart(); rerr != nil {
			return permanent(rerr)
		}
		return err // the next attempt starts over
	case http.StatusPartialContent:
		start, total, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != t.written {
			return permanent(fmt.Errorf("unexpected Content-Range %q when resuming at byte %d", resp.Header.Get("Content-Range"), t.written))
		}
		if total < 0 && resp.ContentLength >= 0 {
			total = start + resp.ContentLength
		}
		t.total = total
	default: // the whole body
		if t.written > 0 {
			if err := t.restartOrSkip(resp.Body); err != nil {
				return err
			}
		}
		t.total = resp.ContentLength
	}
	_, err = io.Copy(writerFunc(t.write), resp.Body)
	switch {
	case t.werr != nil:
		return permanent(t.werr)
	case err != nil:
		return fmt.Errorf("connection dropped after %d bytes: %w", t.written, err)
	case t.total >= 0 && t.written < t.total:
		return fmt.Errorf("incomplete: got %d of %d bytes", t.written, t.total)
	case t.total >= 0 && t.written > t.total:
		return permanent(fmt.Errorf("got %d bytes, more than the %d announced", t.written, t.total))
	}
	return nil
}

// get sends the request and sorts the answer: 2xx (and 416 to a resume) are
// returned, 4xx are permanent errors, anything else is worth a retry.
func (t *transfer) get(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return nil, permanent(err)
	}
	if t.written > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(t.written, 10)+"-")
	}
	client := t.f.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, query and all
		}
		return nil, err
	}
	code := resp.StatusCode
	if code/100 == 2 || code == http.StatusRequestedRangeNotSatisfiable && t.written > 0 {
		return resp, nil
	}
	resp.Body.Close()
	err = fmt.Errorf("HTTP %s", resp.Status)
	if code/100 == 4 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests {
		return nil, permanent(err)
	}
	return nil, err
}

// restartOrSkip handles a whole body sent in answer to a resume: a file
// starts over; a stream re-reads the prefix, checks it matches, and skips it.
func (t *transfer) restartOrSkip(body io.Reader) error {
	if t.rewind != nil {
		if err := t.restart(); err != nil {
			return permanent(err)
		}
		return nil
	}
	want, h := t.hash.Sum(nil), sha256.New()
	if _, err := io.CopyN(h, body, t.written); err != nil {
		return fmt.Errorf("connection dropped while skipping the first %d bytes: %w", t.written, err)
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return permanent(errors.New("the server sent different content when asked to resume"))
	}
	return nil
}

func (t *transfer) restart() error {
	if err := t.rewind(); err != nil {
		return err
	}
	t.written = 0
	t.hash.Reset()
	return nil
}

func (t *transfer) write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	t.hash.Write(p[:n])
	t.written += int64(n)
	t.werr = err
	if t.f.Progress != nil && time.Since(t.lastTick) >= progressEvery {
		t.lastTick = time.Now()
		t.f.Progress(t.written, t.total)
	}
	return n, err
}

func (t *transfer) file(contentTypeHint string) File {
	return File{
		URL:         t.url,
		ContentType: firstNonEmpty(t.contentType, contentTypeHint),
		SHA256:      hex.EncodeToString(t.hash.Sum(nil)),
		Bytes:       t.written,
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// contentRange parses "bytes START-END/TOTAL" or "bytes */TOTAL"; total is
// -1 when given as "*", start -1 when the range is "*".
func contentRange(h string) (start, total int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes ")
	rng, tot, found2 := strings.Cut(spec, "/")
	if !found || !found2 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		var err error
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < 0 {
			return 0, 0, false
		}
	}
	if rng == "*" {
		return -1, total, true
	}
	first, _, _ := strings.Cut(rng, "-")
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	return start, total, true
}

// backoff is 200ms·2^n, capped at 5s.
func backoff(n int) time.Duration {
	if n >= 5 {
		return 5 * time.Second
	}
	return min(200*time.Millisecond<<n, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// redact shows a URL in messages without userinfo, fragment or query
// values (signed asset URLs carry their signature in the query).
func redact(raw string) string { return redactpkg.URL(raw) }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
