package hftest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// slot asks s for an upload slot of ct.
func slot(t *testing.T, s *Server, ct string) (pub, put string, headers map[string]string) {
	t.Helper()
	r := do(t, "POST", s.URL+"/files/generate-upload-url", `{"content_type":"`+ct+`"}`)
	var up struct {
		PublicURL     string            `json:"public_url"`
		UploadURL     string            `json:"upload_url"`
		UploadHeaders map[string]string `json:"upload_headers"`
	}
	if r.code != 200 || json.Unmarshal(r.body, &up) != nil {
		t.Fatalf("slot: %d %s", r.code, r.body)
	}
	return up.PublicURL, up.UploadURL, up.UploadHeaders
}

func headerArgs(h map[string]string, extra ...string) []string {
	var out []string
	for k, v := range h {
		out = append(out, k, v)
	}
	return append(out, extra...)
}

func TestUploadSlots(t *testing.T) {
	data := Sample("image/png", 7)
	sum := sha256.Sum256(data)
	tests := []struct {
		name   string
		mutate func(h map[string]string) []string // headers to send
		code   int
		leak   bool
	}{
		{name: "every header", mutate: func(h map[string]string) []string { return headerArgs(h) }, code: 200},
		{name: "slot header missing", mutate: func(h map[string]string) []string {
			delete(h, SlotHeader)
			return headerArgs(h)
		}, code: 403},
		{name: "tagging missing", mutate: func(h map[string]string) []string {
			delete(h, "x-amz-tagging")
			return headerArgs(h)
		}, code: 403},
		{name: "slot header wrong", mutate: func(h map[string]string) []string {
			h[SlotHeader] = "0000"
			return headerArgs(h)
		}, code: 403},
		{name: "credentials", mutate: func(h map[string]string) []string { return headerArgs(h, "Authorization", "Key a:b") }, code: 400, leak: true},
		{name: "legacy credentials", mutate: func(h map[string]string) []string { return headerArgs(h, "hf-api-key", "a") }, code: 400, leak: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			pub, put, h := slot(t, s, "image/png")
			r := do(t, "PUT", put, string(data), tt.mutate(h)...)
			if r.code != tt.code {
				t.Fatalf("PUT: %d %s, want %d", r.code, r.body, tt.code)
			}
			if got := s.CredentialLeaks() > 0; got != tt.leak {
				t.Fatalf("leaks %d", s.CredentialLeaks())
			}
			slots := s.Slots()
			if len(slots) != 1 || slots[0].Puts != 1 || slots[0].PublicURL != pub {
				t.Fatalf("slots %+v", slots)
			}
			if tt.code != 200 {
				if slots[0].Done || len(s.Stored()) != 0 {
					t.Fatal("a refused PUT was stored")
				}
				if !strings.Contains(string(r.body), "<Error>") {
					t.Fatalf("not a storage error: %s", r.body)
				}
				return
			}
			if got := s.Stored(); len(got) != 1 || got[0] != hex.EncodeToString(sum[:]) || slots[0].Size != int64(len(data)) {
				t.Fatalf("stored %v, slots %+v", got, slots)
			}
			if r := do(t, "GET", pub, ""); r.code != 200 || string(r.body) != string(data) {
				t.Fatalf("public URL: %d", r.code)
			}
		})
	}
}

func TestUploadExpiry(t *testing.T) {
	s := newServer(t)
	s.SetUploadURLExpiry(20 * time.Millisecond)
	_, put, h := slot(t, s, "video/mp4")
	time.Sleep(40 * time.Millisecond)
	if r := do(t, "PUT", put, "x", headerArgs(h)...); r.code != 403 || !strings.Contains(string(r.body), "expired") {
		t.Fatalf("expired PUT: %d %s", r.code, r.body)
	}
	s.SetUploadURLExpiry(time.Hour)
	_, put, h = slot(t, s, "video/mp4")
	if r := do(t, "PUT", put, "x", headerArgs(h)...); r.code != 200 {
		t.Fatalf("fresh PUT: %d %s", r.code, r.body)
	}
}

func TestUploadDelay(t *testing.T) {
	s := newServer(t)
	s.SetUploadDelay(150 * time.Millisecond)
	_, put, h := slot(t, s, "image/png")
	start := time.Now()
	if r := do(t, "PUT", put, "x", headerArgs(h)...); r.code != 200 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("PUT: %d after %s", r.code, time.Since(start))
	}
}

