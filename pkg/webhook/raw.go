package webhook

// Raw deliveries: the receiver's front door (secret path, POST only, JSON
// only, bounded body, server timeouts) for code that needs each delivery as
// it arrived, headers and body byte for byte: hf listen relays them to an
// app, and the audit trail keeps the verified ones beside the journal.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// RawDelivery is one request that passed the front door's checks. Header and
// Body are exactly what arrived; nothing in them is verified yet.
type RawDelivery struct {
	Header     http.Header
	Body       []byte
	ReceivedAt time.Time
}

// SignedHeaders are the headers a relay passes on unchanged so that the app
// verifies the Standard Webhooks signature exactly as in production.
var SignedHeaders = []string{"Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature"}

// PathHandler is an http.Handler that answers on one secret path.
type PathHandler interface {
	http.Handler
	// Path is the secret path, "/hf/" and 128 random bits in hex.
	Path() string
}

// RawOptions configure a RawReceiver.
type RawOptions struct {
	// MaxBody bounds a delivery's body (default 1 MiB).
	MaxBody int64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnRefused, when set, hears of each POST to the secret path that the
	// front door answered itself (415, 413, 400): what the sender meant as a
	// delivery but never reached handle. reason is one safe line.
	OnRefused func(code int, reason string)
}

// RawReceiver applies the Receiver's checks, then hands each delivery, raw,
// to a function that answers it.
type RawReceiver struct {
	path    string
	maxBody int64
	now     func() time.Time
	handle  func(context.Context, http.ResponseWriter, *RawDelivery)
	refused func(code int, reason string)
}

// NewRawReceiver returns a receiver on a fresh random path that calls handle
// for every request on it that is a POST of JSON within the size bound.
// Everything else is answered here (404, 405, 415, 413, 400) and never
// reaches handle. handle's context is the request's: it ends when the
// sender hangs up or the server closes the connection (Server.Close after
// its grace), so that work done for the delivery stops with it.
func NewRawReceiver(o RawOptions, handle func(context.Context, http.ResponseWriter, *RawDelivery)) *RawReceiver {
	r := &RawReceiver{path: newPath(), maxBody: o.MaxBody, now: o.Now, handle: handle, refused: o.OnRefused}
	if r.maxBody <= 0 {
		r.maxBody = 1 << 20
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

func newPath() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails; it crashes the program instead
	return "/hf/" + hex.EncodeToString(b)
}

// Path implements PathHandler.
func (r *RawReceiver) Path() string { return r.path }

// ServeHTTP implements http.Handler.
func (r *RawReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != r.path {
		// As the Receiver: whoever probes paths gets no slot to sit on.
		w.Header().Set("Connection", "close")
		reply(w, http.StatusNotFound)
		return
	}
	if code := checkPost(req); code != 0 {
		if code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
			w.Header().Set("Connection", "close")
		} else {
			ct := req.Header.Get("Content-Type")
			if len(ct) > 60 {
				ct = ct[:60]
			}
			r.refuse(code, "Content-Type "+strconv.Quote(ct)+" is not application/json")
		}
		reply(w, code)
		return
	}
	body, err := readBody(w, req, r.maxBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			r.refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the %d-byte limit", r.maxBody))
			reply(w, http.StatusRequestEntityTooLarge)
		} else {
			r.refuse(http.StatusBadRequest, "reading the body: "+strconv.Quote(shortErr(err)))
			reply(w, http.StatusBadRequest)
		}
		return
	}
	r.handle(req.Context(), w, &RawDelivery{Header: req.Header.Clone(), Body: body, ReceivedAt: r.now()})
}

func (r *RawReceiver) refuse(code int, reason string) {
	if r.refused != nil {
		r.refused(code, reason)
	}
}

// Record wraps r so that keep sees every delivery r accepted as verified
// (signed mode only: r has a secret), raw, after r answered it. Redeliveries
// that r deduplicates are kept again: they carry the same webhook-id. keep
// runs in the background, so that a slow disk never delays the answer;
// Wait waits for the calls still running (call it after the server closed).
func Record(r *Receiver, keep func(RawDelivery)) *Recorder {
	return &Recorder{r: r, keep: keep}
}

// Recorder is the handler Record returns.
type Recorder struct {
	r       *Receiver
	keep    func(RawDelivery)
	pending sync.WaitGroup
}

