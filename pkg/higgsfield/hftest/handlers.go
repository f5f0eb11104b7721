package hftest

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	statusQueued     = "queued"
	statusInProgress = "in_progress"
	statusCompleted  = "completed"
	statusFailed     = "failed"
	statusNSFW       = "nsfw"
	statusCanceled   = "canceled"

	maxBody   = 10 << 20 // JSON request bodies
	retention = 7 * 24 * time.Hour
)

// job is one generation. info holds everything but Status and TerminalAt,
// which snapshot derives from the clock.
type job struct {
	info            Job
	queued, running time.Duration
	canceledAt      time.Time
	fingerprint     string // model and canonical body, for Idempotency-Key
	files           []file // parallel to info.Assets
	video           bool
	whFault         WebhookFault
}

type file struct {
	name, contentType string
	data              []byte
	modTime           time.Time // zero: the job's creation time
}

func (j *job) terminalAt() time.Time {
	if j.info.Canceled {
		return j.canceledAt
	}
	return j.info.CreatedAt.Add(j.queued + j.running)
}

func (j *job) status(now time.Time) string {
	elapsed := now.Sub(j.info.CreatedAt)
	switch {
	case j.info.Canceled:
		return statusCanceled
	case elapsed < j.queued:
		return statusQueued
	case elapsed < j.queued+j.running:
		return statusInProgress
	}
	return j.info.Outcome.Status
}

func (j *job) snapshot(now time.Time) Job {
	out := j.info
	out.Status = j.status(now)
	if out.Status != statusQueued && out.Status != statusInProgress {
		out.TerminalAt = j.terminalAt()
	}
	out.Assets = slices.Clone(j.info.Assets)
	out.Body = maps.Clone(j.info.Body)
	return out
}

// statusBody is the status endpoint's answer (and the webhook payload) for j
// at time now. The caller holds s.mu.
func (s *Server) statusBody(j *job, now time.Time) map[string]any {
	id := j.info.ID
	st := j.status(now)
	b := map[string]any{
		"status":     st,
		"request_id": id,
		"status_url": s.URL + "/requests/" + id + "/status",
		"cancel_url": s.URL + "/requests/" + id + "/cancel",
	}
	switch st {
	case statusCompleted:
		b["expires_at"] = j.terminalAt().Add(retention).UTC().Format(time.RFC3339)
		if j.video {
			b["video"] = map[string]any{"url": j.info.Assets[0].URL}
			break
		}
		images := make([]any, len(j.info.Assets))
		for i, a := range j.info.Assets {
			images[i] = map[string]any{"url": a.URL}
		}
		b["images"] = images
	case statusFailed:
		b["error"] = cmp.Or(j.info.Outcome.Error, "Generation failed")
	}
	return b
}

func (s *Server) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /{model...}", s.endpoint(Submit, true, s.submit))
	mux.Handle("GET /requests/{id}/status", s.endpoint(StatusEP, true, s.getStatus))
	mux.Handle("POST /requests/{id}/cancel", s.endpoint(Cancel, true, s.cancelJob))
	mux.Handle("POST /files/generate-upload-url", s.endpoint(Upload, true, s.uploadURL))
	mux.Handle("POST /estimate/{model...}", s.endpoint(Estimate, true, s.estimate))
	s.extraRoutes(mux)
	return mux
}

func (s *Server) assetHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /a/{id}/{file}", s.endpoint(AssetEP, false, s.unlessDeleted(s.serveAsset)))
	mux.Handle("GET /in/{token}", s.endpoint(AssetEP, false, s.serveUpload))
	mux.Handle("PUT /upload/{token}", s.endpoint(UploadPut, false, s.putUpload))
	return mux
}

