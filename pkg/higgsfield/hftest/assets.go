package hftest

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Knobs of the asset host: how outputs are made and served.

// AssetFault changes how the next output GETs are served. Several fields
// may be combined. The zero AssetFault serves normally.
type AssetFault struct {
	// Drip sends the body one byte every Drip.
	Drip time.Duration
	// Hang stops sending after HangAfter body bytes and holds the
	// connection open, silent, until the client leaves or the fake closes.
	Hang      bool
	HangAfter int64
	// Gzip sends the body gzip-encoded (Content-Encoding: gzip, the
	// encoded Content-Length) whatever the client asked for.
	Gzip bool
	// IgnoreIfRange serves a Range even when If-Range does not match, as
	// a host without If-Range support does.
	IgnoreIfRange bool
	// NoETag and NoLastModified leave those validators out.
	NoETag, NoLastModified bool
	// NoLength sends no Content-Length (the body goes chunked).
	NoLength bool
	// CutAfter ends the body after this many bytes: the connection is
	// closed mid-body (no last chunk with NoLength), or with CleanCut the
	// answer ends there properly (with NoLength, a short body that is
	// well-formed HTTP: only its content can tell).
	CutAfter int64
	CleanCut bool
	// Times is how many GETs the fault applies to; 0 means 1.
	Times int
}

// assetKnobs are the asset host's settings; guarded by Server.mu.
type assetKnobs struct {
	faults      []AssetFault
	outputs     int    // images per job when > 0 (beyond the usual 4)
	contentType string // Content-Type of outputs when set
	always      AssetFault
}

// InjectAsset queues an asset fault. Faults apply in the order injected.
func (s *Server) InjectAsset(f AssetFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assetKnobs.faults = append(s.assetKnobs.faults, f)
}

// SetAssetDefaults makes f (its Times ignored) the way every output GET is
// served when no injected fault applies: for instance a host that never
// sends an ETag.
func (s *Server) SetAssetDefaults(f AssetFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assetKnobs.always = f
}

// SetOutputs makes image jobs created afterwards have n outputs (0 restores
// the usual num_images, at most 4) served with contentType under URLs
// without an extension ("" keeps image/png and .png URLs; the bytes stay
// PNG either way).
func (s *Server) SetOutputs(n int, contentType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assetKnobs.outputs, s.assetKnobs.contentType = max(n, 0), contentType
}

// ChangeAsset replaces the bytes behind output i (0-based) of job id with
// new ones of the same kind, under the same URL: a new ETag, and a
// Last-Modified one hour later. The job's Asset record follows, so the
// fake's checksums are those of what it serves now.
func (s *Server) ChangeAsset(id string, i int) (Asset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil || i < 0 || i >= len(j.files) {
		return Asset{}, fmt.Errorf("hftest: job %s has no output %d", id, i)
	}
	f := &j.files[i]
	data := bytes.Clone(f.data)
	for k := range data[len(data)/2:] { // past any header: still the same kind of file
		data[len(data)/2+k] ^= 0x5a
	}
	f.data = data
	f.modTime = cmp.Or(f.modTime, j.info.CreatedAt).Add(time.Hour)
	a := &j.info.Assets[i]
	a.SHA256, a.Size = sha256Hex(data), int64(len(data))
	return *a, nil
}

// renderOutputs makes a new job's outputs, with the knobs applied. The
// caller does not hold s.mu.
func (s *Server) renderOutputs(id, model string, body map[string]any, w, h int) []file {
	s.mu.Lock()
	n, ct := s.assetKnobs.outputs, s.assetKnobs.contentType
	s.mu.Unlock()
	files := render(id, model, body, w, h)
	if n > 0 && !isVideo(model) {
		prompt, _ := body["prompt"].(string)
		files = make([]file, n)
		for i := range files {
			files[i] = file{name: fmt.Sprintf("%d.png", i), contentType: "image/png", data: makePNG(w, h, seed(id, i, prompt))}
		}
	}
	if ct != "" {
		// The URL names no extension then: only the type can give one.
		for i := range files {
			files[i].contentType, files[i].name = ct, strconv.Itoa(i)
		}
	}
	return files
}

// serveOutput answers a GET of j's output called name, with any asset
// fault applied; false when j has no such output.
func (s *Server) serveOutput(w http.ResponseWriter, r *http.Request, j *job, name string) bool {
	s.mu.Lock()
	i := -1
	for k, f := range j.files {
		if f.name == name {
			i = k
		}
	}
	if i < 0 {
		s.mu.Unlock()
		return false
	}
	f, sum := j.files[i], j.info.Assets[i].SHA256
	mod := cmp.Or(f.modTime, j.info.CreatedAt)
	af := s.assetKnobs.always
	if q := s.assetKnobs.faults; len(q) > 0 {
		af = q[0]
		if q[0].Times <= 1 {
			s.assetKnobs.faults = q[1:]
		} else {
			q[0].Times--
		}
	}
	s.mu.Unlock()

	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	if !af.NoETag {
		hdr.Set("ETag", `"`+sum+`"`)
	}
	if af.NoLastModified {
		mod = time.Time{} // ServeContent then sends none
	}
	if af.IgnoreIfRange {
		r.Header.Del("If-Range")
	}
	if af.Gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(f.data)
		_ = zw.Close()
		hdr.Set("Content-Encoding", "gzip")
		hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
		return true
	}
	if af.NoLength || af.CutAfter > 0 {
		w = &cutWriter{ResponseWriter: w, noLength: af.NoLength, left: af.CutAfter, cut: af.CutAfter > 0, clean: af.CleanCut}
	}
	if af.Drip > 0 || af.Hang {
		w = &slowWriter{ResponseWriter: w, s: s, r: r, drip: af.Drip, hang: af.Hang, left: af.HangAfter}
	}
	http.ServeContent(w, r, name, mod, bytes.NewReader(f.data))
	return true
}

// slowWriter sends the body one byte per drip, and with hang stops after
// left bytes until the client goes away or the fake closes.
type slowWriter struct {
	http.ResponseWriter
	s    *Server
	r    *http.Request
	drip time.Duration
	hang bool
	left int64
}

func (w *slowWriter) Write(p []byte) (int, error) {
	rc := http.NewResponseController(w.ResponseWriter)
	for i := range p {
		if w.hang && w.left <= 0 {
			_ = rc.Flush()
			select {
			case <-w.r.Context().Done():
			case <-w.s.ctx.Done():
			}
			return i, errTruncated
		}
		if _, err := w.ResponseWriter.Write(p[i : i+1]); err != nil {
			return i, err
		}
		w.left--
		if w.drip > 0 {
			_ = rc.Flush()
			select {
			case <-time.After(w.drip):
			case <-w.r.Context().Done():
				return i + 1, w.r.Context().Err()
			case <-w.s.ctx.Done():
				return i + 1, w.s.ctx.Err()
			}
		}
	}
	return len(p), nil
}

func (w *slowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cutWriter drops the Content-Length (noLength) and, with cut, ends the
// body after left bytes: cleanly, or by closing the connection.
type cutWriter struct {
	http.ResponseWriter
	noLength, cut, clean bool
	left                 int64
	wrote                bool
}

func (w *cutWriter) WriteHeader(code int) {
	w.wrote = true
	if w.noLength {
		w.Header().Del("Content-Length")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !w.cut || int64(len(p)) < w.left {
		w.left -= int64(len(p))
		return w.ResponseWriter.Write(p)
	}
	n, _ := w.ResponseWriter.Write(p[:w.left])
	w.left = 0
	if !w.clean {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
		drop(w.ResponseWriter)
	}
	return n, errTruncated
}

func (w *cutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
