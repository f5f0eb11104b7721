package higgsfield

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// setVar sets *p to v for the test.
func setVar[T any](t *testing.T, p *T, v T) {
	old := *p
	*p = v
	t.Cleanup(func() { *p = old })
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestUploadTypes(t *testing.T) {
	for _, ct := range []string{"image/png", "image/jpeg", "video/mp4", "audio/wav", "image/webp", "image/gif"} {
		t.Run(ct, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv)
			data := hftest.Sample(ct, 3)
			pub, err := c.Upload(ctxT(t), ct, bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			// The fake's own record of the stored bytes.
			slots := srv.Slots()
			if len(slots) != 1 || slots[0].PublicURL != pub || slots[0].SHA256 != hexSum(data) || slots[0].ContentType != ct {
				t.Fatalf("slots %+v", slots)
			}
			if srv.CredentialLeaks() != 0 {
				t.Fatal("credentials sent to storage")
			}
			resp, err := http.Get(pub)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, data) {
				t.Fatal("the public URL serves other bytes")
			}
			for _, h := range srv.Hits() {
				switch h.Endpoint {
				case hftest.Upload:
					if h.Authorization != "Key "+testID+":"+testSecret {
						t.Fatalf("slot request without credentials: %+v", h)
					}
				case hftest.UploadPut:
					if h.Authorization != "" || h.UserAgent != testUA || h.Status != 200 {
						t.Fatalf("PUT %+v", h)
					}
				}
			}
		})
	}
}

func TestUploadRetries(t *testing.T) {
	data := hftest.Sample("image/png", 9)
	tests := []struct {
		name        string
		faults      []hftest.Fault
		slots, puts int // counted on the fake
		wantErr     bool
	}{
		{name: "slot 500 then ok", faults: []hftest.Fault{{Endpoint: hftest.Upload, Status: 500, Times: 2}}, slots: 1, puts: 1},
		{name: "slot 429", faults: []hftest.Fault{{Endpoint: hftest.Upload, Status: 429, RetryAfter: "0"}}, slots: 1, puts: 1},
		{name: "slot connection dropped", faults: []hftest.Fault{{Endpoint: hftest.Upload, Drop: true}}, slots: 1, puts: 1},
		{name: "slot 422 is final", faults: []hftest.Fault{{Endpoint: hftest.Upload, Status: 422}}, slots: 0, puts: 0, wantErr: true},
		{name: "PUT 503 retried on the same slot", faults: []hftest.Fault{{Endpoint: hftest.UploadPut, Status: 503}}, slots: 1, puts: 2},
		{name: "PUT dropped retried", faults: []hftest.Fault{{Endpoint: hftest.UploadPut, Drop: true}}, slots: 1, puts: 2},
		{name: "PUT 403 gets a fresh slot", faults: []hftest.Fault{{Endpoint: hftest.UploadPut, Status: 403}}, slots: 2, puts: 2},
		{name: "PUT 400 is final", faults: []hftest.Fault{{Endpoint: hftest.UploadPut, Status: 400}}, slots: 1, puts: 1, wantErr: true},
		{name: "PUT always 503 gives up", faults: []hftest.Fault{{Endpoint: hftest.UploadPut, Status: 503, Times: 10}}, slots: 1, puts: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv, func(o *Options) { o.MaxAttempts = 3 })
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			pub, err := c.Upload(ctxT(t), "image/png", bytes.NewReader(data), int64(len(data)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			slots := srv.Slots()
			puts := srv.Count(hftest.UploadPut)
			if len(slots) != tt.slots || puts != tt.puts {
				t.Fatalf("%d slots, %d PUTs; want %d, %d", len(slots), puts, tt.slots, tt.puts)
			}
			if err != nil {
				if StatusCodeOf(err) == 403 {
					t.Fatal("a storage error must not pass for an API 403 (credentials/credits)")
				}
				return
			}
			last := slots[len(slots)-1]
			if pub != last.PublicURL || last.SHA256 != hexSum(data) {
				t.Fatalf("public URL %s, last slot %+v", pub, last)
			}
		})
	}
}

func TestUploadExpiredURL(t *testing.T) {
	data := hftest.Sample("video/mp4", 1)
	t.Run("403 Request has expired", func(t *testing.T) {
		srv := newServer(t)
		srv.SetUploadURLExpiry(time.Nanosecond)
		c := newClient(t, srv, func(o *Options) { o.MaxAttempts = 3 })
		_, err := c.Upload(ctxT(t), "video/mp4", bytes.NewReader(data), int64(len(data)))
		var ue *UploadError
		if !errors.As(err, &ue) || ue.StatusCode != 403 || !strings.Contains(err.Error(), "Request has expired") {
			t.Fatalf("err = %v", err)
		}
		if n := len(srv.Slots()); n != 3 {
			t.Fatalf("%d slots: each retry of an expired URL needs a fresh one", n)
		}
	})
	t.Run("an old slot is renewed before a retry", func(t *testing.T) {
		srv := newServer(t)
		setVar(t, &uploadURLFresh, 0)
		c := newClient(t, srv)
		srv.Inject(hftest.Fault{Endpoint: hftest.UploadPut, Status: 502})
		pub, err := c.Upload(ctxT(t), "video/mp4", bytes.NewReader(data), int64(len(data)))
		slots := srv.Slots()
		if err != nil || len(slots) != 2 || slots[0].Done || !slots[1].Done || pub != slots[1].PublicURL {
			t.Fatalf("err %v, slots %+v", err, slots)
		}
	})
}