// endpoint wraps h with hit recording, the credential check (api only) and
// fault injection.
func (s *Server) endpoint(ep Endpoint, api bool, h http.HandlerFunc) http.Handler {
	handle := func(w http.ResponseWriter, r *http.Request) {
		if api && s.creds != "" && r.Header.Get("Authorization") != s.creds {
			writeJSON(w, http.StatusUnauthorized, detail("Invalid credentials"))
			return
		}
		h(w, r)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, f := s.arrive(ep, r)
		hw := &hitWriter{ResponseWriter: w, s: s, i: i}
		switch {
		case f == nil:
			handle(hw, r)
			if !hw.wrote {
				hw.WriteHeader(http.StatusOK)
			}
		case f.Hang:
			s.hang(r)
		case f.Delay > 0:
			s.delayed(hw, r, f.Delay, handle)
		case f.Overlong > 0:
			s.overlong(hw, r, f.Overlong, handle)
		case f.Truncate > 0:
			handle(&truncWriter{ResponseWriter: hw, left: f.Truncate}, r)
			_ = http.NewResponseController(hw).Flush()
			drop(hw)
		case f.After:
			handle(&discardWriter{h: http.Header{}}, r)
			answerFault(hw, f)
		default:
			answerFault(hw, f)
		}
	})
}

// arrive records a hit and takes the endpoint's next fault, if any.
func (s *Server) arrive(ep Endpoint, r *http.Request) (int, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits = append(s.hits, Hit{
		Endpoint: ep, Method: r.Method, Path: r.URL.Path,
		Authorization:  r.Header.Get("Authorization"),
		UserAgent:      r.UserAgent(),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Range:          r.Header.Get("Range"),
		IfRange:        r.Header.Get("If-Range"),
		AcceptEncoding: r.Header.Get("Accept-Encoding"),
		Header:         r.Header.Clone(),
	})
	q := s.faults[ep]
	if len(q) == 0 {
		return len(s.hits) - 1, nil
	}
	f := q[0]
	if q[0].Times <= 1 {
		s.faults[ep] = q[1:]
	} else {
		q[0].Times--
	}
	return len(s.hits) - 1, &f
}

