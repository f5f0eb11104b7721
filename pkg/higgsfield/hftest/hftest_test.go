package hftest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var hc = &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}

func newServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

type reply struct {
	code   int
	header http.Header
	body   []byte
}

// do sends one request; hdr is pairs of header name and value.
func do(t *testing.T, method, u, body string, hdr ...string) reply {
	t.Helper()
	r, err := tryDo(method, u, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return r
}

func tryDo(method, u, body string, hdr ...string) (reply, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}, err
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return m
}

func submit(t *testing.T, s *Server, model, body string, hdr ...string) map[string]any {
	t.Helper()
	r := do(t, "POST", s.URL+"/"+model, body, hdr...)
	if r.code != 200 {
		t.Fatalf("submit: %d %s", r.code, r.body)
	}
	return decode(t, r.body)
}

func status(t *testing.T, s *Server, id string) map[string]any {
	t.Helper()
	r := do(t, "GET", s.URL+"/requests/"+id+"/status", "")
	if r.code != 200 {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	return decode(t, r.body)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestProgression(t *testing.T) {
	s := newServer(t, WithTiming(100*time.Millisecond, 100*time.Millisecond))
	sub := submit(t, s, "higgsfield-ai/soul/standard", `{"prompt":"a cat"}`)
	id := sub["request_id"].(string)
	if sub["status"] != "queued" || sub["status_url"] != s.URL+"/requests/"+id+"/status" || sub["cancel_url"] != s.URL+"/requests/"+id+"/cancel" {
		t.Fatalf("submit body: %v", sub)
	}
	var seen []string
	eventually(t, "completed", func() bool {
		st := status(t, s, id)["status"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		return st == "completed"
	})
	if want := []string{"queued", "in_progress", "completed"}; !slices.Equal(seen, want) {
		t.Fatalf("statuses %v, want %v", seen, want)
	}
	if j, _ := s.Job(id); j.Model != "higgsfield-ai/soul/standard" || j.TerminalAt.IsZero() || j.Body["prompt"] != "a cat" {
		t.Fatalf("job: %+v", j)
	}
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		name, model, body string
		w, h              int
		wantType          string
		wantN             int
	}{
		{"one image", "higgsfield-ai/soul/standard", `{"prompt":"p"}`, 0, 0, "image/png", 1},
		{"num_images", "nano-banana", `{"prompt":"p","num_images":3}`, 40, 30, "image/png", 3},
		{"batch_size clamped", "higgsfield-ai/soul/cinema", `{"prompt":"p","batch_size":"9"}`, 16, 16, "image/png", 4},
		{"kling video", "kling-video/v2.1/pro/image-to-video", `{"prompt":"p"}`, 0, 0, "video/mp4", 1},
		{"dop video", "higgsfield-ai/dop/lite", `{"prompt":"p"}`, 0, 0, "video/mp4", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, WithTiming(0, 0))
			if tt.w > 0 {
				s.SetImageSize(tt.w, tt.h)
			}
			id := submit(t, s, tt.model, tt.body)["request_id"].(string)
			st := status(t, s, id)
			if st["status"] != "completed" {
				t.Fatalf("status %v", st)
			}
			if _, err := time.Parse(time.RFC3339, st["expires_at"].(string)); err != nil {
				t.Fatalf("expires_at: %v", err)
			}
			var urls []string
			if v, ok := st["video"].(map[string]any); ok {
				urls = append(urls, v["url"].(string))
			}
			images, _ := st["images"].([]any)
			for _, img := range images {
				urls = append(urls, img.(map[string]any)["url"].(string))
			}
			job, _ := s.Job(id)
			if len(urls) != tt.wantN || len(job.Assets) != tt.wantN {
				t.Fatalf("got %d outputs, %d assets, want %d", len(urls), len(job.Assets), tt.wantN)
			}
			for i, u := range urls {
				if !strings.HasPrefix(u, s.AssetURL+"/a/"+id+"/") || job.Assets[i].URL != u {
					t.Fatalf("url %q, asset %+v", u, job.Assets[i])
				}
				r := do(t, "GET", u, "")
				if r.code != 200 || r.header.Get("Content-Type") != tt.wantType {
					t.Fatalf("GET %s: %d %s", u, r.code, r.header.Get("Content-Type"))
				}
				if sum := sha256.Sum256(r.body); hex.EncodeToString(sum[:]) != job.Assets[i].SHA256 || int64(len(r.body)) != job.Assets[i].Size {
					t.Fatalf("asset %d does not match its recorded hash/size", i)
				}
				if tt.wantType == "video/mp4" {
					if string(r.body[4:8]) != "ftyp" || !bytes.Contains(r.body[:64], []byte("mdat")) {
						t.Fatalf("not an ISO-BMFF file: % x", r.body[:16])
					}
					continue
				}
				img, format, err := image.Decode(bytes.NewReader(r.body))
				if err != nil || format != "png" {
					t.Fatalf("decoding image: %v (%s)", err, format)
				}
				w, h := 256, 256 // the default size
				if tt.w > 0 {
					w, h = tt.w, tt.h
				}
				if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
					t.Fatalf("image is %v, want %dx%d", img.Bounds(), w, h)
				}
			}
		})
	}
}

