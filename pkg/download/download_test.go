package download

import (
	"bytes"
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

func TestFetchResumesExistingPart(t *testing.T) {
	srv, id, url, asset := setup(t)
	data := assetData(t, url)
	tests := []struct {
		name      string
		part      []byte
		wantRange string
	}{
		{name: "prefix", part: data[:5000], wantRange: "bytes=5000-"},
		{name: "complete part (416)", part: data, wantRange: "bytes=" + strconv.Itoa(len(data)) + "-"},
		{name: "part longer than the asset starts over", part: append(bytes.Clone(data), "junk"...), wantRange: "bytes=" + strconv.Itoa(len(data)+4) + "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			final := filepath.Join(dir, id+"-1.png")
			if err := os.WriteFile(final+".part", tt.part, 0o644); err != nil {
				t.Fatal(err)
			}
			before := len(assetRanges(srv))
			got, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if got.SHA256 != asset.SHA256 || got.Bytes != asset.Size || fileSHA(t, final) != asset.SHA256 {
				t.Errorf("got %+v; want sha256 %s, %d bytes", got, asset.SHA256, asset.Size)
			}
			ranges := assetRanges(srv)[before:]
			if len(ranges) < 2 || ranges[1] != tt.wantRange {
				t.Errorf("asset requests' Range = %q, want the second to be %q", ranges, tt.wantRange)
			}
			noPart(t, dir)
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
			target := Target{Dir: dir, Template: "out.{ext}", Vars: Vars{ID: id, Ext: "png"}, Clobber: tt.clobber}
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
	_, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Template: "out.{ext}", Vars: Vars{ID: id}})
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
		{name: "subdirectory per model", t: Target{Template: "{model}/{id}.{ext}", Vars: Vars{ID: id, Model: model}}, want: "higgsfield-ai_soul_standard/" + id + ".png"},
		{name: "response type beats hint", t: Target{Template: "a.{ext}", ContentTypeHint: "video/mp4"}, want: "a.png"},
		{name: "auto index", t: Target{Template: "b.{ext}", Vars: Vars{Index: 2, Count: 2}}, want: "b-2.png"},
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
	if _, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Template: "../{id}"}); err == nil || !strings.Contains(err.Error(), "outside") {
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
