package download

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	day := time.Date(2026, 3, 7, 23, 0, 0, 0, time.Local)
	base := Vars{ID: "d7e6c0f3-6699", Model: "higgsfield-ai/soul/standard", Index: 2, Count: 1, Ext: "png", Now: day}
	tests := []struct {
		name, template string
		vars           func(v *Vars)
		want           string // slash-separated; "" when an error is expected
		wantErr        string
	}{
		{name: "default", template: DefaultTemplate, want: "d7e6c0f3-6699-2.png"},
		{name: "every placeholder", template: "{date}_{model}_{id}_{index}of{count}.{ext}", want: "20260307_higgsfield-ai_soul_standard_d7e6c0f3-6699_2of1.png"},
		{name: "subdirectory", template: "{model}/{id}.{ext}", want: "higgsfield-ai_soul_standard/d7e6c0f3-6699.png"},
		{name: "literal name", template: "out.png", want: "out.png"},
		{name: "inner dotdot stays inside", template: "a/../{id}", want: "d7e6c0f3-6699"},
		{name: "id cannot climb", template: "{id}.{ext}", vars: func(v *Vars) { v.ID = "../../etc" }, want: ".._.._etc.png"},
		{name: "id of dots", template: "{id}/x", vars: func(v *Vars) { v.ID = ".." }, want: "__/x"},
		{name: "id unsafe runes", template: "{id}", vars: func(v *Vars) { v.ID = `a\b:c*d é` }, want: "a_b_c_d__"},
		{name: "model unsafe runes", template: "{model}", vars: func(v *Vars) { v.Model = "a/b c?" }, want: "a_b_c_"},
		{name: "bad ext", template: "{id}.{ext}", vars: func(v *Vars) { v.Ext = "../sh" }, want: "d7e6c0f3-6699.bin"},
		{name: "long ext", template: "x.{ext}", vars: func(v *Vars) { v.Ext = "abcdefghijk" }, want: "x.bin"},
		{name: "ext with dot and case", template: "x.{ext}", vars: func(v *Vars) { v.Ext = ".PNG" }, want: "x.png"},
		{name: "empty ext", template: "x.{ext}", vars: func(v *Vars) { v.Ext = "" }, want: "x.bin"},
		{name: "auto index before ext", template: "out.{ext}", vars: func(v *Vars) { v.Count, v.Index = 3, 1 }, want: "out-1.png"},
		{name: "auto index without ext", template: "out", vars: func(v *Vars) { v.Count, v.Index = 3, 1 }, want: "out-1"},
		{name: "auto index in last element", template: "{model}.d/{id}.{ext}", vars: func(v *Vars) { v.Count = 2 }, want: "higgsfield-ai_soul_standard.d/d7e6c0f3-6699-2.png"},
		{name: "auto index hidden file", template: ".out", vars: func(v *Vars) { v.Count = 2 }, want: ".out-2"},
		{name: "index present", template: "{index}_{id}.{ext}", vars: func(v *Vars) { v.Count = 2 }, want: "2_d7e6c0f3-6699.png"},
		{name: "empty", template: "", wantErr: "empty"},
		{name: "escapes", template: "../x", wantErr: "outside the output directory"},
		{name: "escapes after cleaning", template: "a/../../{id}", wantErr: "outside the output directory"},
		{name: "absolute", template: "/tmp/{id}", wantErr: "absolute"},
		{name: "backslash absolute", template: `\tmp\{id}`, wantErr: "absolute"},
		{name: "volume", template: `C:\{id}`, wantErr: "absolute"},
		{name: "unknown placeholder", template: "{id}-{name}", wantErr: "unknown placeholder {name}"},
		{name: "unmatched open", template: "{id", wantErr: "unmatched brace"},
		{name: "unmatched close", template: "id}", wantErr: "unmatched brace"},
		{name: "empty result", template: "{id}", vars: func(v *Vars) { v.ID = "" }, wantErr: "empty name"},
		{name: "dot result", template: ".", wantErr: "outside the output directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base
			if tt.vars != nil {
				tt.vars(&v)
			}
			got, err := Render(tt.template, v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Render(%q) = %q, %v; want error containing %q", tt.template, got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil || got != filepath.FromSlash(tt.want) {
				t.Fatalf("Render(%q) = %q, %v; want %q", tt.template, got, err, tt.want)
			}
		})
	}
}

