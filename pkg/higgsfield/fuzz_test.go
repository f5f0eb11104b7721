package higgsfield

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz seeds: the f.Add calls below plus testdata/fuzz/<FuzzName>/. Plain
// `go test` runs them all; scripts/fuzz.sh runs the fuzzers for a while.

// fuzzStatusSeeds are bodies in the shapes the API documents (status
// answers and webhook deliveries) and a few hostile ones.
var fuzzStatusSeeds = []string{
	`{"status":"queued","request_id":"d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff","status_url":"https://platform.higgsfield.ai/requests/d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff/status","cancel_url":"https://platform.higgsfield.ai/requests/d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff/cancel"}`,
	`{"status":"in_progress","request_id":"d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"}`,
	`{"status":"completed","request_id":"9417a243-e457-4075-895b-b68f3cda5303","status_url":"https://platform.higgsfield.ai/requests/9417a243-e457-4075-895b-b68f3cda5303/status","cancel_url":"https://platform.higgsfield.ai/requests/9417a243-e457-4075-895b-b68f3cda5303/cancel","images":[{"url":"https://images.url/example"}]}`,
	`{"status":"completed","request_id":"9417a243-e457-4075-895b-b68f3cda5303","video":{"url":"https://video.url/example"},"expires_at":"2026-10-01T00:00:00Z"}`,
	`{"status":"completed","request_id":"a","images":[{"url":"https://cdn/a.png","content_type":"image/png"},{"url":"https://cdn/b.png"},{"url":""},{}],"audios":[{"url":"https://cdn/a.wav","content_type":"audio/wav"}],"video":{"url":"https://cdn/v.mp4"},"zip":{"url":"https://cdn/x.zip"},"meta":{"seed":42}}`,
	`{"status":"failed","request_id":"a","error":"Generation fail message"}`,
	`{"status":"failed","request_id":"a","error":{"message":"boom","code":"E1"}}`,
	`{"status":"failed","request_id":"a","error":{"detail":{"msg":"nested"}}}`,
	`{"status":"failed","request_id":"a","error":["one","two"]}`,
	`{"status":"nsfw","request_id":"a"}`,
	`{"status":"cancelled","request_id":"a"}`,
	`{"status":" Canceled ","request_id":"a"}`,
	`{"status":"warming_up","request_id":"a"}`,
	`{"status":5}`,
	`{"request_id":"a"}`,
	`[{"status":"completed"}]`,
	`null`,
	`<html>502 Bad Gateway</html>`,
	`{"status":"completed","images":{"url":"https://single/obj.png"},"video":[{"url":"https://v/1.mp4"},{"url":"https://v/2.mp4"}]}`,
	`{"status":"completed","status":"failed","request_id":"dup"}`,
}

// outputRank is the documented order of output fields; other keys follow
// in key order.
var outputRank = map[string]int{"images": 0, "video": 1, "videos": 2, "audio": 3, "audios": 4}

// FuzzParseStatus feeds status/webhook bodies to ParseStatus.
//
// Invariants: no panic; memory allocated grows linearly with the body; on
// success the status is non-empty and normalised, Terminal() agrees with
// it, Raw is a private copy of the input, there are at most MaxOutputs
// outputs, each with a non-empty URL and a Field naming a key of the body,
// in the documented order, the same on every parse; the flattened error
// text is one line; a decoding error is one line too.
func FuzzParseStatus(f *testing.F) {
	for _, s := range fuzzStatusSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var st *Status
		var err error
		if n, limit := fuzzAllocs(func() { st, err = ParseStatus(data) }), fuzzAllocLimit(len(data)); n > limit {
			t.Fatalf("ParseStatus of %d bytes allocated %d bytes (limit %d): flattenMessage re-decodes the rest of the body at every level of a nested error object, so work and memory grow with the square of the body (a 1 MiB webhook body takes minutes)", len(data), n, limit)
		}
		if err != nil {
			if st != nil {
				t.Fatalf("error %v with a status %+v", err, st)
			}
			if msg := err.Error(); !fuzzOneLine(msg) || len(msg) > 300 {
				t.Fatalf("decoding error is not one short line: %q", msg)
			}
			return
		}
		if st.Status == "" || st.Status != NormalizeStatus(st.Status) {
			t.Fatalf("status %q is empty or not normalised", st.Status)
		}
		terminal := false
		switch st.Status {
		case StatusCompleted, StatusFailed, StatusNSFW, StatusCanceled:
			terminal = true
		}
		if st.Terminal() != terminal || Terminal(st.Status) != terminal {
			t.Fatalf("status %q: Terminal() = %v, want %v", st.Status, st.Terminal(), terminal)
		}
		if st.Status == "cancelled" {
			t.Fatal(`"cancelled" not normalised`)
		}
		if !bytes.Equal(st.Raw, data) {
			t.Fatal("Raw differs from the input")
		}
		if len(data) > 0 && &st.Raw[0] == &data[0] {
			t.Fatal("Raw aliases the caller's buffer")
		}

		if len(st.Outputs) > MaxOutputs {
			t.Fatalf("%d outputs, more than the cap %d", len(st.Outputs), MaxOutputs)
		}
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(data, &fields)
		prevRank, prevKey := -1, ""
		for i, o := range st.Outputs {
			if o.URL == "" {
				t.Fatalf("output %d (%s) has an empty URL", i, o.Field)
			}
			key, _, _ := strings.Cut(o.Field, "[")
			if _, ok := fields[key]; !ok || knownNonOutput[key] {
				t.Fatalf("output %d: field %q is not an output key of the body", i, o.Field)
			}
			rank, known := outputRank[key]
			if !known {
				rank = len(outputRank)
			}
			if rank < prevRank || rank == prevRank && rank == len(outputRank) && key < prevKey {
				t.Fatalf("output %d: field %q out of the documented order after %q", i, o.Field, prevKey)
			}
			prevRank, prevKey = rank, key
		}
		again, err := ParseStatus(data)
		if err != nil || !reflect.DeepEqual(again.Outputs, st.Outputs) {
			t.Fatalf("second parse differs: %v", err)
		}

		if !fuzzOneLine(st.Error) {
			t.Fatalf("Status.Error is documented as the API's message flattened (flattenMessage: \"into one line of text\") but is %d bytes over several lines: %.80q", len(st.Error), st.Error)
		}
	})
}