func TestLargeImagesDoNotCompress(t *testing.T) {
	data := makePNG(640, 640, 1)
	if len(data) < 1<<20 {
		t.Fatalf("640x640 PNG is only %d bytes", len(data))
	}
	if !bytes.Equal(makePNG(32, 32, 7), makePNG(32, 32, 7)) || bytes.Equal(makePNG(32, 32, 7), makePNG(32, 32, 8)) {
		t.Fatal("PNG rendering does not depend on its seed alone")
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		set     func(*Server)
		status  string
		errText string
	}{
		{"failed with message", func(s *Server) { s.SetOutcome(Outcome{Status: "failed", Error: "boom"}) }, "failed", "boom"},
		{"failed default message", func(s *Server) { s.SetOutcome(Outcome{Status: "failed"}) }, "failed", "Generation failed"},
		{"nsfw", func(s *Server) { s.SetOutcome(Outcome{Status: "nsfw"}) }, "nsfw", ""},
		{"func by model", func(s *Server) {
			s.SetOutcomeFunc(func(model string, body map[string]any) Outcome {
				if model == "m" && body["prompt"] == "p" {
					return Outcome{Status: "nsfw"}
				}
				return Outcome{}
			})
		}, "nsfw", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, WithTiming(0, 0))
			tt.set(s)
			id := submit(t, s, "m", `{"prompt":"p"}`)["request_id"].(string)
			st := status(t, s, id)
			if st["status"] != tt.status || st["request_id"] != id || st["status_url"] == nil || st["cancel_url"] == nil {
				t.Fatalf("status body %v", st)
			}
			if e, _ := st["error"].(string); e != tt.errText {
				t.Fatalf("error %q, want %q", e, tt.errText)
			}
			if _, ok := st["images"]; ok {
				t.Fatal("outputs on a job that did not complete")
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	const model, body = "higgsfield-ai/soul/standard", `{"prompt":"p","seed":1}`
	t.Run("replay", func(t *testing.T) {
		s := newServer(t)
		a := submit(t, s, model, body, "Idempotency-Key", "k1")
		b := submit(t, s, model, `{"seed":1, "prompt":"p"}`, "Idempotency-Key", "k1")
		if a["request_id"] != b["request_id"] || s.Charged() != 1 {
			t.Fatalf("replay gave %v then %v, charged %d", a["request_id"], b["request_id"], s.Charged())
		}
		r := do(t, "POST", s.URL+"/"+model, `{"prompt":"q"}`, "Idempotency-Key", "k1")
		if r.code != 422 || decode(t, r.body)["detail"] != "Idempotency-Key reused with different parameters" {
			t.Fatalf("changed body: %d %s", r.code, r.body)
		}
		submit(t, s, model, body)
		if s.Charged() != 2 {
			t.Fatalf("a submit without key charged %d in all", s.Charged())
		}
	})
	t.Run("response lost", func(t *testing.T) {
		s := newServer(t)
		s.Inject(Fault{Endpoint: Submit, Status: 500, After: true})
		if r := do(t, "POST", s.URL+"/"+model, body, "Idempotency-Key", "k2"); r.code != 500 {
			t.Fatalf("first submit: %d", r.code)
		}
		if s.Charged() != 1 {
			t.Fatalf("charged %d after a lost response", s.Charged())
		}
		id := submit(t, s, model, body, "Idempotency-Key", "k2")["request_id"]
		if jobs := s.Jobs(); s.Charged() != 1 || jobs[0].ID != id || jobs[0].IdempotencyKey != "k2" {
			t.Fatalf("replay returned %v, jobs %+v", id, jobs)
		}
		hits := s.Hits()
		if len(hits) != 2 || hits[0].Status != 500 || hits[1].Status != 200 || hits[1].IdempotencyKey != "k2" {
			t.Fatalf("hits %+v", hits)
		}
	})
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name, path, body string
		wantLoc          string
	}{
		{"not json", "/m", `{"prompt":`, "body"},
		{"array body", "/m", `["prompt"]`, "body"},
		{"missing prompt", "/m", `{"seed":1}`, "body.prompt"},
		{"empty prompt", "/m", `{"prompt":"  "}`, "body.prompt"},
		{"bad webhook", "/m?hf_webhook=" + url.QueryEscape("ftp://x"), `{"prompt":"p"}`, "query.hf_webhook"},
		{"upload type", "/files/generate-upload-url", `{"content_type":"text/plain"}`, "body.content_type"},
		{"estimate body", "/estimate/m", `3`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			r := do(t, "POST", s.URL+tt.path, tt.body)
			if r.code != 422 {
				t.Fatalf("got %d %s", r.code, r.body)
			}
			var got struct {
				Detail []struct {
					Loc       []string
					Msg, Type string
				}
			}
			if err := json.Unmarshal(r.body, &got); err != nil || len(got.Detail) != 1 || got.Detail[0].Msg == "" || got.Detail[0].Type == "" {
				t.Fatalf("body %s: %v", r.body, err)
			}
			if loc := strings.Join(got.Detail[0].Loc, "."); loc != tt.wantLoc {
				t.Fatalf("loc %s, want %s", loc, tt.wantLoc)
			}
			if s.Charged() != 0 {
				t.Fatal("a rejected submit was charged")
			}
		})
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name            string
		queued, running time.Duration
		want            int
		wantStatus      string
	}{
		{"queued", time.Hour, 0, 202, "canceled"},
		{"running", 0, time.Hour, 400, "in_progress"},
		{"done", 0, 0, 400, "completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, WithTiming(tt.queued, tt.running))
			sub := submit(t, s, "m", `{"prompt":"p"}`)
			r := do(t, "POST", sub["cancel_url"].(string), "")
			if r.code != tt.want {
				t.Fatalf("cancel: %d %s", r.code, r.body)
			}
			if tt.want == 202 && len(r.body) != 0 {
				t.Fatalf("202 with body %q", r.body)
			}
			if tt.want == 400 && decode(t, r.body)["detail"] != "The request has already started and can no longer be canceled." {
				t.Fatalf("400 body %s", r.body)
			}
			id := sub["request_id"].(string)
			if st := status(t, s, id)["status"]; st != tt.wantStatus {
				t.Fatalf("status after cancel %v", st)
			}
			if j, _ := s.Job(id); j.Canceled != (tt.want == 202) {
				t.Fatalf("job %+v", j)
			}
		})
	}
	t.Run("twice", func(t *testing.T) {
		s := newServer(t, WithTiming(time.Hour, 0))
		u := submit(t, s, "m", `{"prompt":"p"}`)["cancel_url"].(string)
		if a, b := do(t, "POST", u, "").code, do(t, "POST", u, "").code; a != 202 || b != 400 {
			t.Fatalf("cancel twice: %d, %d", a, b)
		}
	})
}

