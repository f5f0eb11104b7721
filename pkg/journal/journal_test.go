package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func open(t *testing.T) *Journal {
	t.Helper()
	j, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func appendAll(t *testing.T, j *Journal, recs ...Record) {
	t.Helper()
	for _, r := range recs {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestFold(t *testing.T) {
	png1 := File{Path: "/out/a-1.png", URL: "https://cdn/a1", ContentType: "image/png", SHA256: "aa", Bytes: 10}
	png2 := File{Path: "/out/a-2.png", URL: "https://cdn/a2", ContentType: "image/png", SHA256: "bb", Bytes: 20}
	submitted := Record{Time: at(0), Event: EventSubmitted, RequestID: "a", Model: "m/x", Status: "queued",
		StatusURL: "https://api/s", CancelURL: "https://api/c", Dir: "/out", Template: "{id}-{index}.{ext}"}
	base := Entry{RequestID: "a", Model: "m/x", Status: "queued", StatusURL: "https://api/s", CancelURL: "https://api/c",
		Dir: "/out", Template: "{id}-{index}.{ext}", SubmittedAt: at(0), UpdatedAt: at(0)}
	with := func(f func(e *Entry)) Entry { e := base; f(&e); return e }
	tests := []struct {
		name string
		recs []Record
		want Entry
	}{
		{name: "submitted only", recs: []Record{submitted}, want: base},
		{name: "status updates, empty fields do not erase",
			recs: []Record{submitted, {Time: at(5), Event: EventStatus, RequestID: "a", Status: "completed", NotifiedBy: "webhook"}},
			want: with(func(e *Entry) { e.Status, e.NotifiedBy, e.UpdatedAt = "completed", "webhook", at(5) })},
		{name: "failure keeps its error",
			recs: []Record{submitted, {Time: at(5), Event: EventStatus, RequestID: "a", Status: "failed", Error: "boom"}, {Time: at(6), Event: EventStatus, RequestID: "a"}},
			want: with(func(e *Entry) { e.Status, e.Error, e.UpdatedAt = "failed", "boom", at(6) })},
		{name: "files merge by path; a later download replaces and clears the error",
			recs: []Record{submitted,
				{Time: at(5), Event: EventDownloaded, RequestID: "a", Files: []File{png1}},
				{Time: at(6), Event: EventDownloadFailed, RequestID: "a", Error: "HTTP 503"},
				{Time: at(9), Event: EventDownloaded, RequestID: "a", Files: []File{{Path: png1.Path, SHA256: "cc"}, png2}}},
			want: with(func(e *Entry) { e.Files, e.UpdatedAt = []File{{Path: png1.Path, SHA256: "cc"}, png2}, at(9) })},
		{name: "download failure sets the error",
			recs: []Record{submitted, {Time: at(5), Event: EventDownloadFailed, RequestID: "a", Error: "disk full"}},
			want: with(func(e *Entry) { e.Error, e.UpdatedAt = "disk full", at(5) })},
		{name: "records before submitted: submitted wins the time",
			recs: []Record{{Time: at(-3), Event: EventStatus, RequestID: "a", Status: "in_progress"}, submitted},
			want: with(func(e *Entry) { e.Status = "queued" })},
		{name: "no submitted record: first time",
			recs: []Record{{Time: at(3), Event: EventStatus, RequestID: "a", Status: "completed"}, {Time: at(4), Event: EventStatus, RequestID: "a", Model: "m/y"}},
			want: Entry{RequestID: "a", Status: "completed", Model: "m/y", SubmittedAt: at(3), UpdatedAt: at(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := open(t)
			appendAll(t, j, tt.recs...)
			got, ok, err := j.Lookup("a")
			if err != nil || !ok {
				t.Fatalf("Lookup: %v, %v", ok, err)
			}
			if !reflect.DeepEqual(normalize(got), tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// normalize drops monotonic readings and locations so entries compare.
func normalize(e Entry) Entry {
	e.SubmittedAt, e.UpdatedAt = e.SubmittedAt.UTC(), e.UpdatedAt.UTC()
	return e
}

func TestEntriesOrderAndLookup(t *testing.T) {
	j := open(t)
	appendAll(t, j,
		Record{Time: at(10), Event: EventSubmitted, RequestID: "old"},
		Record{Time: at(30), Event: EventSubmitted, RequestID: "new"},
		Record{Time: at(20), Event: EventSubmitted, RequestID: "mid"},
		Record{Time: at(40), Event: EventStatus, RequestID: "old", Status: "completed"},
		Record{Time: at(20), Event: EventSubmitted, RequestID: "mid2"},
		Record{Time: at(50), Event: EventStatus, Status: "orphan without an id"},
	)
	entries, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.RequestID)
	}
	if want := []string{"new", "mid2", "mid", "old"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
	if _, ok, err := j.Lookup("nope"); ok || err != nil {
		t.Errorf("Lookup(nope) = %v, %v", ok, err)
	}
}

func TestAppendSetsTime(t *testing.T) {
	j := open(t)
	before := time.Now()
	appendAll(t, j, Record{Event: EventSubmitted, RequestID: "a"})
	e, _, _ := j.Lookup("a")
	if e.SubmittedAt.Before(before.Add(-time.Second)) || e.SubmittedAt.After(time.Now()) {
		t.Errorf("SubmittedAt %v, want about now", e.SubmittedAt)
	}
}

func TestTornLines(t *testing.T) {
	tests := []struct {
		name string
		junk string
	}{
		{name: "torn last line", junk: `{"time":"2026-05-01T12:00:00Z","event":"status","request_id":"a","sta`},
		{name: "garbage line", junk: "\x00\x00\x00\n"},
		{name: "blank lines", junk: "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := open(t)
			appendAll(t, j, Record{Time: at(0), Event: EventSubmitted, RequestID: "a", Status: "queued"})
			f, err := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tt.junk)
			f.Close()
			entries, err := j.Entries()
			if err != nil || len(entries) != 1 || entries[0].Status != "queued" {
				t.Fatalf("with a torn line: %+v, %v", entries, err)
			}
			// The next append starts on a line of its own and is read back.
			appendAll(t, j, Record{Time: at(1), Event: EventStatus, RequestID: "a", Status: "completed"})
			if e, _, err := j.Lookup("a"); err != nil || e.Status != "completed" {
				t.Errorf("after appending: %+v, %v", e, err)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions on windows")
	}
	tests := []struct {
		name    string
		prepare func(dir string)
	}{
		{name: "fresh"},
		{name: "loose existing dir and file are tightened", prepare: func(dir string) {
			os.MkdirAll(dir, 0o755)
			os.Chmod(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "journal.jsonl"), nil, 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state", "hf")
			if tt.prepare != nil {
				tt.prepare(dir)
			}
			j, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, j, Record{RequestID: "a"})
			for path, want := range map[string]os.FileMode{dir: 0o700, j.Path(): 0o600, filepath.Join(dir, "journal.lock"): 0o600} {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
					t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
				}
			}
		})
	}
}

func TestDefaultDir(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	tests := []struct {
		xdg, want string
	}{
		{xdg: state, want: filepath.Join(state, "hf")},
		{xdg: "relative/ignored", want: filepath.Join(home, ".local", "state", "hf")},
		{xdg: "", want: filepath.Join(home, ".local", "state", "hf")},
	}
	for _, tt := range tests {
		t.Setenv("XDG_STATE_HOME", tt.xdg)
		got, err := DefaultDir()
		if runtime.GOOS == "windows" && tt.xdg != state {
			continue // under the user's config directory
		}
		if err != nil || got != tt.want {
			t.Errorf("XDG_STATE_HOME=%q: DefaultDir() = %q, %v; want %q", tt.xdg, got, err, tt.want)
		}
	}
}

// checkLines asserts that every line of the journal parses and that there
// are want of them, with no sequence number of any writer lost.
func checkLines(t *testing.T, j *Journal, writers, each int) {
	t.Helper()
	f, err := os.Open(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seen[r.RequestID+"/"+r.Status] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct records, want %d", len(seen), writers*each)
	}
	entries, err := j.Entries()
	if err != nil || len(entries) != writers*each {
		t.Errorf("%d entries (%v), want %d", len(entries), err, writers*each)
	}
}

func appendMany(j *Journal, writer string, n int) error {
	for i := range n {
		r := Record{Event: EventSubmitted, RequestID: fmt.Sprintf("%s-%d", writer, i), Status: strconv.Itoa(i), Model: "higgsfield-ai/soul/standard"}
		if err := j.Append(r); err != nil {
			return err
		}
	}
	return nil
}

func TestConcurrentAppends(t *testing.T) {
	j := open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() { errs <- appendMany(j, "g"+strconv.Itoa(w), 200) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkLines(t, j, 8, 200)
}

// The parent test re-executes the test binary with these set: the journal
// directory and the child's writer name.
const childDirEnv, childNameEnv = "HF_JOURNAL_TEST_DIR", "HF_JOURNAL_TEST_WRITER"

func TestAppendsAcrossProcesses(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		j, err := Open(dir)
		if err == nil {
			err = appendMany(j, os.Getenv(childNameEnv), 100)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	for p := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAppendsAcrossProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childNameEnv+"=p"+strconv.Itoa(p))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, j, 8, 100)
}

// TestReadOnlyDir: a journal in a directory hf may not write still lists
// its requests; appending says why it cannot.
func TestReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Record{Event: EventSubmitted, RequestID: "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", Status: "queued"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if err := os.Chmod(j.Path(), 0o400); err != nil {
		t.Fatal(err)
	}
	open := Open
	if os.Getuid() == 0 { // root writes through modes: fail as a read-only mount would
		open = func(dir string) (*Journal, error) {
			return openWith(dir, func(string) (*Journal, error) { return nil, fmt.Errorf("opening journal: %w", syscall.EROFS) })
		}
	}
	ro, err := open(dir)
	if err != nil {
		t.Fatalf("Open on a read-only directory: %v", err)
	}
	entries, err := ro.Entries()
	if err != nil || len(entries) != 1 || entries[0].Status != "queued" {
		t.Fatalf("Entries = %+v, %v", entries, err)
	}
	if err := ro.Append(Record{RequestID: "x"}); err == nil {
		t.Fatal("Append on a read-only journal succeeded")
	}
	if _, err := open(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Open of a directory that cannot be created succeeded")
	}
}

// TestLongLineSkipped: a 20 MB garbage line (valid JSON with a huge field,
// the worst case) is skipped quickly and the records around it kept.
func TestLongLineSkipped(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = j.Append(Record{Event: EventSubmitted, RequestID: "a", Status: "queued"})
	f, err := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	huge := `{"request_id":"b","model":"` + strings.Repeat("x", 20<<20) + `"}` + "\n"
	if _, err := f.WriteString(huge); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_ = j.Append(Record{Event: EventSubmitted, RequestID: "c", Status: "queued"})
	start := time.Now()
	entries, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Entries took %s", took)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.RequestID)
	}
	if strings.Join(ids, ",") != "c,a" {
		t.Fatalf("ids %v, want c,a (the long line skipped)", ids)
	}
	// A line just under the cap is still read.
	_ = j.Append(Record{Event: EventSubmitted, RequestID: "d", Model: strings.Repeat("m", MaxLine-200)})
	if e, ok, _ := j.Lookup("d"); !ok || len(e.Model) != MaxLine-200 {
		t.Fatalf("a line under the cap was not read (ok %v)", ok)
	}
}

func TestResolve(t *testing.T) {
	j, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"3f1c0000-0000-4000-8000-000000000001", "3f2d0000-0000-4000-8000-000000000002", "3f2e0000-0000-4000-8000-000000000003"} {
		_ = j.Append(Record{Event: EventSubmitted, RequestID: id})
	}
	if id, err := j.Resolve("3F1C"); err != nil || id != "3f1c0000-0000-4000-8000-000000000001" {
		t.Errorf("Resolve(3F1C) = %q, %v", id, err)
	}
	var amb *AmbiguousError
	if _, err := j.Resolve("3f2"); !errors.As(err, &amb) || len(amb.IDs) != 2 {
		t.Errorf("Resolve(3f2) = %v, want ambiguous between 2", err)
	}
	if _, err := j.Resolve("abcd"); !errors.Is(err, ErrNoMatch) {
		t.Errorf("Resolve(abcd) = %v, want ErrNoMatch", err)
	}
}

// A submit is journaled by its key before it is sent; its answer turns
// that record into the request's entry, a definite refusal drops it, and a
// replay of a known key leaves the request's entry as it is.
func TestFoldSubmits(t *testing.T) {
	submitting := func(s int, key string) Record {
		return Record{Time: at(s), Event: EventSubmitting, Model: "m/x", IdempotencyKey: key, ParamsSHA256: "ps"}
	}
	submitted := func(s int, id, key string) Record {
		return Record{Time: at(s), Event: EventSubmitted, RequestID: id, Model: "m/x", Status: "queued", IdempotencyKey: key}
	}
	type row struct{ id, status, key string }
	tests := []struct {
		name string
		recs []Record
		want []row // newest first
	}{
		{name: "no answer: pending, with its key", recs: []Record{submitting(0, "k1")},
			want: []row{{"", StatusSubmitting, "k1"}}},
		{name: "answered", recs: []Record{submitting(0, "k1"), submitted(1, "a", "k1")},
			want: []row{{"a", "queued", "k1"}}},
		{name: "refused", recs: []Record{submitting(0, "k1"), {Time: at(1), Event: EventSubmitFailed, IdempotencyKey: "k1", Error: "422"}},
			want: nil},
		{name: "two processes, one answered", recs: []Record{submitting(0, "k1"), submitting(1, "k2"), submitted(2, "b", "k2")},
			want: []row{{"b", "queued", "k2"}, {"", StatusSubmitting, "k1"}}},
		{name: "a replay of a known key",
			recs: []Record{submitting(0, "k1"), submitted(1, "a", "k1"), {Time: at(2), Event: EventStatus, RequestID: "a", Status: "completed"},
				submitting(3, "k1"), {Time: at(4), Event: EventSubmitFailed, IdempotencyKey: "k1"}, submitting(5, "k1"), submitted(6, "a", "k1")},
			want: []row{{"a", "queued", "k1"}}},
		{name: "killed, then picked up with the key", recs: []Record{submitting(0, "k1"), submitting(9, "k1"), submitted(10, "a", "k1")},
			want: []row{{"a", "queued", "k1"}}},
		{name: "a record without id or key is ignored", recs: []Record{{Time: at(0), Event: EventStatus, Status: "queued"}},
			want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := open(t)
			appendAll(t, j, tt.recs...)
			entries, err := j.Entries()
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			for _, e := range entries {
				got = append(got, row{e.RequestID, e.Status, e.IdempotencyKey})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