// FuzzAPIError builds the error of a non-2xx answer from a fake
// *http.Response (status, Retry-After, body) and also formats the body as
// a detail value on its own.
//
// Invariants: no panic; Error() is one line, bounded in length, and valid
// UTF-8 when the body is; the status code is kept; the URL is redacted;
// RetryAfter is never negative and never shorter than a numeric
// Retry-After asked for (up to the client's cap); Retryable() holds for 5xx
// and 429.
func FuzzAPIError(f *testing.F) {
	for _, s := range []struct {
		code       int
		retryAfter string
		body       string
	}{
		{400, "", `{"detail":"Maximum number of concurrent requests (4) has been reached"}`},
		{401, "", `{"detail":"Invalid credentials"}`},
		{403, "", `error code: 1010`},
		{404, "", `{"detail":"Not found"}`},
		{422, "", `{"detail":[{"type":"missing","loc":["body","prompt"],"msg":"Field required","input":{}},{"type":"enum","loc":["body","resolution"],"msg":"Input should be '720p' or '1080p'","ctx":{"expected":"'720p' or '1080p'"}}]}`},
		{422, "", `{"detail":[{"loc":["body"],"msg":"Expecting value"},{"loc":[],"msg":"no location"},{"loc":["query","hf_webhook",0],"msg":"bad url"}]}`},
		{422, "", `{"detail":[{"loc":["body","prompt"],"msg":"line one\nline two"}]}`},
		{422, "", `{"detail":[{"type":"url_parsing","loc":["body","image_urls",0],"msg":"Input should be a valid URL, relative URL without a base","input":"photo0.jpg","ctx":{"error":"relative URL without a base"}},{"type":"url_parsing","loc":["body","image_urls",1],"msg":"Input should be a valid URL, relative URL without a base","input":"photo1.jpg","ctx":{"error":"relative URL without a base"}},{"type":"url_parsing","loc":["body","image_urls",2],"msg":"Input should be a valid URL, relative URL without a base","input":"photo2.jpg","ctx":{"error":"relative URL without a base"}},{"type":"url_parsing","loc":["body","image_urls",3],"msg":"Input should be a valid URL, relative URL without a base","input":"photo3.jpg","ctx":{"error":"relative URL without a base"}},{"type":"url_parsing","loc":["body","image_urls",4],"msg":"Input should be a valid URL, relative URL without a base","input":"photo4.jpg","ctx":{"error":"relative URL without a base"}},{"type":"url_parsing","loc":["body","image_urls",5],"msg":"Input should be a valid URL, relative URL without a base","input":"photo5.jpg","ctx":{"error":"relative URL without a base"}},{"type":"url_parsing","loc":["body","image_urls",6],"msg":"Input should be a valid URL, relative URL without a base","input":"photo6.jpg","ctx":{"error":"relative URL without a base"}},{"type":"url_parsing","loc":["body","image_urls",7],"msg":"Input should be a valid URL, relative URL without a base","input":"photo7.jpg","ctx":{"error":"relative URL without a base"}}]}`},
		{429, "30", `{"detail":"Queue is full","code":"account_queue_full","limit":8}`},
		{429, "Wed, 21 Oct 2015 07:28:00 GMT", `{"message":"slow down"}`},
		{500, "", `Internal Server Error`},
		{502, "", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"},
		{503, "120", `{"error":{"message":"model disabled"}}`},
		{503, "99999999999", `{"details":"maintenance"}`},
		{400, "", `{"detail":"Le prompt « un renard roux dans la neige, éclairage doux, très détaillé, style aquarelle, lumière dorée du soir » dépasse la longueur autorisée pour ce modèle ; réduisez-le à 500 caractères ou moins, ou choisissez un modèle qui accepte des prompts plus longs (voir la documentation)."}`},
		{502, "", "<!DOCTYPE html><html><head><title>Erreur 502 — passerelle incorrecte</title></head><body><h1>Erreur 502</h1><p>Le serveur d’origine n’a pas répondu à temps. Réessayez dans quelques instants — si le problème persiste, contactez l’assistance.</p></body></html>"},
		{418, "-5", ``},
		{599, " 7 ", `{"detail":null}`},
	} {
		f.Add(s.code, s.retryAfter, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, code int, retryAfter string, payload []byte) {
		if code < 100 || code > 999 {
			code = 400 + (code%200+200)%200 // a status line has three digits
		}
		u, _ := url.Parse("https://api.higgsfield.ai/higgsfield-ai/soul/standard?hf_webhook=https%3A%2F%2Fx.ngrok.app%2Fhf%2Fsecretpath00")
		resp := &http.Response{
			StatusCode: code,
			Header:     http.Header{"Retry-After": {retryAfter}},
			Request:    &http.Request{Method: http.MethodPost, URL: u},
		}
		e := newAPIError(resp, payload, nil)

		if e.StatusCode != code {
			t.Fatalf("StatusCode %d, want %d", e.StatusCode, code)
		}
		if strings.Contains(e.URL, "secretpath00") {
			t.Fatalf("URL %q keeps the webhook's secret path", e.URL)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("Retry-After %q gives a negative RetryAfter %s (integer overflow in parseRetryAfter)", retryAfter, e.RetryAfter)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(retryAfter), 10, 64); err == nil && n > 0 {
			want := maxRetryAfter
			if n < int64(maxRetryAfter/time.Second) {
				want = time.Duration(n) * time.Second
			}
			if e.RetryAfter < want {
				t.Fatalf("Retry-After %q gives RetryAfter %s, shorter than the %s asked for (integer overflow in parseRetryAfter)", retryAfter, e.RetryAfter, want)
			}
		}
		if (code >= 500 || code == http.StatusTooManyRequests) && !e.Retryable() {
			t.Fatalf("%d is not retryable", code)
		}

		msg := e.Error()
		if !strings.HasPrefix(msg, "API answered "+strconv.Itoa(code)+": ") {
			t.Fatalf("message %q does not start with the status", msg)
		}
		if utf8.Valid(payload) && !utf8.ValidString(msg) {
			t.Fatalf("truncation in oneLine splits a multi-byte rune: message %q is not valid UTF-8", msg[max(0, len(msg)-16):])
		}
		if !fuzzOneLine(msg) {
			t.Fatalf("APIError.Detail is documented as flattened to one line, but a detail array's msg is copied as is: %.120q", msg)
		}
		if len(msg) > fuzzMaxMessage {
			t.Fatalf("APIError message is %d bytes: a detail array is joined without any bound", len(msg))
		}

		if json.Valid(payload) {
			d := formatDetail(payload)
			if utf8.Valid(payload) && !utf8.ValidString(d) {
				t.Fatalf("truncation in oneLine splits a multi-byte rune: %q", d[max(0, len(d)-16):])
			}
			if !fuzzOneLine(d) {
				t.Fatalf("formatDetail returns several lines: %.120q", d)
			}
			if len(d) > fuzzMaxMessage {
				t.Fatalf("formatDetail returns %d bytes: a detail array is joined without any bound", len(d))
			}
		}
	})
}

// fuzzAllocs returns how many bytes f allocates.
func fuzzAllocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// fuzzAllocLimit is a generous linear bound on decoding n bytes of JSON:
// ordinary bodies stay under 40 bytes per input byte plus a few KiB.
func fuzzAllocLimit(n int) uint64 { return 128*uint64(n) + 64<<10 }

// fuzzMaxMessage bounds an API error message: the status prefix plus a
// detail truncated to 300 bytes and an ellipsis, with room to spare.
const fuzzMaxMessage = 400

// fuzzOneLine reports whether s has no line break of any kind.
func fuzzOneLine(s string) bool {
	return !strings.ContainsAny(s, "\n\r\v\f\u0085\u2028\u2029")
}
