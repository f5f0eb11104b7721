package inputs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

func fake(t *testing.T) (*hftest.Server, *higgsfield.Client) {
	t.Helper()
	srv := hftest.New(hftest.WithCredentials("id", "secret"))
	t.Cleanup(srv.Close)
	c, err := higgsfield.New(higgsfield.Options{BaseURL: srv.URL, Credentials: higgsfield.Credentials{ID: "id", Secret: "secret"}, InitialBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// served fetches a public URL from the fake.
func served(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return data
}

func TestResolveUploads(t *testing.T) {
	dir := files(t, map[string]string{"cat.png": "image/png", "dog.jpg": "image/jpeg", "clip.mp4": "video/mp4"})
	// A copy of cat.png under another name: the same content, uploaded once.
	data, _ := os.ReadFile(filepath.Join(dir, "cat.png"))
	if err := os.WriteFile(filepath.Join(dir, "cat-copy.png"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, c := fake(t)
	var events []Event
	r := &Resolver{Uploader: c, Progress: func(e Event) { events = append(events, e) }}
	in := body(t, `{"image_url":"@cat.png","image_urls":["@dog.jpg","@cat-copy.png","https://example.com/x.png"],"video_url":"@clip.mp4","note":"@@literal","seed":7}`)
	out, refs, err := r.Resolve(ctxT(t), in, SetFlags, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 4 {
		t.Fatalf("refs %+v", refs)
	}
	// What the fake stored, by its own digest, against the files on disk.
	stored := srv.Stored()
	want := []string{sum(t, filepath.Join(dir, "cat.png")), sum(t, filepath.Join(dir, "dog.jpg")), sum(t, filepath.Join(dir, "clip.mp4"))}
	if len(stored) != 3 || srv.Count(hftest.Upload) != 3 || srv.Count(hftest.UploadPut) != 3 {
		t.Fatalf("stored %v (%d slots, %d PUTs), want one per distinct content", stored, srv.Count(hftest.Upload), srv.Count(hftest.UploadPut))
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(stored, " "), w) {
			t.Fatalf("content %s never reached storage: %v", w, stored)
		}
	}
	if srv.CredentialLeaks() != 0 {
		t.Fatal("credentials sent to storage")
	}
	urls := out["image_urls"].([]any)
	for field, path := range map[any]string{out["image_url"]: "cat.png", urls[0]: "dog.jpg", urls[1]: "cat-copy.png", out["video_url"]: "clip.mp4"} {
		u, _ := field.(string)
		if !strings.HasPrefix(u, srv.AssetURL+"/in/") {
			t.Fatalf("%s became %q", path, u)
		}
		got := served(t, u)
		disk, _ := os.ReadFile(filepath.Join(dir, path))
		if string(got) != string(disk) {
			t.Fatalf("%s: the public URL serves other bytes", path)
		}
	}
	if out["image_url"] != urls[1] {
		t.Fatal("one content got two URLs")
	}
	if urls[2] != "https://example.com/x.png" || out["note"] != "@literal" || out["seed"] != float64(7) {
		t.Fatalf("other values changed: %v", out)
	}
	if in["image_url"] != "@cat.png" || in["note"] != "@@literal" {
		t.Fatal("Resolve modified its input")
	}
	var finished, cached int
	for _, e := range events {
		if e.Done > e.Total {
			t.Fatalf("event %+v", e)
		}
		if e.URL != "" {
			finished++
			if e.Cached {
				cached++
			}
		}
	}
	if finished != 4 || cached != 1 {
		t.Fatalf("%d finished events (%d cached), want 4 (1)", finished, cached)
	}
}

func TestResolveBadFileUploadsNothing(t *testing.T) {
	dir := files(t, map[string]string{"ok.png": "image/png", "notes.txt": "text"})
	srv, c := fake(t)
	r := &Resolver{Uploader: c}
	_, _, err := r.Resolve(ctxT(t), body(t, `{"a_url":"@ok.png","b_url":"@notes.txt"}`), JSONFields, dir)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != "notes.txt" {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Hits()); n != 0 {
		t.Fatalf("%d requests reached the API for a body with a bad file", n)
	}
}

func TestResolveCache(t *testing.T) {
	dir := files(t, map[string]string{"cat.png": "image/png"})
	state := t.TempDir()
	srv, c := fake(t)
	now := time.Now()
	run := func(scope string) string {
		t.Helper()
		cache, err := OpenCache(filepath.Join(state, "hf"))
		if err != nil {
			t.Fatal(err)
		}
		cache.SetClock(func() time.Time { return now })
		r := &Resolver{Uploader: c, Cache: cache, Scope: scope} // a new process each time
		out, _, err := r.Resolve(ctxT(t), map[string]any{"image_url": "@cat.png"}, SetFlags, dir)
		if err != nil {
			t.Fatal(err)
		}
		return out["image_url"].(string)
	}
	first := run(srv.URL)
	now = now.Add(49 * time.Minute)
	second := run(srv.URL)
	if first != second || srv.Count(hftest.UploadPut) != 1 {
		t.Fatalf("a re-run within 50 minutes uploaded again (%d PUTs)", srv.Count(hftest.UploadPut))
	}
	other := run("http://another.api")
	if other == first || srv.Count(hftest.UploadPut) != 2 {
		t.Fatal("a URL from another API was reused")
	}
	now = now.Add(2 * time.Minute) // 51 minutes after the first upload
	third := run(srv.URL)
	if third == first || srv.Count(hftest.UploadPut) != 3 {
		t.Fatal("a URL older than 50 minutes was reused")
	}
	for path, mode := range map[string]os.FileMode{filepath.Join(state, "hf"): 0o700, filepath.Join(state, "hf", "uploads.json"): 0o600} {
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want %o", path, info.Mode(), err, mode)
		}
	}
	// A corrupt cache costs an upload, not a failure.
	if err := os.WriteFile(filepath.Join(state, "hf", "uploads.json"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(srv.URL)
	if srv.Count(hftest.UploadPut) != 4 {
		t.Fatal("corrupt cache")
	}
	run(srv.URL)
	if srv.Count(hftest.UploadPut) != 4 {
		t.Fatal("the cache was not rewritten after corruption")
	}
}

func TestResolveConcurrent(t *testing.T) {
	dir := files(t, map[string]string{"cat.png": "image/png", "dog.jpg": "image/jpeg"})
	srv, c := fake(t)
	srv.SetUploadDelay(50 * time.Millisecond) // keep the first upload in flight
	cache, err := OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Uploader: c, Cache: cache, Scope: srv.URL}
	var wg sync.WaitGroup
	urls := make([]string, 8)
	errs := make([]error, 8)
	for i := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _, err := r.Resolve(ctxT(t), map[string]any{"image_urls": []any{"@cat.png", "@dog.jpg"}}, SetFlags, dir)
			errs[i] = err
			if err == nil {
				urls[i] = fmt.Sprint(out["image_urls"])
			}
		}()
	}
	wg.Wait()
	for i := range urls {
		if errs[i] != nil || urls[i] != urls[0] {
			t.Fatalf("goroutine %d: %v %s vs %s", i, errs[i], urls[i], urls[0])
		}
	}
	if srv.Count(hftest.UploadPut) != 2 {
		t.Fatalf("%d PUTs for 2 distinct contents", srv.Count(hftest.UploadPut))
	}
}

func TestResolveFileChanged(t *testing.T) {
	dir := files(t, map[string]string{"cat.png": "image/png"})
	srv, c := fake(t)
	r := &Resolver{Uploader: c}
	f, err := scan(map[string]any{"x": "@cat.png"}, SetFlags, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The file is replaced after its check, before the upload.
	if err := os.WriteFile(filepath.Join(dir, "cat.png"), hftest.Sample("image/png", 999), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = r.fetch(ctxT(t), f[0])
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), ErrChanged.Error()) {
		t.Fatalf("err = %v", err)
	}
	_ = srv
}

func TestResolveRetriesRewind(t *testing.T) {
	dir := files(t, map[string]string{"clip.mp4": "video/mp4"})
	srv, c := fake(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.UploadPut, Status: 503})
	srv.Inject(hftest.Fault{Endpoint: hftest.UploadPut, Status: 403}) // then a fresh slot
	r := &Resolver{Uploader: c}
	out, _, err := r.Resolve(ctxT(t), map[string]any{"video_url": "@clip.mp4"}, JSONFields, dir)
	if err != nil {
		t.Fatal(err)
	}
	stored := srv.Stored()
	if len(stored) != 1 || stored[0] != sum(t, filepath.Join(dir, "clip.mp4")) || srv.Count(hftest.UploadPut) != 3 {
		t.Fatalf("stored %v after %d PUTs", stored, srv.Count(hftest.UploadPut))
	}
	if string(served(t, out["video_url"].(string))) != string(must(os.ReadFile(filepath.Join(dir, "clip.mp4")))) {
		t.Fatal("a retried upload stored other bytes")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestCacheProcesses runs several processes (this test binary) that write
// the cache at once; no entry may be lost.
func TestCacheProcesses(t *testing.T) {
	if dir := os.Getenv("HF_INPUTS_CACHE_CHILD"); dir != "" {
		return // the child's work happens in TestMain
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	const procs, each = 4, 15
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheProcesses$")
		cmd.Env = append(os.Environ(), "HF_INPUTS_CACHE_CHILD="+dir, "HF_INPUTS_CACHE_ID="+strconv.Itoa(p), "HF_INPUTS_CACHE_N="+strconv.Itoa(each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	cache, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	for p := range procs {
		for i := range each {
			u, ok, err := cache.Get(fmt.Sprintf("sha-%d-%d", p, i), "image/png", "s")
			if err != nil || !ok || u != fmt.Sprintf("https://cdn/%d/%d", p, i) {
				t.Fatalf("entry %d/%d lost: %q %v %v", p, i, u, ok, err)
			}
		}
	}
	var entries []CacheEntry
	if err := json.Unmarshal(must(os.ReadFile(cache.Path())), &entries); err != nil || len(entries) != procs*each {
		t.Fatalf("%d entries: %v", len(entries), err)
	}
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("HF_INPUTS_CACHE_CHILD"); dir != "" {
		id, n := os.Getenv("HF_INPUTS_CACHE_ID"), must(strconv.Atoi(os.Getenv("HF_INPUTS_CACHE_N")))
		cache, err := OpenCache(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for i := range n {
			if err := cache.Put(fmt.Sprintf("sha-%s-%d", id, i), "image/png", "s", fmt.Sprintf("https://cdn/%s/%d", id, i)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A file that shrank, grew or changed in place after its check is a
// *FileError naming the change (exit 2), not a transport error, and it is
// not sent again and again.
func TestResolveFileChangedWays(t *testing.T) {
	tests := map[string]func(orig []byte) []byte{
		"shrank": func(b []byte) []byte { return b[:len(b)/2] },
		"grew":   func(b []byte) []byte { return append(append([]byte{}, b...), make([]byte, 4096)...) },
		"in place": func(b []byte) []byte {
			c := append([]byte{}, b...)
			c[len(c)-1] ^= 0xff
			return c
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			dir := files(t, map[string]string{"cat.png": "image/png"})
			srv, c := fake(t)
			r := &Resolver{Uploader: c}
			f, err := scan(map[string]any{"x": "@cat.png"}, SetFlags, dir)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "cat.png")
			if err := os.WriteFile(path, change(must(os.ReadFile(path))), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = r.fetch(ctxT(t), f[0])
			var fe *FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), ErrChanged.Error()) {
				t.Fatalf("err = %v, want a *FileError saying it changed", err)
			}
			if n := srv.Count(hftest.UploadPut); n > 1 {
				t.Fatalf("%d PUTs of a changed file", n)
			}
		})
	}
}

// The cache is only trusted when nobody else could have written it: a cache
// file writable by others, or an entry whose URL is not http(s), is not
// reused (it costs an upload), and the next write replaces the file with a
// private one.
func TestCacheUntrusted(t *testing.T) {
	const sha, ct, scope = "abc", "image/png", "s"
	entry := func(url string, at time.Time) []byte {
		return must(json.Marshal([]CacheEntry{{SHA256: sha, ContentType: ct, Scope: scope, URL: url, Time: at}}))
	}
	now := time.Now()
	tests := []struct {
		name string
		data []byte
		mode os.FileMode
		hit  bool
	}{
		{"private and fresh", entry("https://cdn.example/x.png", now), 0o600, true},
		{"world-writable", entry("https://evil.example/x.png", now), 0o666, false},
		{"group-writable", entry("https://evil.example/x.png", now), 0o620, false},
		{"not a URL", entry("file:///etc/passwd", now), 0o600, false},
		{"relative", entry("/x.png", now), 0o600, false},
		{"in the future", entry("https://cdn.example/x.png", now.Add(time.Hour)), 0o600, false},
		{"truncated", entry("https://cdn.example/x.png", now)[:20], 0o600, false},
		{"empty", nil, 0o600, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cache, err := OpenCache(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cache.Path(), tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(cache.Path(), tt.mode); err != nil {
				t.Fatal(err)
			}
			_, hit, _ := cache.Get(sha, ct, scope)
			if hit != tt.hit {
				t.Fatalf("hit = %v, want %v", hit, tt.hit)
			}
			if err := cache.Put("def", ct, scope, "https://cdn.example/y.png"); err != nil {
				t.Fatal(err)
			}
			if info, err := os.Stat(cache.Path()); err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("after a write: %v %v", info, err)
			}
			if _, hit, _ := cache.Get("def", ct, scope); !hit {
				t.Fatal("the rewritten cache lost the new entry")
			}
		})
	}
}
