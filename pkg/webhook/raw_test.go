package webhook

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// postTo sends one request to h and returns the response.
func postTo(h http.Handler, method, path, ctype, b string, hdr http.Header) *http.Response {
	req := httptest.NewRequest(method, path, strings.NewReader(b))
	for k, v := range hdr {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func TestRawReceiverChecksBeforeHanding(t *testing.T) {
	var got []*RawDelivery
	r := NewRawReceiver(RawOptions{MaxBody: 64, Now: func() time.Time { return testNow }}, func(_ context.Context, w http.ResponseWriter, d *RawDelivery) {
		got = append(got, d)
		w.WriteHeader(http.StatusTeapot)
	})
	if !strings.HasPrefix(r.Path(), "/hf/") || len(r.Path()) != 4+32 {
		t.Fatalf("path %q", r.Path())
	}
	other := NewRawReceiver(RawOptions{}, nil)
	if other.Path() == r.Path() {
		t.Fatal("two receivers share a path")
	}
	tests := []struct {
		name, method, path, ctype, body string
		want                            int
	}{
		{"delivery", "POST", r.Path(), "application/json", `{"a":1}`, http.StatusTeapot},
		{"json with charset", "POST", r.Path(), "application/json; charset=utf-8", `{}`, http.StatusTeapot},
		{"other path", "POST", "/hf/guess", "application/json", `{}`, 404},
		{"path prefix", "POST", r.Path() + "/x", "application/json", `{}`, 404},
		{"GET", "GET", r.Path(), "", "", 405},
		{"form", "POST", r.Path(), "application/x-www-form-urlencoded", "a=1", 415},
		{"too big", "POST", r.Path(), "application/json", `{"a":"` + strings.Repeat("x", 64) + `"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			resp := postTo(r, tt.method, tt.path, tt.ctype, tt.body, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("code %d, want %d", resp.StatusCode, tt.want)
			}
			if handed := len(got) == 1; handed != (tt.want == http.StatusTeapot) {
				t.Fatalf("handed %d deliveries", len(got))
			}
			if len(got) == 1 {
				if string(got[0].Body) != tt.body || got[0].Header.Get("Content-Type") != tt.ctype || !got[0].ReceivedAt.Equal(testNow) {
					t.Errorf("delivery %+v", got[0])
				}
			}
		})
	}
}

func TestRecordKeepsVerifiedDeliveriesRaw(t *testing.T) {
	clk := newClock()
	rv := recv(t, Options{Secret: testSecret, Now: clk.Now})
	var mu sync.Mutex
	var kept []RawDelivery
	h := Record(rv, func(d RawDelivery) { mu.Lock(); kept = append(kept, d); mu.Unlock() })
	if h.Path() != rv.Path() {
		t.Fatal("Record changed the path")
	}
	b := `{"request_id":"r1","status":"completed", "images":[{"url":"https://cdn.example/a.png"}]}`
	good := signed(clk, "msg_1", b)
	bad := signed(clk, "msg_1", b+" ")

	for _, tc := range []struct {
		name string
		path string
		h    http.Header
		want int
	}{
		{"verified", rv.Path(), good, 200},
		{"redelivery", rv.Path(), good, 200},
		{"bad signature", rv.Path(), bad, 401},
		{"wrong path", "/hf/x", good, 404},
	} {
		if resp := postTo(h, "POST", tc.path, "application/json", b, tc.h); resp.StatusCode != tc.want {
			t.Errorf("%s: code %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	h.Wait()
	if len(kept) != 2 {
		t.Fatalf("kept %d deliveries, want 2 (the verified one and its redelivery)", len(kept))
	}
	for _, d := range kept {
		if string(d.Body) != b || d.Header.Get("webhook-id") != "msg_1" || d.Header.Get("webhook-signature") != good.Get("webhook-signature") {
			t.Errorf("kept %q %v", d.Body, d.Header)
		}
	}

	// Unsigned mode keeps nothing: nothing is verified.
	un := recv(t, Options{})
	n := 0
	h = Record(un, func(RawDelivery) { n++ })
	resp := postTo(h, "POST", un.Path(), "application/json", b, nil)
	h.Wait()
	if resp.StatusCode != 200 || n != 0 {
		t.Errorf("unsigned: code %d, kept %d", resp.StatusCode, n)
	}
}

func TestRawDeliveryEncodeDecode(t *testing.T) {
	body := []byte("{\"request_id\":\"r1\",\n \"status\":\"completed\",\"note\":\"caf\xc3\xa9 \\u0000\"}\r\n")
	d := &RawDelivery{Header: http.Header{
		"Content-Type":      {"application/json"},
		"Webhook-Id":        {"msg_1"},
		"Webhook-Timestamp": {"1700000000"},
		"Webhook-Signature": {"v1,abc v1,def"},
		"Content-Length":    {"999"},
		"Host":              {"example.ngrok.app"},
	}, Body: body, ReceivedAt: testNow}
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "POST / HTTP/1.1\r\nContent-Type: application/json\r\n") || strings.Contains(buf.String(), "999") || strings.Contains(buf.String(), "ngrok.app") {
		t.Fatalf("encoded:\n%s", buf.String())
	}
	got, err := DecodeRaw(bytes.NewReader(buf.Bytes()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, body) {
		t.Errorf("body %q, want %q", got.Body, body)
	}
	for _, k := range SignedHeaders {
		if got.Header.Get(k) != d.Header.Get(k) {
			t.Errorf("%s = %q, want %q", k, got.Header.Get(k), d.Header.Get(k))
		}
	}
	if !got.ReceivedAt.Equal(testNow) || got.Header.Get("X-Hf-Received-At") != "" {
		t.Errorf("received at %v, header %q", got.ReceivedAt, got.Header.Get("X-Hf-Received-At"))
	}

	for name, in := range map[string]string{
		"not HTTP":  "hello\n",
		"truncated": strings.Replace(buf.String(), "}\r\n", "", 1),
		"too big":   buf.String(),
	} {
		limit := int64(1 << 20)
		if name == "too big" {
			limit = 10
		}
		if _, err := DecodeRaw(strings.NewReader(in), limit); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeRaw: any bytes (a saved file edited by hand, truncated, or not
// one at all) decode or fail cleanly within the bound; what decodes encodes
// back to a file that decodes to the same body and signed headers.
func FuzzDecodeRaw(f *testing.F) {
	var seed bytes.Buffer
	_ = (&RawDelivery{Header: http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}, "Webhook-Signature": {"v1,a v1,b"}},
		Body: []byte(`{"request_id":"r1","status":"completed"}`), ReceivedAt: testNow}).Encode(&seed)
	f.Add(seed.Bytes())
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n{}"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
	f.Add([]byte("GET /x HTTP/1.0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 16
		d, err := DecodeRaw(bytes.NewReader(data), limit)
		if err != nil {
			return
		}
		if len(d.Body) > limit {
			t.Fatalf("body of %d bytes over the %d limit", len(d.Body), limit)
		}
		var again bytes.Buffer
		if err := d.Encode(&again); err != nil {
			t.Fatal(err)
		}
		back, err := DecodeRaw(bytes.NewReader(again.Bytes()), limit)
		if err != nil {
			t.Fatalf("re-encoded delivery does not decode: %v\n%q", err, again.Bytes())
		}
		if !bytes.Equal(back.Body, d.Body) {
			t.Fatalf("body %q became %q", d.Body, back.Body)
		}
		for _, k := range SignedHeaders {
			if strings.Join(back.Header.Values(k), "\n") != strings.Join(d.Header.Values(k), "\n") {
				t.Fatalf("%s %q became %q", k, d.Header.Values(k), back.Header.Values(k))
			}
		}
	})
}

// TestRawReceiverReportsRefusedPosts: a POST to the secret path that the
// front door refuses is reported, in one safe line whatever the sender put
// in its headers; other paths and methods are not.
func TestRawReceiverReportsRefusedPosts(t *testing.T) {
	type refusal struct {
		code   int
		reason string
	}
	var got []refusal
	r := NewRawReceiver(RawOptions{MaxBody: 64, OnRefused: func(code int, reason string) { got = append(got, refusal{code, reason}) }},
		func(_ context.Context, w http.ResponseWriter, d *RawDelivery) { w.WriteHeader(http.StatusOK) })
	hostile := "text/html\x1b[2J\u202e" + strings.Repeat("x", 500)
	for _, tc := range []struct {
		method, path, ctype, body string
		want                      int // 0: not reported
	}{
		{"POST", r.Path(), "application/json", `{}`, 0},
		{"POST", "/hf/guess", "text/plain", `{}`, 0},
		{"GET", r.Path(), "", "", 0},
		{"POST", r.Path(), hostile, `{}`, 415},
		{"POST", r.Path(), "application/json", `{"a":"` + strings.Repeat("x", 64) + `"}`, 413},
	} {
		got = nil
		postTo(r, tc.method, tc.path, tc.ctype, tc.body, nil)
		if tc.want == 0 {
			if len(got) != 0 {
				t.Errorf("%s %s %q reported %+v", tc.method, tc.path, tc.ctype, got)
			}
			continue
		}
		if len(got) != 1 || got[0].code != tc.want {
			t.Fatalf("%s %q: reported %+v, want %d", tc.method, tc.ctype, got, tc.want)
		}
		if reason := got[0].reason; len(reason) > 200 || strings.ContainsAny(reason, "\x1b\n\r\u202e") {
			t.Errorf("unsafe reason %q", reason)
		}
	}
}
