package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Fuzz seeds: the f.Add calls below plus testdata/fuzz/<FuzzName>/. Plain
// `go test` runs them all; scripts/fuzz.sh runs the fuzzers for a while.

var fuzzExt = regexp.MustCompile(`^[a-z0-9]{1,10}$`)

// fuzzDirs are output directories a rendered name is joined to.
var fuzzDirs = []string{"/srv/hf/out", "out", "."}

// FuzzRender expands fuzzed templates with fuzzed ids, models and
// extensions, as the API and the user can supply them.
//
// Invariants: no panic; a successful result is non-empty, clean, relative,
// filepath.IsLocal, and joined to any output directory stays strictly
// inside it; errors are one line when the template is (the unknown
// placeholder error repeats the name unquoted); when several outputs share
// a template without {index}, two indexes never give the same name.
func FuzzRender(f *testing.F) {
	for _, s := range []struct {
		template, id, model, ext string
		index, count             int
	}{
		{DefaultTemplate, "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", "higgsfield-ai/soul/standard", "png", 1, 1},
		{"{date}_{model}_{id}_{index}of{count}.{ext}", "d7e6c0f3", "kling-video/v2.1/pro/image-to-video", "mp4", 2, 4},
		{"{model}/{id}.{ext}", "../../etc", "..", "../sh", 1, 1},
		{"a/../{id}", "..", "", ".PNG", 1, 1},
		{"out.{ext}", "x", "m", "", 3, 3},
		{".out", "x", "m", "abcdefghijk", 1, 2},
		{"{model}.d/{id}.{ext}", "x", "m", "jpg", 2, 2},
		{"../x", "x", "m", "png", 1, 1},
		{"/tmp/{id}", "x", "m", "png", 1, 1},
		{`C:\{id}`, "x", "m", "png", 1, 1},
		{`\\server\share\{id}`, "x", "m", "png", 1, 1},
		{"{id}", "", "m", "png", 1, 1},
		{"{id", "x", "m", "png", 1, 1},
		{"id}", "x", "m", "png", 1, 1},
		{"{name}", "x", "m", "png", 1, 1},
		{".", "x", "m", "png", 1, 1},
		{"x/..", "x", "m", "png", 1, 2},
		{"{id}/{model}/..", ".", "..", "png", 1, 2},
		{"{id}{model}", ".", ".", "png", 1, 1},
		{"é/{id}\x00.{ext}", "a\\b:c*d é", "a/b c?", "\u212a", -1, 0},
	} {
		f.Add(s.template, s.id, s.model, s.ext, s.index, s.count)
	}
	day := time.Date(2026, 3, 7, 12, 0, 0, 0, time.Local)
	f.Fuzz(func(t *testing.T, template, id, model, ext string, index, count int) {
		v := Vars{ID: id, Model: model, Index: index, Count: count, Ext: ext, Now: day}
		got, err := Render(template, v)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") && !strings.ContainsAny(template, "\r\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		fuzzCheckInside(t, got)
		again, err := Render(template, v)
		if err != nil || again != got {
			t.Fatalf("second render %q, %v; first %q", again, err, got)
		}
		if count > 1 && !strings.Contains(template, "{index}") {
			v.Index = index + 1
			if other, err := Render(template, v); err == nil && other == got {
				t.Fatalf("indexes %d and %d of %d both render to %q", index, index+1, count, got)
			}
		}
	})
}

// FuzzExtFor chooses extensions from fuzzed Content-Types and URLs.
//
// Invariants: no panic; the extension always matches [a-z0-9]{1,10}, so
// it can add nothing to a path but a plain suffix.
func FuzzExtFor(f *testing.F) {
	for _, s := range [][2]string{
		{"image/png", "https://cdn.higgsfield.ai/a/b.png"},
		{"image/jpeg; charset=binary", ""},
		{"application/octet-stream", "https://cdn/x/video.MP4?sig=abc#frag"},
		{"binary/octet-stream", "https://cdn/x/archive.tar.gz"},
		{"", "https://cdn/x/noext"},
		{"", "https://cdn/x/a.verylongextension"},
		{"", "https://cdn/x/a.p%6Eg"},
		{"", "https://cdn/x/..%2F..%2Fetc%2Fpasswd"},
		{"text/html; charset=utf-8", "https://cdn/x/a.png"},
		{"model/vnd.usdz+zip", ""},
		{"image/svg+xml", ""},
		{"video/quicktime", "https://cdn/x/a.mov"},
		{"not a type", "::not a url"},
		{"application/x-\u212aelvin", "https://cdn/x/a.\u212a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, contentType, rawURL string) {
		if ext := ExtFor(contentType, rawURL); !fuzzExt.MatchString(ext) {
			t.Fatalf("ExtFor(%q, %q) = %q", contentType, rawURL, ext)
		}
	})
}