func TestRenderDateDefaultsToToday(t *testing.T) {
	got, err := Render("{date}", Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Now().Format("20060102"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExtFor(t *testing.T) {
	tests := []struct {
		contentType, url, want string
	}{
		{"image/png", "", "png"},
		{"image/jpeg", "https://cdn.example/x.png", "jpg"},
		{"IMAGE/JPEG; charset=binary", "", "jpg"},
		{"image/webp", "", "webp"},
		{"image/gif", "", "gif"},
		{"video/mp4", "", "mp4"},
		{"video/quicktime", "", "mov"},
		{"audio/mpeg", "", "mp3"},
		{"audio/wav", "", "wav"},
		{"audio/x-wav", "", "wav"},
		{"application/zip", "", "zip"},
		{"model/gltf-binary", "", "glb"},
		{"image/avif", "", "avif"},
		{"image/heic", "", "heic"},
		{"video/webm", "", "webm"},
		{"audio/ogg", "", "ogg"},
		{"audio/flac", "", "flac"},
		{"audio/aac", "", "aac"},
		{"audio/mp4", "", "m4a"},
		{"model/gltf+json", "", "gltf"},
		{"model/obj", "", "obj"},
		{"model/vnd.usdz+zip", "", "usdz"},
		{"model/ply", "", "ply"},
		{"model/vnd.fbx", "", "fbx"},
		{"text/jsx", "", "jsx"},
		// Never the system's mime tables.
		{"text/css", "", "bin"},
		{"text/html", "", "bin"},
		{"application/x-desktop", "", "bin"},
		{"application/x-sh", "", "bin"},
		{"", "https://cdn.example/run.desktop", "bin"},
		{"", "https://cdn.example/run.sh", "bin"},
		{"application/octet-stream", "https://cdn.example/scene.fbx", "fbx"},
		{"application/octet-stream", "https://cdn.example/a/b/out.WEBP?sig=1", "webp"},
		{"", "https://cdn.example/out.mp4#frag", "mp4"},
		{"garbage/;;", "https://cdn.example/out.mp4", "mp4"},
		{"", "https://cdn.example/out", "bin"},
		{"", "https://cdn.example/out.tar.zip", "zip"},
		{"", "https://cdn.example/out.exe%2F..%2Fsh", "bin"},
		{"", "https://cdn.example/out.abcdefghijk", "bin"},
		{"", "://bad", "bin"},
		{"application/x-unknown-thing", "", "bin"},
	}
	for _, tt := range tests {
		if got := ExtFor(tt.contentType, tt.url); got != tt.want {
			t.Errorf("ExtFor(%q, %q) = %q, want %q", tt.contentType, tt.url, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		max, stall string
		wantMax    int64
		wantStall  time.Duration
		wantErr    string
	}{
		{},
		{max: "1048576", wantMax: 1 << 20},
		{max: "8GiB", wantMax: 8 << 30},
		{max: "500MB", wantMax: 500 << 20},
		{max: "16g", wantMax: 16 << 30},
		{max: "2 KiB", wantMax: 2 << 10},
		{stall: "2m", wantStall: 2 * time.Minute},
		{max: "lots", wantErr: "download.max_bytes"},
		{max: "0", wantErr: "download.max_bytes"},
		{max: "-5", wantErr: "download.max_bytes"},
		{max: "5PB", wantErr: "download.max_bytes"},
		{max: "9999999999T", wantErr: "download.max_bytes"},
		{stall: "1ns", wantErr: "at least 1s"},
		{stall: "soon", wantErr: "download.stall_timeout"},
	}
	for _, tt := range tests {
		n, d, err := Limits(tt.max, tt.stall)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Limits(%q, %q) = %d, %v, %v; want an error about %s", tt.max, tt.stall, n, d, err, tt.wantErr)
			}
			continue
		}
		if err != nil || n != tt.wantMax || d != tt.wantStall {
			t.Errorf("Limits(%q, %q) = %d, %v, %v; want %d, %v", tt.max, tt.stall, n, d, err, tt.wantMax, tt.wantStall)
		}
	}
}
