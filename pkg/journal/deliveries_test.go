package journal

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestKeepDeliveries(t *testing.T) {
	j := open(t)
	if got, err := j.Deliveries("r1"); err != nil || len(got) != 0 {
		t.Fatalf("before any: %v %v", got, err)
	}
	p1, err := j.KeepDelivery("r1", "msg_1", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(j.Path()), "deliveries", "r1", "msg_1.http"); p1 != want {
		t.Errorf("path %q, want %q", p1, want)
	}
	// Later files sort later even within the file system's time resolution.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p1, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := j.KeepDelivery("r1", "msg_2", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if _, err := j.KeepDelivery("r2", "msg_3", []byte("other request")); err != nil {
		t.Fatal(err)
	}
	// A redelivery replaces its file.
	if _, err := j.KeepDelivery("r1", "msg_2", []byte("second again")); err != nil {
		t.Fatal(err)
	}
	got, err := j.Deliveries("r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Data) != "first" || string(got[1].Data) != "second again" {
		t.Fatalf("kept %+v", got)
	}
	if runtime.GOOS != "windows" {
		for _, p := range []string{got[0].Path, filepath.Dir(got[0].Path)} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: mode %v, %v", p, fi.Mode(), err)
			}
		}
	}
	// Ids from the network never escape the directory.
	p, err := j.KeepDelivery("../../x", "../y", []byte("z"))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(filepath.Dir(j.Path()), "deliveries") + string(filepath.Separator)
	if !strings.HasPrefix(p, root) || strings.Count(strings.TrimPrefix(p, root), string(filepath.Separator)) != 1 {
		t.Errorf("kept at %q, outside %q", p, root)
	}
	if back, _ := j.Deliveries("../../x"); len(back) != 1 || string(back[0].Data) != "z" {
		t.Errorf("read back %+v", back)
	}
	if SafeName("a/b") == SafeName("a_b") {
		t.Error("two names collide")
	}
	if _, err := j.KeepDelivery("", "m", nil); err == nil {
		t.Error("kept without a request id")
	}
}

// TestSafeNameNeverLooksLikeAnOption: a name from the network never starts
// with '-' or '.', so that no shell command over the files (rm *, tar *)
// takes one for an option, and no file is hidden.
func TestSafeNameNeverLooksLikeAnOption(t *testing.T) {
	for _, s := range []string{"", ".", "..", "-rf", "--", "-", ".-x", "/x", "msg_1"} {
		got := SafeName(s)
		if got == "" || strings.HasPrefix(got, "-") || strings.HasPrefix(got, ".") || strings.ContainsAny(got, `/\`) {
			t.Errorf("SafeName(%q) = %q", s, got)
		}
	}
	if SafeName("msg_1") != "msg_1" {
		t.Errorf("a plain id changed: %q", SafeName("msg_1"))
	}
	if SafeName("-rf") == SafeName("rf") {
		t.Error("two names collide")
	}
}