func TestEstimateShapes(t *testing.T) {
	tests := []struct {
		shape EstimateShape
		body  string
		want  map[string]any
	}{
		{EstimateDocumented, `{"prompt":"p"}`, map[string]any{"credits": "1.500", "usd": "0.094"}},
		{EstimateDocumented, `{"prompt":"p","batch_size":4}`, map[string]any{"credits": "6.000", "usd": "0.375"}},
		{EstimateTyped, `{"prompt":"p","num_images":2}`, map[string]any{"type": "estimate", "credits": 3.0, "usd": 0.1875}},
		{EstimateUnpriced, `{"prompt":"p"}`, map[string]any{"type": "estimate", "credits": nil, "usd": nil, "pricing_description": UnpricedDescription}},
	}
	for _, tt := range tests {
		s := newServer(t)
		s.SetEstimateShape(tt.shape)
		r := do(t, "POST", s.URL+"/estimate/some/model", tt.body)
		got := decode(t, r.body)
		if r.code != 200 || len(got) != len(tt.want) {
			t.Fatalf("%d %s", r.code, r.body)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Fatalf("shape %d: %s = %v, want %v (%s)", tt.shape, k, got[k], v, r.body)
			}
		}
	}
}

func TestExpiresAfter(t *testing.T) {
	s := newServer(t, WithTiming(0, 0))
	s.SetRetention(48 * time.Hour)
	tests := []struct {
		value string
		code  int
	}{
		{"", 200}, {"3600", 200}, {"172800", 200}, {"3599", 422}, {"172801", 422}, {"1h", 422}, {"-5", 422},
	}
	for _, tt := range tests {
		hdr := []string{}
		if tt.value != "" {
			hdr = []string{"Hf-Expires-After", tt.value}
		}
		r := do(t, "POST", s.URL+"/some/model", `{"prompt":"p"}`, hdr...)
		if r.code != tt.code {
			t.Fatalf("Hf-Expires-After %q: %d %s", tt.value, r.code, r.body)
		}
		if tt.code == 422 && !strings.Contains(string(r.body), "hf-expires-after") {
			t.Fatalf("422 does not name the header: %s", r.body)
		}
	}
	hits := s.Hits()
	if got := hits[1].Header.Get("Hf-Expires-After"); got != "3600" {
		t.Fatalf("hit header %q", got)
	}
	if s.Charged() != 3 {
		t.Fatalf("%d charged, want 3", s.Charged())
	}
}

func TestDeleteRequest(t *testing.T) {
	s := newServer(t, WithTiming(0, 0))
	pub, put, h := slot(t, s, "image/png")
	if r := do(t, "PUT", put, string(Sample("image/png", 1)), headerArgs(h)...); r.code != 200 {
		t.Fatal(r.code)
	}
	sub := decode(t, do(t, "POST", s.URL+"/m/i2v", `{"prompt":"p","image_url":"`+pub+`"}`).body)
	id := sub["request_id"].(string)
	st := decode(t, do(t, "GET", s.URL+"/requests/"+id+"/status", "").body)
	asset := st["images"].([]any)[0].(map[string]any)["url"].(string)
	if r := do(t, "GET", asset, ""); r.code != 200 {
		t.Fatal("asset before delete", r.code)
	}
	first := do(t, "DELETE", s.URL+"/requests/"+id, "")
	again := do(t, "DELETE", s.URL+"/requests/"+id, "")
	if first.code != 200 || string(first.body) != string(again.body) || decode(t, first.body)["request_id"] != id {
		t.Fatalf("delete: %d %s / %s", first.code, first.body, again.body)
	}
	if !s.Deleted(id) || s.Count(Delete) != 2 {
		t.Fatal("not recorded")
	}
	if r := do(t, "GET", asset, ""); r.code != 404 {
		t.Fatalf("output after delete: %d", r.code)
	}
	if r := do(t, "GET", pub, ""); r.code != 404 {
		t.Fatalf("input after delete: %d", r.code)
	}
	if r := do(t, "DELETE", s.URL+"/requests/00000000-0000-0000-0000-000000000000", ""); r.code != 404 {
		t.Fatalf("unknown: %d", r.code)
	}
	s.SetTiming(time.Hour, time.Hour)
	id2 := decode(t, do(t, "POST", s.URL+"/m", `{"prompt":"p"}`).body)["request_id"].(string)
	if r := do(t, "DELETE", s.URL+"/requests/"+id2, ""); r.code != 400 || s.Deleted(id2) {
		t.Fatalf("unfinished: %d", r.code)
	}
}

func TestModelListing(t *testing.T) {
	s := newServer(t)
	if r := do(t, "GET", s.URL+"/models", ""); r.code != 404 {
		t.Fatalf("unset listing: %d", r.code)
	}
	s.SetModels([]map[string]any{{"id": "a/b", "type": "image"}})
	r := do(t, "GET", s.URL+"/models", "")
	if r.code != 200 || !strings.Contains(string(r.body), `"a/b"`) {
		t.Fatalf("listing: %d %s", r.code, r.body)
	}
}

func TestSampleSniffs(t *testing.T) {
	for _, ct := range []string{"image/png", "image/jpeg", "image/gif", "image/webp", "audio/wav", "video/mp4"} {
		a, b := Sample(ct, 1), Sample(ct, 2)
		got := http.DetectContentType(a)
		if ct == "audio/wav" && got == "audio/wave" {
			got = ct
		}
		if got != ct || string(a) == string(b) {
			t.Fatalf("%s sniffs as %s (seeds differ: %v)", ct, got, string(a) != string(b))
		}
	}
}