func answerFault(w http.ResponseWriter, f *Fault) {
	if f.Drop {
		drop(w)
		return
	}
	code := cmp.Or(f.Status, http.StatusInternalServerError)
	body := []byte(f.Body)
	if f.Body == "" {
		m := detail(http.StatusText(code))
		if code == http.StatusTooManyRequests {
			m["code"] = "account_queue_full"
		}
		body, _ = json.Marshal(m)
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Location != "" {
		w.Header().Set("Location", f.Location)
	}
	ct := "text/plain; charset=utf-8"
	if json.Valid(body) {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// drop closes the connection under w without (any more of) a response.
func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// hitWriter records the status it answers in the hit it belongs to.
type hitWriter struct {
	http.ResponseWriter
	s     *Server
	i     int
	wrote bool
}

func (w *hitWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		w.s.mu.Lock()
		w.s.hits[w.i].Status = code
		w.s.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hitWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *hitWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var errTruncated = errors.New("hftest: body truncated by fault")

// truncWriter passes on the first left bytes of the body and refuses the rest.
type truncWriter struct {
	http.ResponseWriter
	left int64
}

func (w *truncWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.left {
		n, err := w.ResponseWriter.Write(p)
		w.left -= int64(n)
		return n, err
	}
	n, _ := w.ResponseWriter.Write(p[:w.left])
	w.left = 0
	return n, errTruncated
}

func (w *truncWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discardWriter swallows the real answer of a request whose fault has After.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	if model == "" {
		writeJSON(w, http.StatusNotFound, detail("Not found"))
		return
	}
	body, ok := readObject(w, r)
	if !ok {
		return
	}
	if p, _ := body["prompt"].(string); strings.TrimSpace(p) == "" {
		writeJSON(w, http.StatusUnprocessableEntity, invalid([]any{"body", "prompt"}, "field required", "missing"))
		return
	}
	if !s.expiresAfterOK(w, r) {
		return
	}
	hook := r.URL.Query().Get("hf_webhook")
	if u, err := url.Parse(hook); hook != "" && (err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https")) {
		writeJSON(w, http.StatusUnprocessableEntity, invalid([]any{"query", "hf_webhook"}, "Input should be a valid URL", "url_parsing"))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	canon, _ := json.Marshal(body) // map keys come out sorted
	fingerprint := model + " " + r.Header.Get("Hf-Expires-After") + " " + string(canon)

	// Decide the outcome and render the outputs without the lock held.
	s.mu.Lock()
	o, outcomeFn, iw, ih := s.outcome, s.outcomeFn, s.imgW, s.imgH
	s.mu.Unlock()
	if outcomeFn != nil {
		o = outcomeFn(model, body)
	}
	o.Status = cmp.Or(o.Status, statusCompleted)
	id := uuid.NewString()
	j := &job{
		info:        Job{ID: id, Model: model, Webhook: hook, IdempotencyKey: key, Body: body, Outcome: o},
		fingerprint: fingerprint,
		video:       isVideo(model),
	}
	if o.Status == statusCompleted {
		j.files = s.renderOutputs(id, model, body, iw, ih)
		for _, f := range j.files {
			j.info.Assets = append(j.info.Assets, Asset{
				URL: s.AssetURL + "/a/" + id + "/" + f.name, ContentType: f.contentType,
				SHA256: sha256Hex(f.data), Size: int64(len(f.data)),
			})
		}
	}

	s.mu.Lock()
	if prev := s.idem[key]; key != "" && prev != nil {
		same, replay := prev.fingerprint == fingerprint, s.statusBody(prev, time.Now())
		s.mu.Unlock()
		if !same {
			writeJSON(w, http.StatusUnprocessableEntity, detail("Idempotency-Key reused with different parameters"))
			return
		}
		writeJSON(w, http.StatusOK, replay)
		return
	}
	s.create(j)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"status": statusQueued, "request_id": id,
		"status_url": s.URL + "/requests/" + id + "/status",
		"cancel_url": s.URL + "/requests/" + id + "/cancel",
	})
}

// create registers j as created now and, when it has a webhook, arms the
// timer of its terminal moment. The caller holds s.mu.
func (s *Server) create(j *job) {
	id := j.info.ID
	j.info.CreatedAt = time.Now()
	j.queued, j.running = s.queued, s.running
	s.jobs[id] = j
	s.order = append(s.order, id)
	if j.info.IdempotencyKey != "" {
		s.idem[j.info.IdempotencyKey] = j
	}
	if j.info.Webhook == "" || s.closed {
		return
	}
	if len(s.whFaults) > 0 {
		j.whFault = s.whFaults[0]
		if s.whFaults[0].Times <= 1 {
			s.whFaults = s.whFaults[1:]
		} else {
			s.whFaults[0].Times--
		}
	}
	s.timers[id] = time.AfterFunc(j.queued+j.running, func() { s.terminal(id) })
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.jobs[r.PathValue("id")]
	var body map[string]any
	if j != nil {
		body = s.statusBody(j, time.Now())
	}
	s.mu.Unlock()
	if j == nil {
		writeJSON(w, http.StatusNotFound, detail("Not found"))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	code := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		j := s.jobs[id]
		now := time.Now()
		switch {
		case j == nil:
			return http.StatusNotFound
		case j.status(now) != statusQueued:
			return http.StatusBadRequest
		}
		j.info.Canceled, j.canceledAt = true, now
		if t := s.timers[id]; t != nil {
			t.Stop()
			delete(s.timers, id)
		}
		return http.StatusAccepted
	}()
	switch code {
	case http.StatusNotFound:
		writeJSON(w, code, detail("Not found"))
	case http.StatusBadRequest:
		writeJSON(w, code, detail("The request has already started and can no longer be canceled."))
	default:
		w.WriteHeader(code)
	}
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	s.mu.Lock()
	j := s.jobs[r.PathValue("id")]
	s.mu.Unlock()
	if j != nil && s.serveOutput(w, r, j, name) { // see assets.go
		return
	}
	writeJSON(w, http.StatusNotFound, detail("Not found"))
}

// readObject decodes a JSON object body, answering 422 when it is not one.
func readObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	var v any
	if err == nil {
		err = json.Unmarshal(data, &v)
	}
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, invalid([]any{"body"}, "JSON decode error", "json_invalid"))
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		writeJSON(w, http.StatusUnprocessableEntity, invalid([]any{"body"}, "Input should be a valid dictionary", "dict_type"))
	}
	return m, ok
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func detail(msg string) map[string]any { return map[string]any{"detail": msg} }

// invalid is a FastAPI-style validation error body.
func invalid(loc []any, msg, typ string) map[string]any {
	return map[string]any{"detail": []any{map[string]any{"loc": loc, "msg": msg, "type": typ}}}
}
