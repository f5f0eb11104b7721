package hftest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// This file holds the fake's upload slots, DELETE of request data, estimate
// shapes, Hf-Expires-After and the model listing.

const (
	Delete Endpoint = "delete" // DELETE /requests/{id}
	Models Endpoint = "models" // GET /models
)

const maxUpload = 512 << 20 // bytes PUT to an upload URL

var uploadTypes = map[string]bool{
	"image/jpeg": true, "image/jpg": true, "image/png": true, "image/webp": true,
	"image/gif": true, "audio/wav": true, "audio/x-wav": true, "video/mp4": true,
}

// SlotHeader is the per-slot header every upload slot demands on its PUT,
// with a random value: a client that does not send every upload_headers
// entry cannot pass by hard-coding the documented ones.
const SlotHeader = "X-Amz-Meta-Hf-Slot"

// upload is one slot handed out by POST /files/generate-upload-url.
type upload struct {
	token, contentType string
	headers            map[string]string
	issued             time.Time
	data               []byte
	done               bool
	puts               int
	deleted            bool
}

// Slot is a snapshot of one upload slot: what was asked and what arrived.
type Slot struct {
	Token, ContentType string
	PublicURL          string
	Issued             time.Time
	// Puts counts PUT requests that reached the slot (refused ones included).
	Puts int
	// Done is true once a PUT was accepted; SHA256 and Size describe the
	// bytes the fake stored, computed on its side.
	Done   bool
	SHA256 string
	Size   int64
}

// EstimateShape selects the body of the estimate endpoint.
type EstimateShape int

const (
	// EstimateDocumented answers the documented {"credits":"1.500","usd":"0.094"}
	// (strings), scaled by num_images/batch_size.
	EstimateDocumented EstimateShape = iota
	// EstimateTyped answers the observed {"type":"estimate","credits":1.5,"usd":0.094}.
	EstimateTyped
	// EstimateUnpriced answers a model without a fixed price: null credits
	// and usd, and a pricing_description.
	EstimateUnpriced
)

// UnpricedDescription is the pricing_description of EstimateUnpriced.
const UnpricedDescription = "Priced per second of output video"

// extra is the state of this file's features; its fields are guarded by
// Server.mu.
type extra struct {
	urlTTL     time.Duration // lifetime of an upload URL; 0 means an hour
	putDelay   time.Duration // how long a PUT waits before reading the body
	leaks      int           // PUTs that carried API credentials
	estimate   EstimateShape
	retention  time.Duration // account retention, the Hf-Expires-After cap
	deleted    map[string]string
	models     []map[string]any
	modelsSet  bool
	uploadList []string // tokens, in issue order
}

// SetUploadURLExpiry sets how long upload URLs issued afterwards stay valid
// (default one hour, as documented); a PUT after that answers 403
// "Request has expired", as presigned storage does.
func (s *Server) SetUploadURLExpiry(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.urlTTL = d
}

// SetUploadDelay makes every PUT wait d before reading its body: a hung
// storage peer.
func (s *Server) SetUploadDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.putDelay = d
}

// SetEstimateShape selects the estimate endpoint's answer.
func (s *Server) SetEstimateShape(e EstimateShape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.estimate = e
}

// SetRetention sets the account retention, the upper bound of
// Hf-Expires-After (default 7 days).
func (s *Server) SetRetention(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.retention = d
}

// SetModels makes GET /models answer {"models": models}. Without it the
// listing answers 404, as an API without model discovery would.
func (s *Server) SetModels(models []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.models, s.x.modelsSet = models, true
}

// Slots returns every upload slot issued, in issue order.
func (s *Server) Slots() []Slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Slot, 0, len(s.x.uploadList))
	for _, tok := range s.x.uploadList {
		u := s.uploads[tok]
		up := Slot{Token: tok, ContentType: u.contentType, PublicURL: s.AssetURL + "/in/" + tok, Issued: u.issued, Puts: u.puts, Done: u.done}
		if u.done {
			up.SHA256, up.Size = sha256Hex(u.data), int64(len(u.data))
		}
		out = append(out, up)
	}
	return out
}

// Stored returns the sha256 of every upload the fake accepted, in issue
// order: the independent record of what reached storage.
func (s *Server) Stored() []string {
	var out []string
	for _, u := range s.Slots() {
		if u.Done {
			out = append(out, u.SHA256)
		}
	}
	return out
}

// CredentialLeaks counts PUTs to storage that carried an Authorization
// (or legacy hf-api-key/hf-secret) header. It must stay 0.
func (s *Server) CredentialLeaks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.x.leaks
}