func TestNotFound(t *testing.T) {
	s := newServer(t)
	const zero = "00000000-0000-0000-0000-000000000000"
	for _, r := range []reply{
		do(t, "GET", s.URL+"/requests/"+zero+"/status", ""),
		do(t, "POST", s.URL+"/requests/"+zero+"/cancel", ""),
		do(t, "GET", s.AssetURL+"/a/"+zero+"/0.png", ""),
	} {
		if r.code != 404 || decode(t, r.body)["detail"] != "Not found" {
			t.Fatalf("got %d %s", r.code, r.body)
		}
	}
}

func TestCredentials(t *testing.T) {
	s := newServer(t, WithCredentials("id", "secret"), WithTiming(0, 0))
	zero := s.URL + "/requests/00000000-0000-0000-0000-000000000000/status"
	tests := []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"wrong secret", "Key id:nope", 401},
		{"bearer", "Bearer id:secret", 401},
		{"right", "Key id:secret", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "GET", zero, "", "Authorization", tt.auth)
			if r.code != tt.want {
				t.Fatalf("got %d %s", r.code, r.body)
			}
			if tt.want == 401 && decode(t, r.body)["detail"] != "Invalid credentials" {
				t.Fatalf("401 body %s", r.body)
			}
		})
	}
	sub := decode(t, do(t, "POST", s.URL+"/m", `{"prompt":"p"}`, "Authorization", "Key id:secret").body)
	st := decode(t, do(t, "GET", sub["status_url"].(string), "", "Authorization", "Key id:secret").body)
	u := st["images"].([]any)[0].(map[string]any)["url"].(string)
	if r := do(t, "GET", u, ""); r.code != 200 {
		t.Fatalf("asset without credentials: %d", r.code)
	}
}

