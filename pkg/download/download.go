// Package download owns getting generated outputs onto disk: atomic,
// resumable, verified downloads (a ".part" file bound to its request and URL
// and resumed only with Range and If-Range on the asset host's validator,
// length, size-cap and sha256 checks, a stall timeout, an fsync and a
// publish that never overwrites silently nor replaces another request's
// output), the one HTTP client outputs are fetched with, and the parsed
// output-name template that decides where each output goes.
package download

import (
	"bytes"
	"compress/gzip"
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
	"sync"
	"syscall"
	"time"

	redactpkg "github.com/hf-cli/hf/pkg/redact"
)

// Fetcher downloads outputs. The zero value is ready to use.
type Fetcher struct {
	// Client is used as is; the caller guarantees it carries no credentials.
	// nil means NewClient(nil).
	Client *http.Client
	// Retries is how many times a dropped, stalled, short or 5xx answer is
	// resumed. 0 means 5; a negative value means none.
	Retries int
	// Progress, if set, is called with the bytes written so far and the total
	// (-1 when unknown), at most about 10 times a second and once at the end.
	// It may be called from another goroutine than Fetch's.
	Progress func(written, total int64)
	// StallTimeout ends an attempt that receives no byte for this long
	// (connecting and waiting for the headers included); the transfer then
	// resumes under the retry rules. 0 means DefaultStallTimeout.
	StallTimeout time.Duration
	// MaxBytes bounds one output's size, decoded. 0 means DefaultMaxBytes.
	MaxBytes int64
}

const (
	// DefaultStallTimeout is how long a transfer may go without a byte.
	DefaultStallTimeout = 30 * time.Second
	// DefaultMaxBytes is the largest output saved (8 GiB).
	DefaultMaxBytes int64 = 8 << 30
)

// Target says where an output goes.
type Target struct {
	// Dir is the output directory ("" is the current one).
	Dir string
	// Template names the file inside Dir (the zero Template is Default).
	Template Template
	// Vars fill Template; Fetch sets Ext from the response. Vars.ID is the
	// request the output belongs to: a .part file is resumed only for the
	// same request and URL.
	Vars Vars
	// Clobber allows replacing an existing file, except another request's
	// recorded output (see Owner).
	Clobber bool
	// ContentTypeHint is the type the API announced, used for the extension
	// when the response has no useful Content-Type.
	ContentTypeHint string
	// Owner, when set, returns the request whose saved output the journal
	// records at an absolute path ("" for none). With Clobber, a file owned
	// by another request is replaced only when the template names that very
	// file (Template.Exact).
	Owner func(path string) string
}