// Path implements PathHandler.
func (rc *Recorder) Path() string { return rc.r.Path() }

// Wait returns once every keep call started so far has returned.
func (rc *Recorder) Wait() { rc.pending.Wait() }

// ServeHTTP implements http.Handler.
func (rc *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if rc.r.key == nil || req.URL.Path != rc.r.path || req.Body == nil {
		rc.r.ServeHTTP(w, req)
		return
	}
	// The receiver reads the body through its size bound; the tee keeps a
	// copy of exactly what it read.
	var body bytes.Buffer
	req.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(req.Body, &body), req.Body}
	cw := &codeWriter{ResponseWriter: w}
	rc.r.ServeHTTP(cw, req)
	if cw.code >= 200 && cw.code < 300 {
		d := RawDelivery{Header: req.Header.Clone(), Body: body.Bytes(), ReceivedAt: rc.r.now()}
		rc.pending.Go(func() { rc.keep(d) })
	}
}

// codeWriter remembers the status code written through it.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeOptions tune ServeHandler.
type ServeOptions struct {
	// WriteTimeout bounds the time from reading a request's headers to the
	// end of its answer; a handler that waits on others (a relay) needs more
	// than the default 10 s.
	WriteTimeout time.Duration
}

// ServeHandler is Serve for any handler behind a secret path, with the same
// limits, except the write timeout: o.WriteTimeout when set (default 10 s).
func ServeHandler(ep Listener, h PathHandler, o ServeOptions) *Server {
	l := defaultLimits
	if o.WriteTimeout > 0 {
		l.write = o.WriteTimeout
	}
	return serve(ep, h, l)
}

// Encode writes d as an HTTP/1.1 request message: "POST / HTTP/1.1", the
// headers in canonical form and sorted, Content-Length, a blank line, then
// the body byte for byte. It is the file format of saved deliveries; the
// secret path is not in it.
func (d *RawDelivery) Encode(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("POST / HTTP/1.1\r\n")
	h := d.Header.Clone()
	for _, k := range []string{"Content-Length", "Transfer-Encoding", "Connection", "Host"} {
		h.Del(k)
	}
	if !d.ReceivedAt.IsZero() {
		h.Set("X-Hf-Received-At", d.ReceivedAt.UTC().Format(time.RFC3339Nano))
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			// Header values never hold CR or LF (net/http refuses them), but a
			// delivery built in code could.
			v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(d.Body))
	b.Write(d.Body)
	_, err := w.Write(b.Bytes())
	return err
}

// MaxRawHead bounds the request line and headers of a saved delivery that
// DecodeRaw reads (the endpoint accepts 16 KiB of headers).
const MaxRawHead = 64 << 10

// shortErr is err's message cut to a length fit for one line: http's parse
// errors quote the offending line, which can be megabytes of junk.
func shortErr(err error) string {
	const max = 120
	s := err.Error()
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// DecodeRaw reads a delivery written by Encode (or any HTTP/1.x request
// message with a Content-Length) of at most maxBody body bytes.
//
// It reads at most MaxRawHead bytes of request line and headers plus
// maxBody bytes of body, whatever r holds, and its errors quote at most a
// few dozen bytes of it: the file may be anything.
func DecodeRaw(r io.Reader, maxBody int64) (*RawDelivery, error) {
	req, err := http.ReadRequest(bufio.NewReader(io.LimitReader(r, MaxRawHead+maxBody+1)))
	if err != nil {
		return nil, fmt.Errorf("not a saved delivery (an HTTP request message): %s", shortErr(err))
	}
	defer req.Body.Close()
	if req.ContentLength > maxBody {
		return nil, fmt.Errorf("saved delivery body of %d bytes is over the %d-byte limit", req.ContentLength, maxBody)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("saved delivery: reading the body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, fmt.Errorf("saved delivery body is over the %d-byte limit", maxBody)
	}
	d := &RawDelivery{Header: req.Header, Body: body}
	if at := req.Header.Get("X-Hf-Received-At"); at != "" {
		d.ReceivedAt, _ = time.Parse(time.RFC3339Nano, at)
		d.Header.Del("X-Hf-Received-At")
	}
	if cl := req.Header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n != int64(len(body)) {
			return nil, fmt.Errorf("saved delivery is truncated: %d of %d body bytes", len(body), n)
		}
	}
	return d, nil
}