func TestAssetRange(t *testing.T) {
	s := newServer(t, WithTiming(0, 0))
	id := submit(t, s, "m", `{"prompt":"p"}`)["request_id"].(string)
	j, _ := s.Job(id)
	full := do(t, "GET", j.Assets[0].URL, "")
	r := do(t, "GET", j.Assets[0].URL, "", "Range", "bytes=10-99")
	if r.code != 206 || !bytes.Equal(r.body, full.body[10:100]) || r.header.Get("Content-Range") != "bytes 10-99/"+strconv.Itoa(len(full.body)) {
		t.Fatalf("range: %d %q, %d bytes", r.code, r.header.Get("Content-Range"), len(r.body))
	}
	if full.header.Get("Accept-Ranges") != "bytes" || full.header.Get("Content-Length") != strconv.Itoa(len(full.body)) {
		t.Fatalf("headers %v", full.header)
	}
	hits := s.Hits()
	last := hits[len(hits)-1]
	if last.Endpoint != AssetEP || last.Range != "bytes=10-99" || last.Status != 206 || last.Authorization != "" {
		t.Fatalf("hit %+v", last)
	}
}

func TestFaults(t *testing.T) {
	t.Run("truncate", func(t *testing.T) {
		s := newServer(t, WithTiming(0, 0))
		j, _ := s.Job(submit(t, s, "m", `{"prompt":"p"}`)["request_id"].(string))
		s.Inject(Fault{Endpoint: AssetEP, Truncate: 1000})
		resp, err := hc.Get(j.Assets[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 1000 || resp.ContentLength != j.Assets[0].Size {
			t.Fatalf("read %d bytes of %d, err %v", len(got), resp.ContentLength, err)
		}
		if r := do(t, "GET", j.Assets[0].URL, ""); r.code != 200 || int64(len(r.body)) != j.Assets[0].Size {
			t.Fatalf("after the fault: %d, %d bytes", r.code, len(r.body))
		}
	})
	t.Run("drop", func(t *testing.T) {
		s := newServer(t)
		s.Inject(Fault{Endpoint: Submit, Drop: true})
		if _, err := tryDo("POST", s.URL+"/m", `{"prompt":"p"}`); err == nil {
			t.Fatal("dropped request got an answer")
		}
		if s.Charged() != 0 || s.Hits()[0].Status != 0 {
			t.Fatalf("charged %d, hit %+v", s.Charged(), s.Hits()[0])
		}
		s.Inject(Fault{Endpoint: Submit, Drop: true, After: true})
		if _, err := tryDo("POST", s.URL+"/m", `{"prompt":"p"}`); err == nil {
			t.Fatal("dropped request got an answer")
		}
		if s.Charged() != 1 {
			t.Fatalf("drop after handling charged %d", s.Charged())
		}
	})
	t.Run("429 twice", func(t *testing.T) {
		s := newServer(t)
		s.Inject(Fault{Endpoint: Submit, Status: 429, RetryAfter: "2", Times: 2})
		for range 2 {
			r := do(t, "POST", s.URL+"/m", `{"prompt":"p"}`)
			if m := decode(t, r.body); r.code != 429 || r.header.Get("Retry-After") != "2" || m["code"] != "account_queue_full" || m["detail"] != "Too Many Requests" {
				t.Fatalf("got %d %v %s", r.code, r.header, r.body)
			}
		}
		submit(t, s, "m", `{"prompt":"p"}`)
		if s.Count(Submit) != 3 || s.Charged() != 1 {
			t.Fatalf("count %d charged %d", s.Count(Submit), s.Charged())
		}
	})
	t.Run("queue order and body", func(t *testing.T) {
		s := newServer(t)
		s.Inject(Fault{Endpoint: StatusEP, Status: 503})
		s.Inject(Fault{Endpoint: StatusEP, Status: 403, Body: "error code: 1010"})
		u := s.URL + "/requests/00000000-0000-0000-0000-000000000000/status"
		a, b, c := do(t, "GET", u, ""), do(t, "GET", u, ""), do(t, "GET", u, "")
		if a.code != 503 || decode(t, a.body)["detail"] != "Service Unavailable" || b.code != 403 || string(b.body) != "error code: 1010" || c.code != 404 {
			t.Fatalf("got %d %s, %d %s, %d", a.code, a.body, b.code, b.body, c.code)
		}
		if s.Count(Submit) != 0 || s.Count(StatusEP) != 3 {
			t.Fatal("fault leaked to another endpoint")
		}
	})
}

func TestUpload(t *testing.T) {
	s := newServer(t, WithCredentials("id", "secret"))
	r := do(t, "POST", s.URL+"/files/generate-upload-url", `{"content_type":"image/jpeg"}`, "Authorization", "Key id:secret")
	if r.code != 200 {
		t.Fatalf("upload url: %d %s", r.code, r.body)
	}
	var up struct {
		PublicURL     string            `json:"public_url"`
		UploadURL     string            `json:"upload_url"`
		ContentType   string            `json:"content_type"`
		UploadHeaders map[string]string `json:"upload_headers"`
	}
	if err := json.Unmarshal(r.body, &up); err != nil || up.ContentType != "image/jpeg" ||
		up.UploadHeaders["Content-Type"] != "image/jpeg" || up.UploadHeaders["x-amz-tagging"] != "retention=temporary" ||
		!strings.HasPrefix(up.UploadURL, s.AssetURL) || !strings.HasPrefix(up.PublicURL, s.AssetURL) {
		t.Fatalf("upload url body %s: %v", r.body, err)
	}
	if r := do(t, "PUT", up.UploadURL, "data", "Content-Type", "image/png"); r.code != 403 {
		t.Fatalf("mismatched type: %d", r.code)
	}
	if r := do(t, "GET", up.PublicURL, ""); r.code != 404 {
		t.Fatalf("public url before upload: %d", r.code)
	}
	if r := do(t, "PUT", up.UploadURL, "jpeg bytes", "Content-Type", "image/jpeg", "x-amz-tagging", "retention=temporary", SlotHeader, up.UploadHeaders[SlotHeader]); r.code != 200 {
		t.Fatalf("put: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", up.PublicURL, ""); r.code != 200 || string(r.body) != "jpeg bytes" || r.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("public url: %d %q", r.code, r.body)
	}
	if s.Count(UploadPut) != 2 || s.Count(Upload) != 1 {
		t.Fatalf("counts %d %d", s.Count(UploadPut), s.Count(Upload))
	}
	if r := do(t, "POST", s.URL+"/estimate/m", `{"prompt":"p"}`, "Authorization", "Key id:secret"); r.code != 200 || decode(t, r.body)["credits"] != "1.500" {
		t.Fatalf("estimate: %d %s", r.code, r.body)
	}
}

type delivery struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that answers the codes in fail first, then 200.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []delivery
	fail []int
}

func newReceiver(t *testing.T, fail ...int) *receiver {
	rc := &receiver{fail: fail}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.got = append(rc.got, delivery{time.Now(), r.Header.Clone(), b})
		if len(rc.fail) > 0 {
			w.WriteHeader(rc.fail[0])
			rc.fail = rc.fail[1:]
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// verify checks a delivery's Standard Webhooks signature independently of Sign.
func verify(t *testing.T, secret string, d delivery) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := strconv.ParseInt(d.header.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		t.Fatalf("webhook-timestamp %q", d.header.Get("webhook-timestamp"))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.header.Get("webhook-id") + "." + d.header.Get("webhook-timestamp") + "."))
	mac.Write(d.body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(d.header.Get("webhook-signature")) {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && hmac.Equal([]byte(v), []byte(want)) {
			return
		}
	}
	t.Fatalf("bad signature %q", d.header.Get("webhook-signature"))
}

func TestWebhooks(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a test secret of 24 bytes"))
	tests := []struct {
		name      string
		secret    string
		fault     *WebhookFault
		outcome   Outcome
		cancel    bool
		fail      []int // receiver answers
		want      int   // deliveries the receiver gets
		wantDelay time.Duration
	}{
		{name: "signed", secret: secret, want: 1},
		{name: "unsigned", want: 1},
		{name: "failed job", secret: secret, outcome: Outcome{Status: "failed", Error: "x"}, want: 1},
		{name: "nsfw job", outcome: Outcome{Status: "nsfw"}, want: 1},
		{name: "duplicate", secret: secret, fault: &WebhookFault{Duplicate: 2}, want: 3},
		{name: "drop", fault: &WebhookFault{Drop: true}, want: 0},
		{name: "delay", fault: &WebhookFault{Delay: 150 * time.Millisecond}, want: 1, wantDelay: 150 * time.Millisecond},
		{name: "retried after 500", secret: secret, fail: []int{500, 503}, want: 3},
		{name: "canceled job", cancel: true, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tt.fail...)
			queued := time.Duration(0)
			if tt.cancel {
				queued = 100 * time.Millisecond
			}
			s := newServer(t, WithWebhookSecret(tt.secret), WithTiming(queued, 20*time.Millisecond))
			s.SetOutcome(tt.outcome)
			if tt.fault != nil {
				s.InjectWebhook(*tt.fault)
			}
			sub := submit(t, s, "m?hf_webhook="+url.QueryEscape(rc.URL+"/hook"), `{"prompt":"p"}`)
			id := sub["request_id"].(string)
			if tt.cancel {
				do(t, "POST", sub["cancel_url"].(string), "")
			}
			if tt.want == 0 {
				time.Sleep(150 * time.Millisecond)
			}
			eventually(t, "deliveries", func() bool { return len(rc.deliveries()) >= tt.want })
			time.Sleep(20 * time.Millisecond) // let extra deliveries show up
			got := rc.deliveries()
			if len(got) != tt.want || s.Deliveries() != tt.want {
				t.Fatalf("receiver got %d, server attempted %d, want %d", len(got), s.Deliveries(), tt.want)
			}
			j, _ := s.Job(id)
			if j.Webhook != rc.URL+"/hook" {
				t.Fatalf("job webhook %q", j.Webhook)
			}
			for _, d := range got {
				if d.header.Get("webhook-id") != "msg_"+id || d.header.Get("User-Agent") != "hftest-webhook" || d.header.Get("Content-Type") != "application/json" {
					t.Fatalf("headers %v", d.header)
				}
				if tt.secret != "" {
					verify(t, tt.secret, d)
				} else if d.header.Get("webhook-signature") != "" {
					t.Fatal("signed without a secret")
				}
				if !bytes.Equal(d.body, got[0].body) {
					t.Fatal("copies differ")
				}
				if wantBody, _ := json.Marshal(status(t, s, id)); !bytes.Equal(d.body, wantBody) {
					t.Fatalf("webhook body %s, status body %s", d.body, wantBody)
				}
				if delay := d.at.Sub(j.TerminalAt); delay < tt.wantDelay {
					t.Fatalf("delivered %v after the terminal moment, want ≥ %v", delay, tt.wantDelay)
				}
			}
		})
	}
}

