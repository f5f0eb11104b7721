package download

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

const model = "higgsfield-ai/soul/standard"

// generate submits a job to the fake, waits until it completes, and returns
// its request id, its first image URL as the status endpoint gives it, and
// the fake's record of that asset.
func generate(t *testing.T, srv *hftest.Server) (string, string, hftest.Asset) {
	t.Helper()
	var sub struct {
		RequestID string `json:"request_id"`
		StatusURL string `json:"status_url"`
	}
	getJSON(t, http.MethodPost, srv.URL+"/"+model, `{"prompt":"x"}`, &sub)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct {
			Status string
			Images []struct{ URL string }
		}
		getJSON(t, http.MethodGet, sub.StatusURL, "", &st)
		if st.Status == "completed" && len(st.Images) > 0 {
			job, _ := srv.Job(sub.RequestID)
			for _, a := range job.Assets {
				if a.URL == st.Images[0].URL {
					return sub.RequestID, a.URL, a
				}
			}
			t.Fatalf("status URL %s is not among the job's assets", st.Images[0].URL)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %q", sub.RequestID, st.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getJSON(t *testing.T, method, url, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// tmpl parses a template the test knows to be valid.
func tmpl(t *testing.T, s string) Template {
	t.Helper()
	tp, err := ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func setup(t *testing.T) (*hftest.Server, string, string, hftest.Asset) {
	t.Helper()
	srv := hftest.New(hftest.WithTiming(5*time.Millisecond, 5*time.Millisecond))
	t.Cleanup(srv.Close)
	id, url, asset := generate(t, srv)
	return srv, id, url, asset
}

// assetData fetches the asset's bytes directly, to seed .part files.
func assetData(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assetRanges(srv *hftest.Server) []string {
	var out []string
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.AssetEP {
			out = append(out, h.Range)
		}
	}
	return out
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func noPart(t *testing.T, dir string) {
	t.Helper()
	parts, _ := filepath.Glob(filepath.Join(dir, "*.part"))
	if len(parts) > 0 {
		t.Errorf("leftover part files: %v", parts)
	}
}

func TestFetch(t *testing.T) {
	tests := []struct {
		name       string
		faults     []hftest.Fault
		wantRanges []string // Range header of each asset request; "" for none
	}{
		{name: "happy path", wantRanges: []string{""}},
		{name: "truncated mid-body then resumed",
			faults:     []hftest.Fault{{Endpoint: hftest.AssetEP, Truncate: 1000}},
			wantRanges: []string{"", "bytes=1000-"}},
		{name: "truncated twice",
			faults: []hftest.Fault{
				{Endpoint: hftest.AssetEP, Truncate: 1000},
				{Endpoint: hftest.AssetEP, Truncate: 500}},
			wantRanges: []string{"", "bytes=1000-", "bytes=1500-"}},
		{name: "dropped connection",
			faults:     []hftest.Fault{{Endpoint: hftest.AssetEP, Drop: true}},
			wantRanges: []string{"", ""}},
		{name: "5xx retried",
			faults:     []hftest.Fault{{Endpoint: hftest.AssetEP, Status: 503, Times: 2}},
			wantRanges: []string{"", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, id, url, asset := setup(t)
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			dir := t.TempDir()
			var calls int
			var last [2]int64
			f := &Fetcher{Progress: func(w, total int64) { calls++; last = [2]int64{w, total} }}
			got, err := f.Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Model: model, Index: 1, Count: 1}})
			if err != nil {
				t.Fatal(err)
			}
			want := File{Path: filepath.Join(dir, id+"-1.png"), URL: url, ContentType: "image/png", SHA256: asset.SHA256, Bytes: asset.Size}
			if got != want {
				t.Errorf("Fetch = %+v\nwant    %+v", got, want)
			}
			if sum := fileSHA(t, want.Path); sum != asset.SHA256 {
				t.Errorf("file sha256 %s, want %s", sum, asset.SHA256)
			}
			if r := assetRanges(srv); strings.Join(r, "|") != strings.Join(tt.wantRanges, "|") {
				t.Errorf("asset requests' Range = %q, want %q", r, tt.wantRanges)
			}
			if calls == 0 || last != [2]int64{asset.Size, asset.Size} {
				t.Errorf("progress: %d calls, last %v; want the last to be %d/%d", calls, last, asset.Size, asset.Size)
			}
			noPart(t, dir)
		})
	}
}

// assetETag is the validator the fake gives for url.
func assetETag(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("ETag") == "" {
		t.Fatal("the fake sent no ETag")
	}
	return resp.Header.Get("ETag")
}

// seedPart leaves a part (and, unless m is nil, its binding) as an earlier
// run would.
func seedPart(t *testing.T, final string, data []byte, m *meta) {
	t.Helper()
	if err := os.WriteFile(final+".part", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if m != nil {
		b, _ := json.Marshal(m)
		if err := os.WriteFile(final+".part.meta", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func assetHits(srv *hftest.Server) []hftest.Hit {
	var out []hftest.Hit
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.AssetEP {
			out = append(out, h)
		}
	}
	return out
}

// A part is resumed only for the same request and URL, with If-Range on
// the validator the host gave; anything else is discarded, never appended to.
func TestFetchPartBinding(t *testing.T) {
	srv, id, url, asset := setup(t)
	data := assetData(t, url)
	etag := assetETag(t, url)
	other := bytes.Repeat([]byte{0xAA}, 5000) // another request's bytes
	bound := func(mut func(m *meta)) *meta {
		m := &meta{RequestID: id, URL: stripQuery(url), Validator: etag}
		if mut != nil {
			mut(m)
		}
		return m
	}
	tests := []struct {
		name       string
		part       []byte
		meta       *meta
		wantRanges []string
	}{
		{name: "bound prefix is resumed", part: data[:5000], meta: bound(nil), wantRanges: []string{"", "bytes=5000-"}},
		{name: "bound complete part (416)", part: data, meta: bound(nil), wantRanges: []string{"", "bytes=" + strconv.Itoa(len(data)) + "-"}},
		{name: "bound part longer than the asset starts over", part: append(bytes.Clone(data), "junk"...), meta: bound(nil),
			wantRanges: []string{"", "bytes=" + strconv.Itoa(len(data)+4) + "-", ""}},
		{name: "part without binding is discarded", part: other, wantRanges: []string{""}},
		{name: "part of another request is discarded", part: other, meta: bound(func(m *meta) { m.RequestID = "another-request" }), wantRanges: []string{""}},
		{name: "part of another URL is discarded", part: other, meta: bound(func(m *meta) { m.URL += "x" }), wantRanges: []string{""}},
		{name: "part of older bytes is discarded", part: other, meta: bound(func(m *meta) { m.Validator = `"old"` }), wantRanges: []string{""}},
		{name: "part without validator is discarded", part: data[:5000], meta: bound(func(m *meta) { m.Validator = "" }), wantRanges: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			final := filepath.Join(dir, id+"-1.png")
			seedPart(t, final, tt.part, tt.meta)
			before := len(assetHits(srv))
			got, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if got.SHA256 != asset.SHA256 || got.Bytes != asset.Size || fileSHA(t, final) != asset.SHA256 {
				t.Errorf("got %+v; want sha256 %s, %d bytes", got, asset.SHA256, asset.Size)
			}
			hits := assetHits(srv)[before:]
			var ranges []string
			for _, h := range hits {
				ranges = append(ranges, h.Range)
				if h.Range != "" && h.IfRange != etag {
					t.Errorf("Range %q sent with If-Range %q, want %q", h.Range, h.IfRange, etag)
				}
			}
			if strings.Join(ranges, "|") != strings.Join(tt.wantRanges, "|") {
				t.Errorf("asset requests' Range = %q, want %q", ranges, tt.wantRanges)
			}
			noPart(t, dir)
		})
	}
}

// The bytes behind a URL change between two runs: the part left by the
// first is not resumed into the second's file, whether the host honours
// If-Range, ignores it, or only gives Last-Modified.
func TestFetchChangedAsset(t *testing.T) {
	tests := []struct {
		name  string
		fault hftest.AssetFault
	}{
		{name: "ETag"},
		{name: "host ignores If-Range", fault: hftest.AssetFault{IgnoreIfRange: true, Times: 10}},
		{name: "Last-Modified only", fault: hftest.AssetFault{NoETag: true, Times: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, id, url, _ := setup(t)
			srv.Inject(hftest.Fault{Endpoint: hftest.AssetEP, Truncate: 3000})
			dir := t.TempDir()
			f := &Fetcher{Retries: -1}
			tg := Target{Dir: dir, Vars: Vars{ID: id, Index: 1}}
			if _, err := f.Fetch(context.Background(), url, tg); err == nil {
				t.Fatal("the cut first run succeeded")
			}
			changed, err := srv.ChangeAsset(id, 0)
			if err != nil {
				t.Fatal(err)
			}
			srv.InjectAsset(tt.fault)
			got, err := (&Fetcher{}).Fetch(context.Background(), url, tg)
			if err != nil {
				t.Fatal(err)
			}
			if sum := fileSHA(t, got.Path); sum != changed.SHA256 || got.SHA256 != changed.SHA256 {
				t.Errorf("saved sha256 %s (recorded %s), want what the host serves now: %s", sum, got.SHA256, changed.SHA256)
			}
			noPart(t, dir)
		})
	}
}

// Two Fetches of one output into one directory at once: the second waits
// for the first's lock, then finds the output saved.
func TestFetchConcurrent(t *testing.T) {
	srv := hftest.New(hftest.WithTiming(5*time.Millisecond, 5*time.Millisecond))
	t.Cleanup(srv.Close)
	srv.SetImageSize(8, 8)
	id, url, asset := generate(t, srv)
	srv.InjectAsset(hftest.AssetFault{Drip: 2 * time.Millisecond})
	dir := t.TempDir()
	tg := Target{Dir: dir, Vars: Vars{ID: id, Index: 1}}
	type result struct {
		f   File
		err error
		at  time.Time
	}
	results := make(chan result, 2)
	fetch := func() {
		f, err := (&Fetcher{}).Fetch(context.Background(), url, tg)
		results <- result{f, err, time.Now()}
	}
	go fetch()
	for deadline := time.Now().Add(5 * time.Second); len(assetHits(srv)) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first Fetch never reached the asset host")
		}
	}
	time.Sleep(50 * time.Millisecond) // the first holds the part now
	go fetch()
	a, b := <-results, <-results
	for _, r := range []result{a, b} {
		if r.err != nil {
			t.Fatalf("Fetch: %v", r.err)
		}
		if r.f.Path != filepath.Join(dir, id+"-1.png") || r.f.SHA256 != asset.SHA256 {
			t.Errorf("Fetch = %+v, want %s with sha256 %s", r.f, id+"-1.png", asset.SHA256)
		}
	}
	if sum := fileSHA(t, a.f.Path); sum != asset.SHA256 {
		t.Errorf("saved sha256 %s, want %s", sum, asset.SHA256)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the output", len(entries))
	}
}

func TestFetchStall(t *testing.T) {
	t.Run("hang after K bytes resumes with Range", func(t *testing.T) {
		srv, id, url, asset := setup(t)
		srv.InjectAsset(hftest.AssetFault{Hang: true, HangAfter: 1000})
		start := time.Now()
		got, err := (&Fetcher{StallTimeout: 200 * time.Millisecond}).Fetch(context.Background(), url, Target{Dir: t.TempDir(), Vars: Vars{ID: id, Index: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if fileSHA(t, got.Path) != asset.SHA256 {
			t.Errorf("saved bytes differ from the asset")
		}
		if r := assetRanges(srv); strings.Join(r, "|") != "|bytes=1000-" {
			t.Errorf("Range headers %q, want a resume at byte 1000", r)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("silent before the headers", func(t *testing.T) {
		srv, id, url, asset := setup(t)
		srv.InjectAsset(hftest.AssetFault{Hang: true, HangAfter: 0})
		got, err := (&Fetcher{StallTimeout: 200 * time.Millisecond}).Fetch(context.Background(), url, Target{Dir: t.TempDir(), Vars: Vars{ID: id, Index: 1}})
		if err != nil || fileSHA(t, got.Path) != asset.SHA256 {
			t.Fatalf("Fetch = %+v, %v", got, err)
		}
	})
	t.Run("retries run out", func(t *testing.T) {
		srv, id, url, _ := setup(t)
		srv.InjectAsset(hftest.AssetFault{Hang: true, HangAfter: 100, Times: 10})
		_, err := (&Fetcher{StallTimeout: 100 * time.Millisecond, Retries: 1}).Fetch(context.Background(), url, Target{Dir: t.TempDir(), Vars: Vars{ID: id, Index: 1}})
		if err == nil || !strings.Contains(err.Error(), "no data for 100ms") {
			t.Fatalf("err = %v, want a stall", err)
		}
	})
	t.Run("a drip is bounded by the context", func(t *testing.T) {
		srv, id, url, _ := setup(t)
		srv.InjectAsset(hftest.AssetFault{Drip: 20 * time.Millisecond, Times: 10})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := (&Fetcher{StallTimeout: time.Second}).Fetch(ctx, url, Target{Dir: t.TempDir(), Vars: Vars{ID: id, Index: 1}})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("err = %v after %v, want the deadline, promptly", err, time.Since(start))
		}
	})
}

// The size cap holds for announced and unannounced lengths, and for a
// gzip-encoded body whose wire size is under it.
func TestFetchSizeCap(t *testing.T) {
	srv, id, url, asset := setup(t)
	var wire bytes.Buffer
	zw := gzip.NewWriter(&wire)
	zw.Write(assetData(t, url))
	zw.Close()
	if int64(wire.Len()) >= asset.Size {
		t.Fatalf("the asset does not compress (%d → %d)", asset.Size, wire.Len())
	}
	limit := (int64(wire.Len()) + asset.Size) / 2
	tests := []struct {
		name  string
		fault hftest.AssetFault
	}{
		{name: "announced"},
		{name: "gzip-encoded", fault: hftest.AssetFault{Gzip: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.InjectAsset(tt.fault)
			dir := t.TempDir()
			_, err := (&Fetcher{MaxBytes: limit}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
			var de *Error
			if !errors.As(err, &de) || !de.Permanent || !strings.Contains(err.Error(), "more than the limit of") {
				t.Fatalf("err = %v, want a permanent size error", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left %d files behind", len(entries))
			}
		})
	}
	t.Run("gzip-encoded under the cap is saved decoded", func(t *testing.T) {
		srv.InjectAsset(hftest.AssetFault{Gzip: true})
		before := len(assetHits(srv))
		got, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: t.TempDir(), Vars: Vars{ID: id, Index: 1}})
		if err != nil || fileSHA(t, got.Path) != asset.SHA256 || got.Bytes != asset.Size {
			t.Fatalf("Fetch = %+v, %v; want the decoded asset", got, err)
		}
		for _, h := range assetHits(srv)[before:] {
			if h.AcceptEncoding != "identity" {
				t.Errorf("Accept-Encoding %q, want identity", h.AcceptEncoding)
			}
		}
	})
}

// A hard link planted at the part's path would have hf write outside the
// output directory; a hard-linked target is not replaced.
func TestFetchHardLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no link counts here")
	}
	_, id, url, asset := setup(t)
	outside := filepath.Join(t.TempDir(), "victim")
	writeMine(t, outside)
	dir := t.TempDir()
	final := filepath.Join(dir, id+"-1.png")
	for _, p := range []string{final + ".part", final + ".part.meta"} {
		if err := os.Link(outside, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
	if err != nil || fileSHA(t, got.Path) != asset.SHA256 {
		t.Fatalf("Fetch = %+v, %v", got, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "mine" {
		t.Errorf("the file outside -d now holds %q", b)
	}

	// --clobber on a target with another link: refused.
	if err := os.Remove(final); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(outside, final); err != nil {
		t.Fatal(err)
	}
	_, err = (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}, Clobber: true})
	if err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Errorf("err = %v, want a refusal to replace a hard-linked target", err)
	}
}

// --clobber replaces a file hf knows nothing of, or this request's own
// output, but not another request's recorded output unless the template
// names that very file.
func TestFetchClobberOwner(t *testing.T) {
	_, id, url, asset := setup(t)
	tests := []struct {
		name, template, owner string
		count                 int
		wantOwner             string // "" when the file is replaced
	}{
		{name: "unknown file", template: "out.{ext}", count: 1},
		{name: "own output", template: "out.{ext}", owner: "self", count: 1},
		{name: "other's output, placeholder", template: "out.{ext}", owner: "other", count: 1, wantOwner: "other"},
		{name: "other's output, index inserted", template: "out.png", owner: "other", count: 2, wantOwner: "other"},
		{name: "other's output, exact path", template: "out.png", owner: "other", count: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			v := Vars{ID: id, Index: 1, Count: tt.count, Ext: "png"}
			tg := Target{Dir: dir, Template: tmpl(t, tt.template), Vars: v, Clobber: true}
			p, err := tg.path(v)
			if err != nil {
				t.Fatal(err)
			}
			writeMine(t, p)
			tg.Owner = func(path string) string {
				if abs, _ := filepath.Abs(p); path != abs {
					t.Errorf("Owner(%q), want %q", path, abs)
				}
				return map[string]string{"self": id, "other": "other-request"}[tt.owner]
			}
			tg.Vars.Ext = ""
			_, err = (&Fetcher{}).Fetch(context.Background(), url, tg)
			if perr := Precheck(Target{Dir: dir, Template: tg.Template, Vars: v, Clobber: true, Owner: tg.Owner}); (perr != nil) != (tt.wantOwner != "") {
				t.Errorf("Precheck = %v", perr)
			}
			var ee *ExistsError
			if tt.wantOwner == "" {
				if err != nil || fileSHA(t, p) != asset.SHA256 {
					t.Fatalf("err = %v; want %s replaced", err, p)
				}
				return
			}
			if !errors.As(err, &ee) || ee.Owner != "other-request" || strings.Contains(err.Error(), "--clobber") {
				t.Fatalf("err = %v, want an ExistsError naming the owner, without --clobber advice", err)
			}
			if b, _ := os.ReadFile(p); string(b) != "mine" {
				t.Errorf("%s was replaced", p)
			}
		})
	}
}

func TestFetchFailures(t *testing.T) {
	tests := []struct {
		name          string
		url           func(url string) string
		fault         *hftest.Fault
		retries       int
		wantPermanent bool
		wantMsg       string
		wantHits      int
		wantPart      bool
	}{
		{name: "404 unknown asset", url: func(u string) string { return u[:strings.LastIndex(u, "/")] + "/nope.png?sig=secret" },
			wantPermanent: true, wantMsg: "HTTP 404 Not Found", wantHits: 1},
		{name: "403 fault", fault: &hftest.Fault{Endpoint: hftest.AssetEP, Status: 403},
			wantPermanent: true, wantMsg: "HTTP 403 Forbidden", wantHits: 1},
		{name: "5xx until retries run out", fault: &hftest.Fault{Endpoint: hftest.AssetEP, Status: 502, Times: 10}, retries: 2,
			wantMsg: "HTTP 502 Bad Gateway", wantHits: 3},
		{name: "cut until retries run out", fault: &hftest.Fault{Endpoint: hftest.AssetEP, Truncate: 700, Times: 10}, retries: 1,
			wantMsg: "after 1400 bytes", wantHits: 2, wantPart: true},
		{name: "bad scheme", url: func(string) string { return "file:///etc/passwd" },
			wantPermanent: true, wantMsg: `unsupported URL scheme "file"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, id, url, _ := setup(t)
			if tt.url != nil {
				url = tt.url(url)
			}
			if tt.fault != nil {
				srv.Inject(*tt.fault)
			}
			dir := t.TempDir()
			_, err := (&Fetcher{Retries: tt.retries}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if de.Permanent != tt.wantPermanent || !strings.Contains(err.Error(), tt.wantMsg) || strings.ContainsAny(err.Error(), "\n") {
				t.Errorf("err = %q (permanent %v), want one line containing %q (permanent %v)", err, de.Permanent, tt.wantMsg, tt.wantPermanent)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the URL's query: %q", err)
			}
			if n := len(assetRanges(srv)); n != tt.wantHits {
				t.Errorf("%d asset requests, want %d", n, tt.wantHits)
			}
			if _, err := os.Stat(filepath.Join(dir, id+"-1.png")); !os.IsNotExist(err) {
				t.Errorf("final file exists after a failure (stat: %v)", err)
			}
			parts, _ := filepath.Glob(filepath.Join(dir, "*.part"))
			if (len(parts) > 0) != tt.wantPart {
				t.Errorf("part files %v, want some: %v", parts, tt.wantPart)
			}
		})
	}
}

func TestFetchCanceled(t *testing.T) {
	srv, id, url, _ := setup(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.AssetEP, Status: 503, Times: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Fetcher{Retries: 10}).Fetch(ctx, url, Target{Dir: t.TempDir(), Vars: Vars{ID: id}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("err = %v after %v, want the deadline, promptly", err, time.Since(start))
	}
}

func TestFetchNeverOverwrites(t *testing.T) {
	tests := []struct {
		name    string
		clobber bool
		// plant puts something at the final path: before Fetch starts, or
		// from the progress callback, i.e. while the download runs.
		plant       func(t *testing.T, final string)
		duringFetch bool
		wantExists  bool
	}{
		{name: "existing file", plant: writeMine, wantExists: true},
		{name: "file appears during the download", plant: writeMine, duringFetch: true, wantExists: true},
		{name: "clobber replaces a file", plant: writeMine, clobber: true},
		{name: "clobber replaces a file that appears", plant: writeMine, duringFetch: true, clobber: true},
		{name: "symlink is not followed", plant: symlinkToVictim, wantExists: true},
		{name: "symlink appearing is not followed", plant: symlinkToVictim, duringFetch: true, wantExists: true},
		{name: "clobber replaces the symlink itself", plant: symlinkToVictim, clobber: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, id, url, asset := setup(t)
			dir := t.TempDir()
			final := filepath.Join(dir, "out.png")
			target := Target{Dir: dir, Template: tmpl(t, "out.{ext}"), Vars: Vars{ID: id, Ext: "png"}, Clobber: tt.clobber}
			f := &Fetcher{}
			if tt.duringFetch {
				planted := false
				f.Progress = func(int64, int64) {
					if !planted {
						planted = true
						tt.plant(t, final)
					}
				}
			} else {
				tt.plant(t, final)
				var ee *ExistsError
				if err := Precheck(target); errors.As(err, &ee) != tt.wantExists {
					t.Errorf("Precheck = %v, want an ExistsError: %v", err, tt.wantExists)
				}
			}
			got, err := f.Fetch(context.Background(), url, target)
			victim := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-victim")
			if b, _ := os.ReadFile(victim); len(b) > 0 && string(b) != "victim" {
				t.Errorf("the symlink's target was written to")
			}
			if tt.wantExists {
				var ee *ExistsError
				if !errors.As(err, &ee) || ee.Path != final {
					t.Fatalf("err = %v, want an ExistsError for %s", err, final)
				}
				if want := final + " already exists (use --clobber to overwrite)"; err.Error() != want {
					t.Errorf("message %q, want %q", err, want)
				}
				if fi, err := os.Lstat(final); err != nil || fi.Size() == asset.Size {
					t.Errorf("the existing %s was replaced", final)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(final)
			if err != nil || !fi.Mode().IsRegular() || fileSHA(t, final) != asset.SHA256 || got.SHA256 != asset.SHA256 {
				t.Errorf("%s is not the download (mode %v, err %v)", final, fi.Mode(), err)
			}
			noPart(t, dir)
		})
	}
}

func writeMine(t *testing.T, p string) {
	if err := os.WriteFile(p, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// symlinkToVictim links p to a file beside the test's directory.
func symlinkToVictim(t *testing.T, p string) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on windows")
	}
	dir := filepath.Dir(p)
	victim := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-victim")
	if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(victim) })
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
}

func TestFetchRefusesSymlinkedPart(t *testing.T) {
	_, id, url, _ := setup(t)
	dir := t.TempDir()
	symlinkToVictim(t, filepath.Join(dir, "out.png.part"))
	_, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Template: tmpl(t, "out.{ext}"), Vars: Vars{ID: id}})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("err = %v, want a refusal to write through the symlink", err)
	}
	if b, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-victim")); string(b) != "victim" {
		t.Errorf("the symlink's target was written to: %d bytes", len(b))
	}
}

func TestFetchTemplate(t *testing.T) {
	_, id, url, asset := setup(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{name: "subdirectory per model", t: Target{Template: tmpl(t, "{model}/{id}.{ext}"), Vars: Vars{ID: id, Model: model}}, want: "higgsfield-ai_soul_standard/" + id + ".png"},
		{name: "response type beats hint", t: Target{Template: tmpl(t, "a.{ext}"), ContentTypeHint: "video/mp4"}, want: "a.png"},
		{name: "auto index", t: Target{Template: tmpl(t, "b.{ext}"), Vars: Vars{Index: 2, Count: 2}}, want: "b-2.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.t.Dir = dir
			got, err := (&Fetcher{}).Fetch(context.Background(), url, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, filepath.FromSlash(tt.want)); got.Path != want || fileSHA(t, want) != asset.SHA256 {
				t.Errorf("Path = %s, want %s", got.Path, want)
			}
		})
	}
	if _, err := ParseTemplate("../{id}"); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("escaping template: err = %v", err)
	}
}

func TestStream(t *testing.T) {
	tests := []struct {
		name       string
		faults     []hftest.Fault
		wantRanges []string
	}{
		{name: "whole", wantRanges: []string{""}},
		{name: "cut then resumed", faults: []hftest.Fault{{Endpoint: hftest.AssetEP, Truncate: 2048}}, wantRanges: []string{"", "bytes=2048-"}},
		{name: "dropped", faults: []hftest.Fault{{Endpoint: hftest.AssetEP, Drop: true}}, wantRanges: []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, url, asset := setup(t)
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			dir := t.TempDir()
			t.Chdir(dir)
			var buf bytes.Buffer
			got, err := (&Fetcher{}).Stream(context.Background(), url, &buf)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(buf.Bytes())
			want := File{URL: url, ContentType: "image/png", SHA256: asset.SHA256, Bytes: asset.Size}
			if got != want || hex.EncodeToString(sum[:]) != asset.SHA256 {
				t.Errorf("Stream = %+v\nwant     %+v", got, want)
			}
			if r := assetRanges(srv); strings.Join(r, "|") != strings.Join(tt.wantRanges, "|") {
				t.Errorf("asset requests' Range = %q, want %q", r, tt.wantRanges)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("Stream created files: %v", entries)
			}
		})
	}
}

func TestContentRange(t *testing.T) {
	tests := []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 0-99/100", 0, 100, true},
		{"bytes 1000-1999/*", 1000, -1, true},
		{"bytes */500", -1, 500, true},
		{"bytes 5-", 5, 0, false},
		{"items 0-1/2", 0, 0, false},
		{"bytes x-1/2", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		start, total, ok := contentRange(tt.in)
		if ok != tt.ok || ok && (start != tt.start || total != tt.total) {
			t.Errorf("contentRange(%q) = %d, %d, %v; want %d, %d, %v", tt.in, start, total, ok, tt.start, tt.total, tt.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 200 * time.Millisecond}, {1, 400 * time.Millisecond}, {3, 1600 * time.Millisecond},
		{4, 3200 * time.Millisecond}, {5, 5 * time.Second}, {100, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}
