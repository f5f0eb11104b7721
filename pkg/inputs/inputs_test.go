package inputs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// files writes sample files into a temporary directory and returns it.
// Names map to content types; "text" is plain text.
func files(t *testing.T, names map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, ct := range names {
		var data []byte
		switch ct {
		case "text":
			data = []byte("just some words, not an image\n")
		case "empty":
		default:
			data = hftest.Sample(ct, uint64(len(name)))
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sum(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// body decodes a JSON object literal.
func body(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestScan(t *testing.T) {
	dir := files(t, map[string]string{"a.png": "image/png", "b.jpg": "image/jpeg", "c.mp4": "video/mp4", "sub/d.wav": "audio/wav", "e.webp": "image/webp", "f.gif": "image/gif", "lies.png": "image/jpeg"})
	tests := []struct {
		name string
		mode Mode
		body string
		// want lists field=path:type of each ref, in order.
		want []string
	}{
		{"set: one file", SetFlags, `{"image_url":"@a.png"}`, []string{"image_url=a.png:image/png"}},
		{"set: any field name", SetFlags, `{"start_frame":"@b.jpg","seed":42}`, []string{"start_frame=b.jpg:image/jpeg"}},
		{"set: array", SetFlags, `{"image_urls":["@a.png","@b.jpg","https://x/y.png"]}`, []string{"image_urls[0]=a.png:image/png", "image_urls[1]=b.jpg:image/jpeg"}},
		{"set: nested arrays", SetFlags, `{"frames":[["@c.mp4"]]}`, []string{"frames[0][0]=c.mp4:video/mp4"}},
		{"set: objects follow field names", SetFlags, `{"ref":{"note":"@a.png","end_image_url":"@b.jpg"}}`, []string{"ref.end_image_url=b.jpg:image/jpeg"}},
		{"set: escaped", SetFlags, `{"name":"@@handle"}`, nil},
		{"set: subdirectory", SetFlags, `{"audio_url":"@sub/d.wav"}`, []string{"audio_url=sub/d.wav:audio/wav"}},
		{"set: every type", SetFlags, `{"a":"@e.webp","b":"@f.gif"}`, []string{"a=e.webp:image/webp", "b=f.gif:image/gif"}},
		{"set: content beats extension", SetFlags, `{"image_url":"@lies.png"}`, []string{"image_url=lies.png:image/jpeg"}},
		{"json: prompt is never a file", JSONFields, `{"prompt":"@a.png"}`, nil},
		{"json: _url", JSONFields, `{"prompt":"x","image_url":"@a.png"}`, []string{"image_url=a.png:image/png"}},
		{"json: _urls", JSONFields, `{"video_urls":["@c.mp4"]}`, []string{"video_urls[0]=c.mp4:video/mp4"}},
		{"json: images", JSONFields, `{"input_images":["@a.png"],"images":["@b.jpg"]}`, []string{"images[0]=b.jpg:image/jpeg", "input_images[0]=a.png:image/png"}},
		{"json: nested", JSONFields, `{"refs":[{"image_url":"@a.png","label":"@b.jpg"}]}`, []string{"refs[0].image_url=a.png:image/png"}},
		{"json: other fields", JSONFields, `{"style":"@a.png","url_list":"@a.png"}`, nil},
		{"json: escaped", JSONFields, `{"image_url":"@@a.png"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := body(t, tt.body)
			before, _ := json.Marshal(in)
			refs, err := Scan(in, tt.mode, dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range refs {
				got = append(got, r.Field+"="+r.Path+":"+r.ContentType)
				if r.SHA256 != sum(t, filepath.Join(dir, r.Path)) {
					t.Fatalf("%s: sha256 %s", r.Path, r.SHA256)
				}
				if info, _ := os.Stat(filepath.Join(dir, r.Path)); r.Size != info.Size() {
					t.Fatalf("%s: size %d", r.Path, r.Size)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("refs %q, want %q", got, tt.want)
			}
			if after, _ := json.Marshal(in); string(after) != string(before) {
				t.Fatal("Scan changed the body")
			}
		})
	}
}

func TestScanErrors(t *testing.T) {
	dir := files(t, map[string]string{"notes.txt": "text", "fake.png": "text", "empty.png": "empty", "ok.png": "image/png"})
	if err := os.Mkdir(filepath.Join(dir, "folder.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body, path, reason string
	}{
		{"missing", `{"image_url":"@nope.png"}`, "nope.png", "does not exist"},
		{"text", `{"image_url":"@notes.txt"}`, "notes.txt", "is text/plain"},
		{"text named png", `{"image_url":"@fake.png"}`, "fake.png", "is text/plain"},
		{"empty", `{"image_url":"@empty.png"}`, "empty.png", "is empty"},
		{"directory", `{"image_url":"@folder.png"}`, "folder.png", "is a directory"},
		{"fifo", `{"image_url":"@pipe.png"}`, "pipe.png", "is not a regular file"},
		{"no name", `{"image_url":"@"}`, "", "has no name"},
		{"second element", `{"image_urls":["@ok.png","@nope.png"]}`, "nope.png", "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Scan(body(t, tt.body), SetFlags, dir)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %T %v, want *FileError", err, err)
			}
			if fe.Path != tt.path || !strings.Contains(fe.Reason, tt.reason) || !reflect.DeepEqual(fe.Supported, Supported) {
				t.Fatalf("%+v", fe)
			}
			msg := err.Error()
			for _, want := range []string{tt.path, tt.reason, "image/jpeg, image/png, image/webp, image/gif, audio/wav, video/mp4"} {
				if !strings.Contains(msg, want) {
					t.Fatalf("message %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("message on several lines: %q", msg)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads any file")
		}
		p := filepath.Join(dir, "secret.png")
		if err := os.WriteFile(p, hftest.Sample("image/png", 1), 0o000); err != nil {
			t.Fatal(err)
		}
		_, err := Scan(map[string]any{"x": "@secret.png"}, SetFlags, dir)
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "not readable") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestScanPaths(t *testing.T) {
	dir := files(t, map[string]string{"a.png": "image/png"})
	home := files(t, map[string]string{"pics/h.png": "image/png"})
	t.Setenv("HOME", home)
	t.Chdir(dir)
	tests := []struct{ body, base string }{
		{`{"x":"@a.png"}`, ""},  // the working directory
		{`{"x":"@a.png"}`, dir}, // baseDir
		{`{"x":"@` + filepath.Join(dir, "a.png") + `"}`, "/elsewhere"},
		{`{"x":"@~/pics/h.png"}`, "/elsewhere"},
	}
	for _, tt := range tests {
		refs, err := Scan(body(t, tt.body), SetFlags, tt.base)
		if err != nil || len(refs) != 1 || refs[0].ContentType != "image/png" {
			t.Fatalf("%s (base %q): %+v %v", tt.body, tt.base, refs, err)
		}
	}
	if _, err := Scan(body(t, `{"x":"@a.png"}`), SetFlags, home); err == nil {
		t.Fatal("a relative path did not resolve against baseDir")
	}
}

func TestUnescapeAndPreview(t *testing.T) {
	dir := files(t, map[string]string{"a.png": "image/png"})
	in := body(t, `{"prompt":"@@me at dawn","image_url":"@a.png","tags":["@@x","y"],"n":3}`)
	got := Unescape(in, JSONFields)
	want := body(t, `{"prompt":"@me at dawn","image_url":"@a.png","tags":["@x","y"],"n":3}`)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Unescape = %v", got)
	}
	prev, refs, err := Preview(in, JSONFields, dir)
	if err != nil || len(refs) != 1 || prev["image_url"] != "https://upload.invalid/"+refs[0].SHA256[:12]+"/a.png" || prev["prompt"] != "@me at dawn" {
		t.Fatalf("Preview = %v %v %v", prev, refs, err)
	}
	if in["image_url"] != "@a.png" || in["prompt"] != "@@me at dawn" {
		t.Fatal("the input body was modified")
	}
	if _, err := Scan(in, Mode(0), dir); err == nil {
		t.Fatal("mode 0 accepted")
	}
}