// File is one downloaded output; the journal records it as is.
type File struct {
	Path        string `json:"path,omitempty"`
	URL         string `json:"url,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	Bytes       int64  `json:"bytes,omitempty"`
}

// ExistsError reports that an output's path is taken: Clobber is off, or
// the file there is the recorded output of request Owner.
type ExistsError struct {
	Path string
	// Owner is the other request whose output is at Path ("" when hf
	// knows nothing of the file).
	Owner string
}

func (e *ExistsError) Error() string {
	if e.Owner != "" {
		return e.Path + " is the saved output of request " + e.Owner + "; hf does not replace it (choose another -o, or write that exact path with -o to replace it)"
	}
	return e.Path + " already exists (use --clobber to overwrite)"
}

// Error is a failed download. Permanent means retrying the same URL will not
// help (a 4xx answer, a local file error, an output over the size cap);
// otherwise retries ran out.
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

// NewClient returns the HTTP client for outputs: no overall timeout (a
// large video takes long; the context and the stall timeout bound it), 30 s
// to the response headers, no compression negotiated (Fetch asks for the
// identity encoding). wrap, when set, wraps its transport (a debug log).
func NewClient(wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 30 * time.Second
	tr.DisableCompression = true
	tr.ReadBufferSize = 64 << 10
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(tr)
	}
	return &http.Client{Transport: rt}
}

// defaultClient is built on first use, not at start-up.
var defaultClient = sync.OnceValue(func() *http.Client { return NewClient(nil) })

// Precheck returns an *ExistsError if the path rendered from t (with
// t.Vars.Ext as given) exists and t.Clobber is off, or is another
// request's output that t may not replace, and a template error if the
// rendered path is invalid.
func Precheck(t Target) error {
	final, err := t.path(t.Vars)
	if err != nil {
		return err
	}
	return t.mayWrite(final, t.Vars)
}

// mayWrite checks that final is free, or that t may replace what is there.
func (t Target) mayWrite(final string, v Vars) error {
	fi, err := os.Lstat(final)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !t.Clobber:
		return &ExistsError{Path: final}
	}
	if t.Owner != nil && !t.Template.Exact(v) {
		if abs, err := filepath.Abs(final); err == nil {
			if owner := t.Owner(abs); owner != "" && owner != v.ID {
				return &ExistsError{Path: final, Owner: owner}
			}
		}
	}
	if n := linkCount(fi); fi.Mode().IsRegular() && n != 1 {
		return fmt.Errorf("%s has %d hard links; refusing to replace it", final, n)
	}
	return nil
}

// Fetch downloads rawURL to the path rendered from t, the extension coming
// from the response's Content-Type, else t.ContentTypeHint, else the URL.
//
// The bytes go to "<path>.part", bound to the request and URL by
// "<path>.part.meta" (written and synced before the first byte) and to the
// asset host's validator (ETag, else Last-Modified): a part left by an
// earlier run is resumed with Range and If-Range only when all of those
// match, and discarded otherwise. The meta file is locked while a transfer
// runs, so a second process (or goroutine) saving the same output waits,
// then finds it saved. The bytes are checked against the announced length
// and the size cap, synced, and published under the final name only when
// complete.
//
// Without Clobber an existing file (or symlink) is never replaced: Fetch
// returns an *ExistsError, as it does for another request's output. An
// invalid template is returned as Render's error. Other failures are an
// *Error and leave the .part file for a later resume.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, t Target) (File, error) {
	if _, err := t.path(t.Vars); err != nil {
		return File{}, err
	}
	tr, err := f.newTransfer(rawURL)
	if err != nil {
		return File{}, err
	}
	var final string
	var p *part
	defer func() { p.release() }()
	tr.open = func(ctx context.Context, resp *http.Response) error {
		v := t.Vars
		v.Ext = firstNonEmpty(extForType(resp.Header.Get("Content-Type")), extForType(t.ContentTypeHint), extForURL(rawURL), "bin")
		var err error
		if final, err = t.path(v); err != nil {
			return err
		}
		if err := t.mayWrite(final, v); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return err
		}
		binding := meta{RequestID: t.Vars.ID, URL: stripQuery(rawURL)}
		var done *File
		if p, done, err = acquire(ctx, final, binding); err != nil {
			return err
		}
		if done != nil {
			return &savedError{file: *done}
		}
		// Bound before the first byte: a later run resumes only this.
		tr.bind = func(validator string) error { return p.bind(binding, validator) }
		tr.rewind = p.truncate
		tr.verify = func(n int64) error { return complete(p.f, n) }
		tr.w = p.writer()
		if p.resumable(binding) {
			// A previous run left a prefix of this very output: hash it and
			// ask for the rest, if the host still has the same bytes.
			n, err := io.Copy(tr.hash, p.f)
			tr.written, tr.validator = n, p.meta.Validator
			return err
		}
		return nil
	}
	if err := tr.run(ctx); err != nil {
		var saved *savedError
		var ee *ExistsError
		switch {
		case errors.As(err, &saved):
			return saved.file, nil
		case errors.As(err, &ee):
			return File{}, ee
		}
		var de *Error
		if errors.As(err, &de) && de.Permanent && errors.Is(err, errTooLarge) {
			p.discard() // nothing worth resuming
		}
		return File{}, err
	}
	err = p.finish()
	if err == nil {
		err = t.mayWrite(final, t.Vars) // still free (or replaceable) now?
		if err == nil {
			err = publish(p.path, final, t.Clobber)
		}
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
	p.published(file)
	return file, nil
}

// Stream writes one output to w (for "-o -") with the same retries as Fetch:
// a resume asks for the bytes after those already written (with If-Range);
// a server that answers a resume with the whole body has its prefix checked
// against what w already got and skipped. It creates no files.
func (f *Fetcher) Stream(ctx context.Context, rawURL string, w io.Writer) (File, error) {
	tr, err := f.newTransfer(rawURL)
	if err != nil {
		return File{}, err
	}
	tr.open = func(context.Context, *http.Response) error { tr.w = w; return nil }
	if err := tr.run(ctx); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			// The reader stopped early (| head): not a failure of the host.
			err = &Error{URL: rawURL, Permanent: true, Err: fmt.Errorf("the program reading stdout closed it after %d bytes, before the end of the output", tr.written)}
		}
		return File{}, err
	}
	return tr.file(""), nil
}

func (t Target) path(v Vars) (string, error) {
	rel, err := t.Template.Render(v)
	if err != nil {
		return "", err
	}
	return filepath.Join(t.Dir, rel), nil
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
	if _, err := os.Lstat(final); err == nil {
		return &ExistsError{Path: final}
	}
	return os.Rename(part, final)
}

// transfer moves one output's bytes from url to w, across retries.
type transfer struct {
	f   *Fetcher
	url string
	// open is called with the first answer before any body byte is read.
	// It sets w and, when resuming, written, validator and hash.
	open func(ctx context.Context, resp *http.Response) error
	// bind, when set, records the validator of a body about to be written
	// from byte 0 (before its first byte).
	bind func(validator string) error
	// rewind empties w for a server that answers a resume with the whole
	// body; nil when w cannot rewind (the prefix is then verified and skipped).
	rewind func() error
	// verify, when set, checks the n bytes written are a whole file, after
	// a body of unknown length ended (see complete).
	verify func(n int64) error

	w           io.Writer
	hash        hash.Hash
	written     int64
	total       int64  // -1 while unknown
	validator   string // what If-Range sends: a strong ETag, else Last-Modified
	contentType string
	lastTick    time.Time
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

func permanent(err error) error { return permanentError{err} }

// savedError: another process (or goroutine) saved this output while
// Fetch waited for the part's lock.
type savedError struct{ file File }

func (e *savedError) Error() string { return e.file.Path + " was saved meanwhile" }

var (
	// errResume asks run to retry at once: a .part was found after a
	// request made without Range, or a resume must start over.
	errResume   = errors.New("resuming")
	errStalled  = errors.New("stalled")
	errTooLarge = errors.New("output too large")
)

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

func (t *transfer) stallTimeout() time.Duration {
	if t.f.StallTimeout > 0 {
		return t.f.StallTimeout
	}
	return DefaultStallTimeout
}

func (t *transfer) maxBytes() int64 {
	if t.f.MaxBytes > 0 {
		return t.f.MaxBytes
	}
	return DefaultMaxBytes
}

func (t *transfer) run(ctx context.Context) error {
	retries := t.f.Retries
	switch {
	case retries == 0:
		retries = defaultRetries
	case retries < 0:
		retries = 0
	}
	for attempt, restarts := 0, 0; ; {
		err := t.attempt(ctx)
		var pe permanentError
		switch {
		case err == nil:
			if t.f.Progress != nil {
				t.f.Progress(t.written, t.total)
			}
			return nil
		case errors.As(err, new(*savedError)), errors.As(err, new(*ExistsError)):
			return err
		case errors.Is(err, errResume) && restarts < 3:
			restarts++
			continue
		case ctx.Err() != nil:
			return &Error{URL: t.url, Err: context.Cause(ctx)}
		case errors.As(err, &pe):
			return &Error{URL: t.url, Err: pe.error, Permanent: true}
		case attempt >= retries:
			return &Error{URL: t.url, Err: err}
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return &Error{URL: t.url, Err: context.Cause(ctx)}
		}
		attempt++
	}
}

// attempt makes one request, from byte t.written on, and copies its body.
func (t *transfer) attempt(ctx context.Context) error {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := t.stallTimeout()
	stall := time.AfterFunc(idle, func() { cancel(errStalled) })
	defer stall.Stop()
	stalled := func(err error) error {
		if errors.Is(context.Cause(actx), errStalled) && ctx.Err() == nil {
			return fmt.Errorf("no data for %s after %d bytes", idle, t.written)
		}
		return err
	}

	if t.written > 0 && t.validator == "" && t.rewind != nil {
		// Nothing proves the host still has the same bytes: start over.
		if err := t.restart(); err != nil {
			return permanent(err)
		}
	}
	ranged := t.written > 0 && t.validator != ""
	resp, err := t.get(actx, ranged)
	if err != nil {
		return stalled(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); webPage(ct) {
		return permanent(fmt.Errorf("the asset host answered with a web page (%s), not the output; nothing was saved", ct))
	}
	if t.w == nil {
		t.contentType = resp.Header.Get("Content-Type")
		stall.Stop() // waiting for another process's download is not a stall
		err := t.open(ctx, resp)
		stall.Reset(idle)
		if err != nil {
			var saved *savedError
			if errors.As(err, &saved) {
				return err
			}
			return permanent(err)
		}
		if t.written > 0 && resp.StatusCode == http.StatusOK && validatorOf(resp) == t.validator {
			return errResume // the same bytes are still there: ask for the rest
		}
	}
	body, err := t.accept(resp, ranged)
	if err != nil {
		return err
	}
	if t.total > t.maxBytes() {
		return permanent(fmt.Errorf("%w: %d bytes, more than the limit of %s", errTooLarge, t.total, humanBytes(t.maxBytes())))
	}
	if body == nil { // nothing left to read
		return nil
	}
	err = t.copyBody(body, func() { stall.Reset(idle) })
	var we writeError
	switch {
	case errors.As(err, &we):
		return permanent(we.error)
	case errors.Is(err, errTooLarge):
		return permanent(fmt.Errorf("%w: more than the limit of %s", errTooLarge, humanBytes(t.maxBytes())))
	case err != nil:
		return stalled(fmt.Errorf("connection dropped after %d bytes: %w", t.written, err))
	case t.total >= 0 && t.written < t.total:
		return fmt.Errorf("incomplete: got %d of %d bytes", t.written, t.total)
	case t.total >= 0 && t.written > t.total:
		return permanent(fmt.Errorf("got %d bytes, more than the %d announced", t.written, t.total))
	case t.total < 0 && t.verify != nil:
		return t.verify(t.written) // retried: the rest may come with Range
	}
	return nil
}

// webPage reports a Content-Type no generation has: the HTML page of a CDN,
// proxy or login wall answered in place of the output.
func webPage(contentType string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	mt = strings.TrimSpace(mt)
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// accept sorts an answer out: it checks a resumed answer belongs to the
// same bytes, starts over when the host sent the whole body, records the
// validator of a body written from byte 0, and returns the reader of the
// decoded body (nil when everything is already here).
func (t *transfer) accept(resp *http.Response, ranged bool) (io.Reader, error) {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	if enc != "" && enc != "identity" && enc != "gzip" && enc != "x-gzip" {
		return nil, permanent(fmt.Errorf("the asset host sent an unsupported Content-Encoding %q although hf asked for identity", enc))
	}
	gzipped := enc == "gzip" || enc == "x-gzip"
	switch resp.StatusCode {
	case http.StatusRequestedRangeNotSatisfiable:
		// Everything may already be here (a run that stopped before
		// publishing); If-Range held, so the bytes are the same.
		if _, total, ok := contentRange(resp.Header.Get("Content-Range")); ok && total == t.written {
			t.total = total
			return nil, nil
		}
		err := fmt.Errorf("server refused to resume at byte %d", t.written)
		if t.rewind == nil {
			return nil, permanent(err)
		}
		if rerr := t.restart(); rerr != nil {
			return nil, permanent(rerr)
		}
		return nil, err // the next attempt starts over
	case http.StatusPartialContent:
		start, total, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != t.written {
			return nil, permanent(fmt.Errorf("unexpected Content-Range %q when resuming at byte %d", resp.Header.Get("Content-Range"), t.written))
		}
		if ranged && (validatorOf(resp) != t.validator || gzipped) {
			// A host that ignores If-Range but honours Range: these may
			// be other bytes. Start over.
			if t.rewind != nil {
				if err := t.restart(); err != nil {
					return nil, permanent(err)
				}
			}
			t.validator = ""
			return nil, errResume
		}
		if gzipped { // an encoded range from byte 0 is the whole encoded body
			total = -1
		} else if total < 0 && resp.ContentLength >= 0 {
			total = start + resp.ContentLength
		}
		t.total = total
		if start == 0 {
			if err := t.setValidator(resp, gzipped); err != nil {
				return nil, err
			}
		}
	default: // the whole body
		if t.written > 0 {
			if err := t.restartOrSkip(resp.Body, gzipped); err != nil {
				return nil, err
			}
		}
		t.total = resp.ContentLength
		if gzipped {
			t.total = -1 // Content-Length counts the encoded bytes
		}
		if err := t.setValidator(resp, gzipped); err != nil {
			return nil, err
		}
	}
	body := io.Reader(resp.Body)
	if gzipped {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("reading the gzip-encoded body: %w", err)
		}
		body = zr
	}
	return body, nil
}

// setValidator records what a later resume may send as If-Range. An
// encoded body cannot be resumed by range of decoded bytes, so it gets none.
func (t *transfer) setValidator(resp *http.Response, encoded bool) error {
	v := validatorOf(resp)
	if encoded {
		v = ""
	}
	t.validator = v
	if t.bind != nil && t.written == 0 {
		if err := t.bind(v); err != nil {
			return permanent(err)
		}
	}
	return nil
}

// validatorOf is what an answer offers for If-Range: its ETag when strong,
// else its Last-Modified, else "".
func validatorOf(resp *http.Response) string {
	if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		return etag
	}
	return resp.Header.Get("Last-Modified")
}

// get sends the request and sorts the answer: 2xx (and 416 to a resume) are
// returned, 4xx are permanent errors, anything else is worth a retry.
func (t *transfer) get(ctx context.Context, ranged bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return nil, permanent(err)
	}
	// Asked for explicitly, so the transport neither asks for gzip nor
	// decodes it behind the length check.
	req.Header.Set("Accept-Encoding", "identity")
	if ranged {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(t.written, 10)+"-")
		req.Header.Set("If-Range", t.validator)
	}
	client := t.f.Client
	if client == nil {
		client = defaultClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, query and all
		}
		return nil, err
	}
	code := resp.StatusCode
	if code/100 == 2 || code == http.StatusRequestedRangeNotSatisfiable && ranged {
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
func (t *transfer) restartOrSkip(body io.Reader, gzipped bool) error {
	if t.rewind != nil {
		if err := t.restart(); err != nil {
			return permanent(err)
		}
		return nil
	}
	if gzipped {
		return permanent(errors.New("the server switched to a gzip-encoded body mid-stream"))
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

func (t *transfer) progress() {
	if t.f.Progress != nil && time.Since(t.lastTick) >= progressEvery {
		t.lastTick = time.Now()
		t.f.Progress(t.written, t.total)
	}
}

func (t *transfer) file(contentTypeHint string) File {
	return File{
		URL:         t.url,
		ContentType: firstNonEmpty(t.contentType, contentTypeHint),
		SHA256:      hex.EncodeToString(t.hash.Sum(nil)),
		Bytes:       t.written,
	}
}

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

// SameAsset reports whether two output URLs name the same asset: equal but
// for their query and fragment (asset URLs may be re-signed between answers).
func SameAsset(a, b string) bool { return stripQuery(a) == stripQuery(b) }

// stripQuery drops a URL's query and fragment: asset URLs may be re-signed
// between answers while naming the same bytes.
func stripQuery(u string) string {
	u, _, _ = strings.Cut(u, "#")
	u, _, _ = strings.Cut(u, "?")
	return u
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Limits reads the user's download settings: maxBytes ("" for the default;
// a byte count with an optional k/M/G/T suffix, binary multiples, e.g.
// "512MiB" or "16G") and stall (a duration of at least 1s; "" for the
// default). Errors name the setting and fit on one line.
func Limits(maxBytes, stall string) (int64, time.Duration, error) {
	var n int64
	var d time.Duration
	if s := strings.TrimSpace(maxBytes); s != "" {
		num := strings.TrimRight(s, "kKmMgGtTiIbB ")
		v, err := strconv.ParseInt(num, 10, 64)
		shift := map[string]uint{"": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
			"g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40}
		sh, ok := shift[strings.ToLower(strings.TrimSpace(s[len(num):]))]
		if err != nil || !ok || v <= 0 || v > (1<<62)>>sh {
			return 0, 0, fmt.Errorf("download.max_bytes %q is not a size (e.g. 8GiB, 500MB, 1048576)", maxBytes)
		}
		n = v << sh
	}
	if s := strings.TrimSpace(stall); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < time.Second {
			return 0, 0, fmt.Errorf("download.stall_timeout %q must be a duration of at least 1s (e.g. 30s, 2m)", stall)
		}
		d = v
	}
	return n, d, nil
}