func TestWebhookFaultTimes(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, WithTiming(0, 0))
	s.InjectWebhook(WebhookFault{Drop: true, Times: 2})
	hook := "m?hf_webhook=" + url.QueryEscape(rc.URL)
	for range 3 {
		submit(t, s, hook, `{"prompt":"p"}`)
	}
	eventually(t, "one delivery", func() bool { return len(rc.deliveries()) == 1 })
	time.Sleep(50 * time.Millisecond)
	if ids := s.Jobs(); len(rc.deliveries()) != 1 || rc.deliveries()[0].header.Get("webhook-id") != "msg_"+ids[2].ID {
		t.Fatalf("deliveries %d", len(rc.deliveries()))
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	inFlight := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client going away
		select {
		case inFlight <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	s := New(WithTiming(0, 0), WithWebhookSecret("whsec_c2VjcmV0"))
	submit(t, s, "m?hf_webhook="+url.QueryEscape(hang.URL), `{"prompt":"p"}`)
	s.SetTiming(time.Hour, 0) // a pending terminal timer
	submit(t, s, "m?hf_webhook="+url.QueryEscape(hang.URL), `{"prompt":"p"}`)
	s.InjectWebhook(WebhookFault{Delay: time.Hour}) // a delivery waiting out its delay
	s.SetTiming(0, 0)
	submit(t, s, "m?hf_webhook="+url.QueryEscape(hang.URL), `{"prompt":"p"}`)
	<-inFlight
	time.Sleep(20 * time.Millisecond)

	done := make(chan struct{})
	go func() { s.Close(); s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close hangs")
	}
	hang.Close()
	hc.CloseIdleConnections()
	goleak.VerifyNone(t)
}
