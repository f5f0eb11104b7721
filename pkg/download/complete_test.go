package download

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// A body without a Content-Length: cut at the connection level (no last
// chunk) or cleanly but short, it is resumed with Range, never saved as
// the whole output. (The cut comes after the server's first flush, so the
// answer is chunked: a short whole body would get a Content-Length.)
func TestFetchUnknownLength(t *testing.T) {
	tests := []struct {
		name  string
		fault hftest.AssetFault
	}{
		{"whole", hftest.AssetFault{NoLength: true}},
		{"connection closed mid-body", hftest.AssetFault{NoLength: true, CutAfter: 100000}},
		{"ended cleanly but short", hftest.AssetFault{NoLength: true, CutAfter: 100000, CleanCut: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, id, url, asset := setup(t)
			srv.InjectAsset(tt.fault)
			dir := t.TempDir()
			got, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if fileSHA(t, got.Path) != asset.SHA256 || got.Bytes != asset.Size {
				t.Fatalf("saved %d bytes that differ from the asset's %d", got.Bytes, asset.Size)
			}
			want := ""
			if tt.fault.CutAfter > 0 {
				want = "|bytes=100000-"
			}
			if r := strings.Join(assetRanges(srv), "|"); r != want {
				t.Fatalf("Range headers %q, want %q", r, want)
			}
			noPart(t, dir)
		})
	}
	t.Run("short, with no retry left: not saved", func(t *testing.T) {
		srv, id, url, _ := setup(t)
		srv.InjectAsset(hftest.AssetFault{NoLength: true, CutAfter: 100000, CleanCut: true})
		dir := t.TempDir()
		_, err := (&Fetcher{Retries: -1}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
		if !errors.Is(err, errEndedEarly) {
			t.Fatalf("err = %v, want the body ended early", err)
		}
		if _, err := os.Stat(dir + "/" + id + "-1.png"); err == nil {
			t.Fatal("a cut body was published")
		}
	})
}

// A web page answered in place of an output is refused: nothing saved.
func TestFetchRefusesWebPage(t *testing.T) {
	srv := hftest.New(hftest.WithTiming(5e6, 5e6))
	t.Cleanup(srv.Close)
	srv.SetOutputs(1, "text/html; charset=utf-8")
	id, url, _ := generate(t, srv)
	dir := t.TempDir()
	_, err := (&Fetcher{}).Fetch(context.Background(), url, Target{Dir: dir, Vars: Vars{ID: id, Index: 1}})
	var de *Error
	if !errors.As(err, &de) || !de.Permanent || !strings.Contains(err.Error(), "answered with a web page (text/html; charset=utf-8), not the output") {
		t.Fatalf("err = %v, want a permanent error about the web page", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("files left: %v", entries)
	}
	if n := len(assetRanges(srv)); n != 1 {
		t.Fatalf("%d asset GETs, want 1 (not retried)", n)
	}
}

func TestComplete(t *testing.T) {
	box := func(typ string, payload int) []byte {
		b := make([]byte, 8+payload)
		binary.BigEndian.PutUint32(b, uint32(8+payload))
		copy(b[4:], typ)
		return b
	}
	mp4 := append(box("ftyp", 12), box("mdat", 100)...)
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR0123456789abcde"), []byte("\x00\x00\x00\x00IEND\xaeB`\x82")...)
	webp := append([]byte("RIFF\x0c\x00\x00\x00WEBP"), make([]byte, 8)...)
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0}, append(make([]byte, 50), 0xff, 0xd9)...)
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"png", png, true}, {"png cut", png[:len(png)-3], false},
		{"mp4", mp4, true}, {"mp4 cut", mp4[:len(mp4)-1], false}, {"mp4 cut in a header", mp4[:24], false},
		{"mp4 last box to the end", append(box("ftyp", 12), 0, 0, 0, 0, 'm', 'd', 'a', 't', 1, 2, 3), true},
		{"webp", webp, true}, {"webp cut", webp[:len(webp)-2], false},
		{"jpeg", jpeg, true}, {"jpeg cut", jpeg[:len(jpeg)-2], false},
		{"other bytes", []byte("hello"), true}, {"empty", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := complete(bytes.NewReader(tt.data), int64(len(tt.data)))
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errEndedEarly)) {
				t.Fatalf("complete = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