// onlyReader hides the Seek of its reader.
type onlyReader struct{ io.Reader }

func TestUploadUnseekableNotRetried(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	data := hftest.Sample("image/png", 2)
	srv.Inject(hftest.Fault{Endpoint: hftest.UploadPut, Status: 503})
	if _, err := c.Upload(ctxT(t), "image/png", onlyReader{bytes.NewReader(data)}, int64(len(data))); err == nil {
		t.Fatal("want the 503")
	}
	if srv.Count(hftest.UploadPut) != 1 {
		t.Fatal("a body that cannot be rewound was sent again")
	}
	if _, err := c.Upload(ctxT(t), "image/png", onlyReader{bytes.NewReader(data)}, int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func TestUploadStall(t *testing.T) {
	srv := newServer(t)
	setVar(t, &uploadStall, 100*time.Millisecond)
	srv.SetUploadDelay(5 * time.Second)
	c := newClient(t, srv, func(o *Options) { o.MaxAttempts = 2 })
	data := hftest.Sample("image/png", 2)
	start := time.Now()
	_, err := c.Upload(ctxT(t), "image/png", bytes.NewReader(data), int64(len(data)))
	if !errors.Is(err, ErrUploadStalled) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a hung storage held the upload %s", took)
	}
	if srv.Count(hftest.UploadPut) != 2 {
		t.Fatalf("%d PUTs: a stall is retried", srv.Count(hftest.UploadPut))
	}
}

func TestUploadNeverSendsCredentials(t *testing.T) {
	srv := newServer(t)
	var log bytes.Buffer
	c := newClient(t, srv, func(o *Options) { o.Debug = &log })
	ctx := ctxT(t)
	tg, err := c.NewUploadTarget(ctx, "image/png")
	if err != nil {
		t.Fatal(err)
	}
	// A slot that asks for hf's own credentials does not get them.
	tg.UploadHeaders["Authorization"] = "Key " + testID + ":" + testSecret
	tg.UploadHeaders["hf-secret"] = testSecret
	data := hftest.Sample("image/png", 5)
	if err := c.Put(ctx, tg, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if srv.CredentialLeaks() != 0 {
		t.Fatal("credentials reached storage")
	}
	sig := tg.UploadURL[strings.Index(tg.UploadURL, "Signature=")+len("Signature="):]
	for _, bad := range []string{testSecret, sig} {
		if strings.Contains(log.String(), bad) {
			t.Fatalf("debug log shows %q:\n%s", bad, log.String())
		}
	}
	if !strings.Contains(log.String(), "PUT") {
		t.Fatalf("no PUT in the debug log:\n%s", log.String())
	}
}

func TestUploadBadSlot(t *testing.T) {
	tests := []string{
		`{"public_url":""}`,
		`{"public_url":"https://cdn/x","upload_url":"ftp://x"}`,
		`{"public_url":"https://cdn/x","upload_url":"https://s/x","upload_headers":{"Bad Header":"v"}}`,
		`{"public_url":"https://cdn/x","upload_url":"https://s/x","upload_headers":{"X":"a\r\nInjected: 1"}}`,
		`not json`,
	}
	for _, body := range tests {
		srv := newServer(t)
		c := newClient(t, srv)
		srv.Inject(hftest.Fault{Endpoint: hftest.Upload, Status: 200, Body: body})
		if _, err := c.Upload(ctxT(t), "image/png", strings.NewReader("x"), 1); err == nil || srv.Count(hftest.Upload) != 1 || srv.Count(hftest.UploadPut) != 0 {
			t.Fatalf("%s: err = %v after %d tries (a bad answer is final)", body, err, srv.Count(hftest.Upload))
		}
	}
}

func TestEstimateShapes(t *testing.T) {
	tests := []struct {
		shape                 hftest.EstimateShape
		params                map[string]any
		credits, usd, pricing string
		fields                []string
	}{
		{hftest.EstimateDocumented, map[string]any{"prompt": "x"}, "1.500", "0.094", "", []string{"credits", "usd"}},
		{hftest.EstimateDocumented, map[string]any{"prompt": "x", "batch_size": 4}, "6.000", "0.375", "", []string{"credits", "usd"}},
		{hftest.EstimateTyped, map[string]any{"prompt": "x"}, "1.5", "0.09375", "", []string{"type", "credits", "usd"}},
		{hftest.EstimateUnpriced, map[string]any{"prompt": "x"}, "", "", hftest.UnpricedDescription, []string{"type", "credits", "usd", "pricing_description"}},
	}
	for _, tt := range tests {
		srv := newServer(t)
		srv.SetEstimateShape(tt.shape)
		c := newClient(t, srv)
		e, err := c.Estimate(ctxT(t), testModel, tt.params)
		if err != nil {
			t.Fatal(err)
		}
		if e.Credits != tt.credits || e.USD != tt.usd || e.PricingDescription != tt.pricing {
			t.Fatalf("shape %d: %+v", tt.shape, e)
		}
		out, _ := json.Marshal(e)
		var back map[string]any
		_ = json.Unmarshal(out, &back)
		if len(back) != len(tt.fields) {
			t.Fatalf("--json keeps %s, want fields %v", out, tt.fields)
		}
		for _, f := range tt.fields {
			if _, ok := back[f]; !ok {
				t.Fatalf("--json %s lacks %s", out, f)
			}
		}
	}
	srv := newServer(t)
	c := newClient(t, srv)
	srv.Inject(hftest.Fault{Endpoint: hftest.Estimate, Status: 200, Body: `{"foo":1}`})
	if _, err := c.Estimate(ctxT(t), testModel, nil); err == nil || srv.Count(hftest.Estimate) != 1 {
		t.Fatalf("an estimate without a price: %v", err)
	}
}

func TestDelete(t *testing.T) {
	srv := newServer(t, hftest.WithTiming(0, 0))
	c := newClient(t, srv)
	ctx := ctxT(t)
	sub, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Inject(hftest.Fault{Endpoint: hftest.Delete, Status: 503})
	d, err := c.Delete(ctx, sub.RequestID)
	if err != nil || d.RequestID != sub.RequestID || !srv.Deleted(sub.RequestID) || srv.Count(hftest.Delete) != 2 {
		t.Fatalf("%+v %v (%d calls)", d, err, srv.Count(hftest.Delete))
	}
	out, _ := json.Marshal(d)
	if !strings.Contains(string(out), `"deleted":true`) {
		t.Fatalf("json %s does not keep the API's fields", out)
	}
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.Delete && (h.Method != http.MethodDelete || h.Path != "/requests/"+sub.RequestID || h.Authorization == "") {
			t.Fatalf("hit %+v", h)
		}
	}
	if _, err := c.Delete(ctx, "00000000-0000-0000-0000-000000000000"); StatusCodeOf(err) != 404 {
		t.Fatalf("unknown id: %v", err)
	}
	before := len(srv.Hits())
	if _, err := c.Delete(ctx, "../../x"); err == nil || len(srv.Hits()) != before {
		t.Fatal("a bad id reached the API")
	}
	srv.Inject(hftest.Fault{Endpoint: hftest.Delete, Status: 200, Body: `{"request_id":"someone-else"}`})
	if _, err := c.Delete(ctx, sub.RequestID); err == nil {
		t.Fatal("an answer for another request was accepted")
	}
}

// A storage host that redirects the PUT elsewhere has not stored anything:
// the redirect is not followed (a 302 would turn the PUT into a GET that
// "succeeds"), nothing reaches the other host, and the upload fails.
func TestUploadRedirectNotFollowed(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			var other []string
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				other = append(other, r.Method+" auth="+r.Header.Get("Authorization"))
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(elsewhere.Close)
			srv := newServer(t)
			c := newClient(t, srv)
			srv.Inject(hftest.Fault{Endpoint: hftest.UploadPut, Status: code, Location: elsewhere.URL + "/stolen", Times: 10})
			data := hftest.Sample("image/png", 2)
			_, err := c.Upload(ctxT(t), "image/png", bytes.NewReader(data), int64(len(data)))
			var ue *UploadError
			if !errors.As(err, &ue) || ue.StatusCode != code {
				t.Fatalf("err = %v, want the %d as an *UploadError", err, code)
			}
			if len(other) != 0 {
				t.Fatalf("the redirect was followed: %v", other)
			}
			if len(srv.Stored()) != 0 {
				t.Fatal("the fake stored something")
			}
		})
	}
}

// Credits and usd are shown only when they are a number or a string: an
// object, array or boolean is not a price, and an answer with no price at
// all is an error rather than "{"a":1} credits ($true)".
func TestParseEstimateOddShapes(t *testing.T) {
	tests := []struct {
		body, credits, usd string
		wantErr            bool
	}{
		{`{"credits":"1.5","usd":0.09}`, "1.5", "0.09", false},
		{`{"credits":{"a":[1,2]},"usd":true}`, "", "", true},
		{`{"credits":[1],"usd":"0.1"}`, "", "0.1", false},
		{`{"credits":2,"usd":{"x":1}}`, "2", "", false},
		{`{"credits":null,"usd":null}`, "", "", true},
		{`{"credits":"","usd":""}`, "", "", true},
	}
	for _, tt := range tests {
		e, err := ParseEstimate([]byte(tt.body))
		if (err != nil) != tt.wantErr {
			t.Fatalf("%s: err = %v", tt.body, err)
		}
		if err == nil && (e.Credits != tt.credits || e.USD != tt.usd) {
			t.Fatalf("%s: credits %q usd %q", tt.body, e.Credits, e.USD)
		}
	}
}