// Deleted reports whether DELETE /requests/{id} succeeded for id.
func (s *Server) Deleted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.x.deleted[id]
	return ok
}

// extraRoutes registers this file's API routes.
func (s *Server) extraRoutes(mux *http.ServeMux) {
	mux.Handle("DELETE /requests/{id}", s.endpoint(Delete, true, s.deleteJob))
	mux.Handle("GET /models", s.endpoint(Models, true, s.listModels))
}

func (s *Server) uploadURL(w http.ResponseWriter, r *http.Request) {
	body, ok := readObject(w, r)
	if !ok {
		return
	}
	ct, _ := body["content_type"].(string)
	if !uploadTypes[ct] {
		writeJSON(w, http.StatusUnprocessableEntity, invalid([]any{"body", "content_type"}, "Unsupported content type: "+ct, "value_error"))
		return
	}
	token := uuid.NewString()
	headers := map[string]string{"Content-Type": ct, "x-amz-tagging": "retention=temporary", SlotHeader: randomHex(8)}
	s.mu.Lock()
	s.uploads[token] = &upload{token: token, contentType: ct, headers: headers, issued: time.Now()}
	s.x.uploadList = append(s.x.uploadList, token)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"public_url":     s.AssetURL + "/in/" + token,
		"upload_url":     s.AssetURL + "/upload/" + token + "?X-Amz-Signature=" + randomHex(16),
		"content_type":   ct,
		"upload_headers": headers,
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// storageError answers like S3: an XML error document.
func storageError(w http.ResponseWriter, code int, awsCode, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", awsCode, msg)
}

func (s *Server) putUpload(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	u := s.uploads[r.PathValue("token")]
	ttl, delay := s.x.urlTTL, s.x.putDelay
	leak := r.Header.Get("Authorization") != "" || r.Header.Get("hf-api-key") != "" || r.Header.Get("hf-secret") != ""
	if leak {
		s.x.leaks++
	}
	var headers map[string]string
	var issued time.Time
	if u != nil {
		u.puts++
		headers, issued = u.headers, u.issued
	}
	s.mu.Unlock()
	if ttl <= 0 {
		ttl = time.Hour
	}
	switch {
	case u == nil:
		storageError(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
		return
	case leak:
		storageError(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; API credentials must not be sent to storage.")
		return
	case now.After(issued.Add(ttl)):
		storageError(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	case r.ContentLength < 0:
		storageError(w, http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
		return
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got := r.Header.Get(k); got != headers[k] {
			storageError(w, http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("The request signature we calculated does not match the signature you provided (header %s: got %q).", k, got))
			return
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxUpload+1))
	switch {
	case err != nil:
		storageError(w, http.StatusBadRequest, "IncompleteBody", "reading body: "+err.Error())
		return
	case len(data) > maxUpload:
		storageError(w, http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
		return
	case int64(len(data)) != r.ContentLength:
		storageError(w, http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
		return
	}
	s.mu.Lock()
	u.data, u.done = data, true
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u := s.uploads[r.PathValue("token")]
	var data []byte
	var ct string
	if u != nil && u.done && !u.deleted {
		data, ct = u.data, u.contentType
	}
	s.mu.Unlock()
	if data == nil {
		writeJSON(w, http.StatusNotFound, detail("Not found"))
		return
	}
	w.Header().Set("Content-Type", ct)
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(data)))
}

func (s *Server) estimate(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("model") == "" {
		writeJSON(w, http.StatusNotFound, detail("Not found"))
		return
	}
	body, ok := readObject(w, r)
	if !ok {
		return
	}
	n := 1
	for _, k := range []string{"num_images", "batch_size"} {
		if v, ok := intField(body[k]); ok && v > 0 {
			n = v
		}
	}
	credits := 1.5 * float64(n)
	usd := credits * 0.0625
	s.mu.Lock()
	shape := s.x.estimate
	s.mu.Unlock()
	switch shape {
	case EstimateTyped:
		writeJSON(w, http.StatusOK, map[string]any{"type": "estimate", "credits": credits, "usd": usd})
	case EstimateUnpriced:
		writeJSON(w, http.StatusOK, map[string]any{"type": "estimate", "credits": nil, "usd": nil, "pricing_description": UnpricedDescription})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"credits": fmt.Sprintf("%.3f", credits), "usd": fmt.Sprintf("%.3f", usd)})
	}
}

// expiresAfterOK checks the Hf-Expires-After header of a submit (whole
// seconds, from an hour to the account retention) and answers 422 when it
// is wrong.
func (s *Server) expiresAfterOK(w http.ResponseWriter, r *http.Request) bool {
	v, ok := r.Header[http.CanonicalHeaderKey("Hf-Expires-After")]
	if !ok {
		return true
	}
	s.mu.Lock()
	ret := s.x.retention
	s.mu.Unlock()
	if ret <= 0 {
		ret = retention
	}
	maxSecs := int64(ret / time.Second)
	secs, err := strconv.ParseInt(strings.TrimSpace(strings.Join(v, ",")), 10, 64)
	if err == nil && secs >= 3600 && secs <= maxSecs {
		return true
	}
	msg := fmt.Sprintf("Hf-Expires-After must be an integer number of seconds between 3600 and the account retention (%d)", maxSecs)
	writeJSON(w, http.StatusUnprocessableEntity, invalid([]any{"header", "hf-expires-after"}, msg, "value_error"))
	return false
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := time.Now()
	s.mu.Lock()
	j := s.jobs[id]
	var st string
	if j != nil {
		st = j.status(now)
	}
	at, already := s.x.deleted[id]
	if j != nil && !already && st != statusQueued && st != statusInProgress {
		if s.x.deleted == nil {
			s.x.deleted = map[string]string{}
		}
		at = now.UTC().Format(time.RFC3339)
		s.x.deleted[id] = at
		already = true
		// The inputs go too: uploads this job's body pointed at.
		for _, tok := range inputTokens(s.AssetURL, j.info.Body) {
			if u := s.uploads[tok]; u != nil {
				u.deleted = true
			}
		}
	}
	s.mu.Unlock()
	switch {
	case j == nil:
		writeJSON(w, http.StatusNotFound, detail("Not found"))
	case !already:
		writeJSON(w, http.StatusBadRequest, detail("The request has not finished yet and its data cannot be deleted."))
	default:
		writeJSON(w, http.StatusOK, map[string]any{"request_id": id, "deleted": true, "deleted_at": at})
	}
}

// inputTokens finds the upload tokens of public URLs in a body.
func inputTokens(assetURL string, v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		if tok, ok := strings.CutPrefix(x, assetURL+"/in/"); ok {
			out = append(out, tok)
		}
	case []any:
		for _, e := range x {
			out = append(out, inputTokens(assetURL, e)...)
		}
	case map[string]any:
		for _, e := range x {
			out = append(out, inputTokens(assetURL, e)...)
		}
	}
	return out
}

// unlessDeleted answers 404 for the outputs of a deleted request.
func (s *Server) unlessDeleted(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		_, gone := s.x.deleted[r.PathValue("id")]
		s.mu.Unlock()
		if gone {
			writeJSON(w, http.StatusNotFound, detail("Not found"))
			return
		}
		h(w, r)
	}
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	models, ok := slices.Clone(s.x.models), s.x.modelsSet
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, detail("Not Found"))
		return
	}
	if models == nil {
		models = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": models})
}

