package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/inputs"
	"github.com/hf-cli/hf/pkg/iostreams"
)

func TestUploadRun(t *testing.T) {
	testenv.Isolate(t)
	t.Chdir(t.TempDir())
	types := map[string]string{"a.png": "image/png", "b.jpg": "image/jpeg", "c.mp4": "video/mp4"}
	for name, ct := range types {
		if err := os.WriteFile(name, hftest.Sample(ct, uint64(len(name)+len(ct))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("bad.png", []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	ios, _, out, _ := iostreams.Test()
	fake := testenv.NewFake(t, ios, srv.URL, nil)

	err := uploadRun(context.Background(), &Options{IO: ios, Client: fake.Client, Files: []string{"a.png", "bad.png"}})
	var fe *inputs.FileError
	if !errors.As(err, &fe) || fe.Path != "bad.png" || len(srv.Hits()) != 0 {
		t.Fatalf("err = %v after %d requests: every file is checked first", err, len(srv.Hits()))
	}

	if err := uploadRun(context.Background(), &Options{IO: ios, Client: fake.Client, Files: []string{"a.png", "b.jpg", "c.mp4"}, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var files []File
	if err := json.Unmarshal(out.Bytes(), &files); err != nil || len(files) != 3 {
		t.Fatalf("%v: %s", err, out)
	}
	slots := srv.Slots()
	for i, f := range files {
		data, _ := os.ReadFile(f.Path)
		sum := sha256.Sum256(data)
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.ContentType != types[f.Path] || f.Bytes != int64(len(data)) {
			t.Fatalf("%+v", f)
		}
		if slots[i].PublicURL != f.URL || slots[i].SHA256 != f.SHA256 {
			t.Fatalf("file %+v, the fake stored %+v", f, slots[i])
		}
	}
}