// FuzzFetchName runs a whole Fetch against an in-memory server whose
// Content-Type, asset URL path, the API's content_type hint, the template
// and the request id are fuzzed.
//
// Invariants: no panic; a file is written only strictly inside the output
// directory, with the bytes served, under the path Fetch reports, whose
// extension (with the default template) matches [a-z0-9]{1,10}; no ".part"
// is left after a success; nothing at all appears outside the directory.
func FuzzFetchName(f *testing.F) {
	for _, s := range []struct{ ctype, hint, urlPath, template, id string }{
		{"image/png", "", "/out/a.png", "", "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"},
		{"application/octet-stream", "video/mp4", "/out/v", "{model}/{id}-{index}.{ext}", "r1"},
		{"", "", "/out/a.webp?X-Amz-Signature=abc", "", "r1"},
		{"text/html", "image/jpeg", "/../../etc/passwd", "", "../../etc"},
		{"image/png", "", "/a.png", "../{id}.{ext}", "r1"},
		{"image/png", "", "/a.png", "{id}/../../x.{ext}", "r1"},
		{"image/png", "", "/a.png", "sub/dir/{id}.{ext}", ".."},
		{"image/png; name=\"../../x\"", "", "/a.png", "", "r1"},
		{"", "", "/%2e%2e/%2e%2e/a.sh", "", "r1"},
	} {
		f.Add(s.ctype, s.hint, s.urlPath, s.template, s.id)
	}
	payload := []byte("\x89PNG\r\n\x1a\nfuzz")
	sum := sha256.Sum256(payload)
	f.Fuzz(func(t *testing.T, ctype, hint, urlPath, template, id string) {
		root := t.TempDir()
		dir := filepath.Join(root, "out")
		fetcher := &Fetcher{Retries: -1, Client: &http.Client{Transport: fuzzServer(func(*http.Request) *http.Response {
			h := http.Header{}
			if ctype != "" {
				h.Set("Content-Type", ctype)
			}
			return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(payload)), ContentLength: int64(len(payload))}
		})}}
		tp, err := ParseTemplate(template)
		if err != nil {
			return
		}
		target := Target{Dir: dir, Template: tp, ContentTypeHint: hint,
			Vars: Vars{ID: id, Model: "higgsfield-ai/soul/standard", Index: 1, Count: 1, Now: time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)}}
		file, err := fetcher.Fetch(context.Background(), "https://cdn.example"+urlPath, target)

		// Whatever happened, nothing may exist outside dir.
		if entries, _ := os.ReadDir(root); len(entries) > 1 || len(entries) == 1 && entries[0].Name() != "out" {
			t.Fatalf("Fetch created %v next to the output directory", entries)
		}
		if err != nil {
			return
		}
		rel, rerr := filepath.Rel(dir, file.Path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		fuzzCheckInside(t, rel)
		if got, err := os.ReadFile(file.Path); err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%s holds %q, %v", file.Path, got, err)
		}
		if file.SHA256 != hex.EncodeToString(sum[:]) || file.Bytes != int64(len(payload)) {
			t.Fatalf("File %+v", file)
		}
		if _, err := os.Lstat(file.Path + ".part"); err == nil {
			t.Fatalf("%s.part left behind", file.Path)
		}
		if template == "" {
			if ext := strings.TrimPrefix(filepath.Ext(file.Path), "."); !fuzzExt.MatchString(ext) {
				t.Fatalf("extension %q of %s", ext, file.Path)
			}
		}
		var files []string
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) != 1 || files[0] != file.Path {
			t.Fatalf("files under the directory: %q, want only %s", files, file.Path)
		}
	})
}

// fuzzCheckInside fails t unless rel is a clean, local, relative name that
// stays strictly inside every directory it is joined to.
func fuzzCheckInside(t *testing.T, rel string) {
	t.Helper()
	if rel == "" || rel == "." || filepath.IsAbs(rel) || !filepath.IsLocal(rel) || filepath.Clean(rel) != rel {
		t.Fatalf("name %q is not a clean local relative path", rel)
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == ".." || part == "." || part == "" {
			t.Fatalf("name %q has a %q element", rel, part)
		}
	}
	for _, dir := range fuzzDirs {
		joined := filepath.Join(dir, rel)
		prefix := filepath.Clean(dir) + string(filepath.Separator)
		if dir == "." {
			prefix = ""
		}
		if !strings.HasPrefix(joined, prefix) || joined == filepath.Clean(dir) {
			t.Fatalf("%q joined to %q gives %q, outside it", rel, dir, joined)
		}
		if r, err := filepath.Rel(dir, joined); err != nil || r != rel {
			t.Fatalf("Rel(%q, %q) = %q, %v", dir, joined, r, err)
		}
	}
}

// fuzzServer answers every request in memory.
type fuzzServer func(*http.Request) *http.Response

func (s fuzzServer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := s(req)
	resp.Request = req
	return resp, nil
}