// Sample returns a small file of contentType (image/png, image/jpeg,
// image/gif, image/webp, audio/wav or video/mp4), different for each seed,
// whose type content sniffing recognises; nil for other types. Tests use it
// as the local files hf uploads.
func Sample(contentType string, seed uint64) []byte {
	r := rng(seed)
	switch contentType {
	case "image/png":
		return makePNG(16, 16, seed)
	case "image/jpeg", "image/gif":
		img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
		for i := range img.Pix {
			img.Pix[i] = byte(r.next())
		}
		var buf bytes.Buffer
		var err error
		if contentType == "image/jpeg" {
			err = jpeg.Encode(&buf, img, nil)
		} else {
			err = gif.Encode(&buf, img, nil)
		}
		if err != nil {
			panic(fmt.Sprintf("hftest: encoding %s: %v", contentType, err))
		}
		return buf.Bytes()
	case "image/webp":
		body := append([]byte("WEBPVP8 "), make([]byte, 36)...)
		binary.LittleEndian.PutUint64(body[12:], r.next())
		out := binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body)))
		return append(out, body...)
	case "audio/wav":
		pcm := make([]byte, 4096)
		for i := 0; i < len(pcm); i += 8 {
			binary.LittleEndian.PutUint64(pcm[i:], r.next())
		}
		fmtChunk := []byte{1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0} // PCM, mono, 8 kHz, 16 bit
		le := binary.LittleEndian
		out := le.AppendUint32([]byte("RIFF"), uint32(4+8+len(fmtChunk)+8+len(pcm)))
		out = append(out, "WAVEfmt "...)
		out = le.AppendUint32(out, uint32(len(fmtChunk)))
		out = append(out, fmtChunk...)
		out = append(out, "data"...)
		out = le.AppendUint32(out, uint32(len(pcm)))
		return append(out, pcm...)
	case "video/mp4":
		return makeMP4(seed)
	}
	return nil
}
