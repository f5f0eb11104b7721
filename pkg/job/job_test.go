package job

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hf-cli/hf/pkg/events"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/await"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/journal"
)

const model = "higgsfield-ai/soul/standard"

var fast = await.Schedule{First: 10 * time.Millisecond, Max: 10 * time.Millisecond, Factor: 1}

// evlog is a Sink that records what it sees; downloads emit from several
// goroutines, so it locks.
type evlog struct {
	mu   sync.Mutex
	list []events.Event
	// on, when set, is called with each event (outside the lock).
	on func(events.Event)
}

func (e *evlog) sink(ev events.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	on := e.on
	e.mu.Unlock()
	if on != nil {
		on(ev)
	}
}

func (e *evlog) all() []events.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

// first returns the index of the first event of kind k (with status s when
// s is not ""), or -1.
func (e *evlog) first(k events.Kind, s string) int {
	return slices.IndexFunc(e.all(), func(ev events.Event) bool { return ev.Kind == k && (s == "" || ev.Status == s) })
}

type fixture struct {
	srv    *hftest.Server
	runner *Runner
	ev     *evlog
	dir    string // output directory
}

func setup(t *testing.T, queued, running time.Duration) *fixture {
	t.Helper()
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(queued, running))
	t.Cleanup(srv.Close)
	client, err := higgsfield.New(higgsfield.Options{
		BaseURL:        srv.URL,
		Credentials:    higgsfield.Credentials{ID: "kid", Secret: "ksecret"},
		UserAgent:      "hf/test",
		InitialBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ev := &evlog{}
	return &fixture{
		srv: srv,
		ev:  ev,
		dir: t.TempDir(),
		runner: &Runner{
			Client:   client,
			Journal:  j,
			Fetcher:  &download.Fetcher{},
			Emit:     ev.sink,
			Schedule: fast,
		},
	}
}

func (f *fixture) spec(params map[string]any) Spec {
	return Spec{Model: model, Params: params, Output: Output{Dir: f.dir, Template: download.Default}, Timeout: 10 * time.Second}
}

func (f *fixture) entry(t *testing.T, id string) journal.Entry {
	t.Helper()
	e, ok, err := f.runner.Journal.Lookup(id)
	if err != nil || !ok {
		t.Fatalf("journal has no entry for %s (%v)", id, err)
	}
	return e
}

func (f *fixture) waitTerminal(t *testing.T, id string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if j, _ := f.srv.Job(id); higgsfield.Terminal(j.Status) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never finished", id)
		}
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGenerate(t *testing.T) {
	f := setup(t, 20*time.Millisecond, 150*time.Millisecond)
	res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "a fox", "batch_size": float64(2)}))
	if err != nil {
		t.Fatal(err)
	}
	if res.RequestID == "" || res.Model != model || res.Status != higgsfield.StatusCompleted || res.NotifiedBy != await.ByPoll || res.Error != "" {
		t.Fatalf("result %+v", res)
	}
	if f.srv.Charged() != 1 {
		t.Fatalf("charged %d", f.srv.Charged())
	}
	fj, _ := f.srv.Job(res.RequestID)
	if len(res.Files) != 2 || len(fj.Assets) != 2 {
		t.Fatalf("files %+v, assets %+v", res.Files, fj.Assets)
	}
	for i, file := range res.Files {
		want := filepath.Join(f.dir, res.RequestID+"-"+string(rune('1'+i))+".png")
		if file.Path != want {
			t.Fatalf("file %d at %s, want %s", i, file.Path, want)
		}
		data, err := os.ReadFile(file.Path)
		if err != nil {
			t.Fatal(err)
		}
		a := fj.Assets[i]
		if int64(len(data)) != a.Size || file.Bytes != a.Size || sha(data) != a.SHA256 || file.SHA256 != a.SHA256 || file.URL != a.URL || file.ContentType != "image/png" {
			t.Fatalf("file %d: %+v (%d bytes on disk), asset %+v", i, file, len(data), a)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(f.dir, "*.part"))
	if len(matches) != 0 {
		t.Fatalf("left %v behind", matches)
	}

	e := f.entry(t, res.RequestID)
	if e.Status != higgsfield.StatusCompleted || e.Model != model || e.Dir != f.dir || e.Template != download.DefaultTemplate ||
		e.StatusURL == "" || e.CancelURL == "" || e.NotifiedBy != await.ByPoll || e.Error != "" {
		t.Fatalf("journal entry %+v", e)
	}
	if len(e.Files) != 2 || e.Files[0].Path != res.Files[0].Path || e.Files[1].SHA256 != res.Files[1].SHA256 {
		t.Fatalf("journal files %+v", e.Files)
	}

	// Events come in lifecycle order.
	sub, inProg, done := f.ev.first(events.Submitted, ""), f.ev.first(events.StatusChanged, higgsfield.StatusInProgress), f.ev.first(events.Completed, "")
	started, saved := f.ev.first(events.DownloadStarted, ""), f.ev.first(events.Downloaded, "")
	if sub != 0 || inProg <= sub || done <= inProg || started <= done || saved <= started {
		t.Fatalf("event order: submitted %d, in_progress %d, completed %d, download_started %d, downloaded %d\n%+v", sub, inProg, done, started, saved, f.ev.all())
	}
	var downloaded []int
	for _, ev := range f.ev.all() {
		if ev.RequestID != res.RequestID || ev.Time.IsZero() {
			t.Fatalf("event without request id or time: %+v", ev)
		}
		switch ev.Kind {
		case events.Completed:
			if ev.Status != higgsfield.StatusCompleted || ev.Outcome.NotifiedBy != await.ByPoll || ev.Model != model {
				t.Fatalf("completed event %+v", ev)
			}
		case events.Downloaded:
			downloaded = append(downloaded, ev.Download.Index)
			if ev.Download.Count != 2 || ev.Download.Path == "" || ev.Download.Bytes <= 0 {
				t.Fatalf("downloaded event %+v", ev)
			}
		}
	}
	slices.Sort(downloaded)
	if !slices.Equal(downloaded, []int{1, 2}) {
		t.Fatalf("downloaded events for %v", downloaded)
	}
}

func TestGenerateStdout(t *testing.T) {
	f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
	var buf bytes.Buffer
	spec := f.spec(map[string]any{"prompt": "x"})
	spec.Output = Output{Stdout: &buf}
	res, err := f.runner.Generate(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fj, _ := f.srv.Job(res.RequestID)
	if len(res.Files) != 1 || res.Files[0].Path != "-" || sha(buf.Bytes()) != fj.Assets[0].SHA256 {
		t.Fatalf("files %+v, %d bytes streamed", res.Files, buf.Len())
	}
	if entries, _ := os.ReadDir(f.dir); len(entries) != 0 {
		t.Fatalf("-o - wrote files: %v", entries)
	}
}

func TestGenerateNoWait(t *testing.T) {
	f := setup(t, time.Hour, time.Hour)
	spec := f.spec(map[string]any{"prompt": "x"})
	spec.NoWait = true
	res, err := f.runner.Generate(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequestID == "" || res.Status != higgsfield.StatusQueued || f.srv.Count(hftest.StatusEP) != 0 {
		t.Fatalf("result %+v after %d status checks", res, f.srv.Count(hftest.StatusEP))
	}
	if e := f.entry(t, res.RequestID); e.Status != higgsfield.StatusQueued || e.Dir != f.dir {
		t.Fatalf("journal entry %+v", e)
	}
}

func TestGenerateOutcomes(t *testing.T) {
	tests := []struct {
		outcome hftest.Outcome
		message string
	}{
		{outcome: hftest.Outcome{Status: "failed", Error: "the model crashed"}, message: "the model crashed"},
		{outcome: hftest.Outcome{Status: "nsfw"}},
		{outcome: hftest.Outcome{Status: "canceled"}},
	}
	for _, tt := range tests {
		t.Run(tt.outcome.Status, func(t *testing.T) {
			f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
			f.srv.SetOutcome(tt.outcome)
			res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
			var oe *OutcomeError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %T %v, want *OutcomeError", err, err)
			}
			if oe.Status != tt.outcome.Status || oe.RequestID != res.RequestID || oe.Message != tt.message {
				t.Fatalf("OutcomeError %+v", oe)
			}
			if res.Status != tt.outcome.Status || res.Error == "" || len(res.Files) != 0 {
				t.Fatalf("result %+v", res)
			}
			if tt.message != "" && !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %q lacks the API's reason", err)
			}
			e := f.entry(t, res.RequestID)
			if e.Status != tt.outcome.Status || e.Error != tt.message {
				t.Fatalf("journal entry %+v", e)
			}
			if f.srv.Count(hftest.AssetEP) != 0 {
				t.Fatal("downloaded outputs of a request that did not complete")
			}
			if f.ev.first(events.Completed, tt.outcome.Status) < 0 {
				t.Fatalf("no completed event: %+v", f.ev.all())
			}
		})
	}
}

func TestGenerateSubmitError(t *testing.T) {
	f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
	_, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"aspect_ratio": "1:1"})) // no prompt: 422
	if higgsfield.StatusCodeOf(err) != 422 {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := f.runner.Journal.Entries(); len(entries) != 0 || f.ev.first(events.Submitted, "") >= 0 {
		t.Fatalf("a rejected request was journaled (%v) or announced", entries)
	}
}

func TestGenerateDownloadError(t *testing.T) {
	f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
	f.srv.Inject(hftest.Fault{Endpoint: hftest.AssetEP, Status: 403})
	res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
	var de *DownloadError
	if !errors.As(err, &de) || de.RequestID != res.RequestID {
		t.Fatalf("err = %T %v, want *DownloadError", err, err)
	}
	if !strings.Contains(err.Error(), "hf download "+res.RequestID) {
		t.Fatalf("error %q does not say how to retry", err)
	}
	if e := f.entry(t, res.RequestID); e.Status != higgsfield.StatusCompleted || e.Error == "" {
		t.Fatalf("journal entry %+v", e)
	}
	// `hf download ID` recovers it.
	res2, err := f.runner.Resume(ctxT(t), ResumeSpec{RequestID: res.RequestID})
	if err != nil || len(res2.Files) != 1 {
		t.Fatalf("resume: %+v %v", res2, err)
	}
	if e := f.entry(t, res.RequestID); e.Error != "" || len(e.Files) != 1 {
		t.Fatalf("journal entry after the retry %+v", e)
	}
}

func TestPrecheck(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"out.png", "clip.mp4", "batch-2.png"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	video := "kling-video/v2.1/pro/image-to-video"
	tests := []struct {
		name     string
		model    string
		params   map[string]any
		out      Output
		exists   bool
		wantErr  bool
		contains string
	}{
		{name: "existing file without {id}", out: Output{Dir: dir, Template: tmpl("out.{ext}")}, exists: true},
		{name: "clobber", out: Output{Dir: dir, Template: tmpl("out.{ext}"), Clobber: true}},
		{name: "template with {id}", out: Output{Dir: dir, Template: tmpl("{id}.{ext}")}},
		{name: "default template", out: Output{Dir: dir, Template: download.Default}},
		{name: "free name", out: Output{Dir: dir, Template: tmpl("new.{ext}")}},
		{name: "video model checks .mp4", model: video, out: Output{Dir: dir, Template: tmpl("clip.{ext}")}, exists: true},
		{name: "video model ignores .png", model: video, out: Output{Dir: dir, Template: tmpl("out.{ext}")}},
		{name: "batch checks every index", params: map[string]any{"prompt": "x", "batch_size": float64(2)}, out: Output{Dir: dir, Template: tmpl("batch.{ext}")}, exists: true},
		{name: "num_images too", params: map[string]any{"prompt": "x", "num_images": float64(2)}, out: Output{Dir: dir, Template: tmpl("batch.{ext}")}, exists: true},
		{name: "single output does not get an index", out: Output{Dir: dir, Template: tmpl("batch.{ext}")}},
		{name: "-o - with one output", out: Output{Stdout: &bytes.Buffer{}}},
		{name: "-o - with batch_size 2", params: map[string]any{"prompt": "x", "batch_size": float64(2)}, out: Output{Stdout: &bytes.Buffer{}}, wantErr: true, contains: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.model
			if m == "" {
				m = model
			}
			params := tt.params
			if params == nil {
				params = map[string]any{"prompt": "x"}
			}
			err := Precheck(Spec{Model: m, Params: params, Output: tt.out})
			var ee *download.ExistsError
			switch {
			case tt.exists:
				if !errors.As(err, &ee) {
					t.Fatalf("err = %T %v, want *download.ExistsError", err, err)
				}
			case tt.wantErr:
				if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), tt.contains) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.contains)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestResume(t *testing.T) {
	t.Run("completed, without waiting, into the recorded directory", func(t *testing.T) {
		f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
		spec := f.spec(map[string]any{"prompt": "x", "batch_size": float64(2)})
		spec.NoWait = true
		spec.Output.Template = tmpl("fox-{index}.{ext}")
		sub, err := f.runner.Generate(ctxT(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		f.waitTerminal(t, sub.RequestID)
		res, err := f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID, Wait: false})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != higgsfield.StatusCompleted || res.Model != model || res.NotifiedBy != await.ByPoll || len(res.Files) != 2 {
			t.Fatalf("result %+v", res)
		}
		for i, file := range res.Files {
			if want := filepath.Join(f.dir, "fox-"+string(rune('1'+i))+".png"); file.Path != want {
				t.Fatalf("saved %s, want %s (dir and template from the journal)", file.Path, want)
			}
		}
		if e := f.entry(t, sub.RequestID); e.Status != higgsfield.StatusCompleted || len(e.Files) != 2 {
			t.Fatalf("journal entry %+v", e)
		}
		if f.srv.Count(hftest.StatusEP) != 1 {
			t.Fatalf("%d status checks for a finished request", f.srv.Count(hftest.StatusEP))
		}

		// A second run into the same place finds both files intact and
		// downloads nothing again.
		assets := f.srv.Count(hftest.AssetEP)
		again, err := f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID})
		if err != nil || len(again.Files) != 2 || again.Files[0].Path != res.Files[0].Path {
			t.Fatalf("second resume: %+v %v", again, err)
		}
		if n := f.srv.Count(hftest.AssetEP); n != assets {
			t.Fatalf("%d asset requests for outputs already on disk", n-assets)
		}
		// A file changed since is not ours any more: without --clobber it is
		// never overwritten.
		if err := os.WriteFile(res.Files[1].Path, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID})
		var ee *download.ExistsError
		if !errors.As(err, &ee) {
			t.Fatalf("err = %v, want an ExistsError inside", err)
		}
		if data, _ := os.ReadFile(res.Files[1].Path); string(data) != "mine" {
			t.Fatal("a changed file was overwritten")
		}
		// Elsewhere, it works again.
		other := t.TempDir()
		res, err = f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID, Output: Output{Dir: other}})
		if err != nil || len(res.Files) != 2 || filepath.Dir(res.Files[0].Path) != other {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("queued, without waiting", func(t *testing.T) {
		f := setup(t, time.Hour, time.Hour)
		spec := f.spec(map[string]any{"prompt": "x"})
		spec.NoWait = true
		sub, err := f.runner.Generate(ctxT(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID, Wait: false})
		var nr *NotReadyError
		if !errors.As(err, &nr) || nr.Status != higgsfield.StatusQueued || nr.RequestID != sub.RequestID {
			t.Fatalf("err = %T %v, want *NotReadyError", err, err)
		}
		if !strings.Contains(err.Error(), "hf wait "+sub.RequestID) {
			t.Fatalf("error %q does not say how to wait", err)
		}
	})
	t.Run("queued, waiting", func(t *testing.T) {
		f := setup(t, 30*time.Millisecond, 30*time.Millisecond)
		spec := f.spec(map[string]any{"prompt": "x"})
		spec.NoWait = true
		sub, err := f.runner.Generate(ctxT(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID, Wait: true, Timeout: 5 * time.Second})
		if err != nil || res.Status != higgsfield.StatusCompleted || len(res.Files) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("failed request", func(t *testing.T) {
		f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
		f.srv.SetOutcome(hftest.Outcome{Status: "nsfw"})
		spec := f.spec(map[string]any{"prompt": "x"})
		spec.NoWait = true
		sub, err := f.runner.Generate(ctxT(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		f.waitTerminal(t, sub.RequestID)
		_, err = f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID})
		var oe *OutcomeError
		if !errors.As(err, &oe) || oe.Status != higgsfield.StatusNSFW {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown request", func(t *testing.T) {
		f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
		_, err := f.runner.Resume(ctxT(t), ResumeSpec{RequestID: "00000000-0000-4000-8000-000000000000", Output: Output{Dir: f.dir}})
		if higgsfield.StatusCodeOf(err) != 404 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTimeout(t *testing.T) {
	t.Run("generate", func(t *testing.T) {
		f := setup(t, time.Hour, time.Hour)
		spec := f.spec(map[string]any{"prompt": "x"})
		spec.Timeout = 80 * time.Millisecond
		start := time.Now()
		res, err := f.runner.Generate(ctxT(t), spec)
		var te *TimeoutError
		if !errors.As(err, &te) || te.RequestID != res.RequestID || te.After != spec.Timeout {
			t.Fatalf("err = %T %v, want *TimeoutError", err, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("took %s", took)
		}
		if !strings.Contains(err.Error(), "hf wait "+res.RequestID) {
			t.Fatalf("error %q does not say how to resume", err)
		}
		// Nothing lost: the journal knows it, the request goes on.
		if e := f.entry(t, res.RequestID); e.Status != higgsfield.StatusQueued {
			t.Fatalf("journal entry %+v", e)
		}
		if j, _ := f.srv.Job(res.RequestID); j.Canceled || f.srv.Count(hftest.Cancel) != 0 {
			t.Fatal("a timeout canceled the request")
		}
	})
	t.Run("resume", func(t *testing.T) {
		f := setup(t, time.Hour, time.Hour)
		spec := f.spec(map[string]any{"prompt": "x"})
		spec.NoWait = true
		sub, err := f.runner.Generate(ctxT(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID, Wait: true, Timeout: 80 * time.Millisecond})
		var te *TimeoutError
		if !errors.As(err, &te) || te.RequestID != sub.RequestID {
			t.Fatalf("err = %T %v, want *TimeoutError", err, err)
		}
	})
}

func TestInterrupt(t *testing.T) {
	tests := []struct {
		name            string
		queued, running time.Duration
		// trigger returns true on the event after which to press Ctrl-C.
		trigger func(events.Event) bool
		// delay is how long after the trigger the interrupt comes.
		delay    time.Duration
		canceled bool
		cancels  int // cancel requests the fake should see
	}{
		{
			name: "while queued (during the submit)", queued: time.Hour, running: time.Hour,
			trigger: func(e events.Event) bool { return e.Kind == events.Submitted }, canceled: true, cancels: 1,
		},
		{
			name: "while queued (waiting)", queued: time.Hour, running: time.Hour,
			trigger: func(e events.Event) bool { return e.Kind == events.Submitted }, delay: 50 * time.Millisecond, canceled: true, cancels: 1,
		},
		{
			name: "while in progress", queued: 20 * time.Millisecond, running: time.Hour,
			trigger: func(e events.Event) bool {
				return e.Kind == events.StatusChanged && e.Status == higgsfield.StatusInProgress
			}, cancels: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, tt.queued, tt.running)
			ctx, cancel := context.WithCancelCause(ctxT(t))
			defer cancel(nil)
			var once sync.Once
			f.ev.on = func(e events.Event) {
				if tt.trigger(e) {
					once.Do(func() {
						if tt.delay > 0 {
							time.AfterFunc(tt.delay, func() { cancel(ErrInterrupt) })
							return
						}
						cancel(ErrInterrupt)
					})
				}
			}
			res, err := f.runner.Generate(ctx, f.spec(map[string]any{"prompt": "x"}))
			var ie *InterruptedError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %T %v, want *InterruptedError", err, err)
			}
			if ie.RequestID != res.RequestID || res.RequestID == "" || ie.Canceled != tt.canceled {
				t.Fatalf("InterruptedError %+v, request %s", ie, res.RequestID)
			}
			if n := f.srv.Count(hftest.Cancel); n != tt.cancels {
				t.Fatalf("%d cancel requests, want %d", n, tt.cancels)
			}
			j, _ := f.srv.Job(res.RequestID)
			e := f.entry(t, res.RequestID)
			if tt.canceled {
				if !j.Canceled || e.Status != higgsfield.StatusCanceled {
					t.Fatalf("job %+v, journal %+v: want canceled", j, e)
				}
			} else {
				if j.Canceled || e.Status == higgsfield.StatusCanceled {
					t.Fatalf("job %+v, journal %+v: a running request was canceled", j, e)
				}
				if ie.Resume != "hf wait "+res.RequestID || !strings.Contains(err.Error(), ie.Resume) {
					t.Fatalf("InterruptedError %+v: want the resume command", ie)
				}
			}
			if f.ev.first(events.Detached, "") < 0 {
				t.Fatalf("no detached event: %+v", f.ev.all())
			}
			if tt.delay > 0 && f.srv.Count(hftest.StatusEP) == 0 {
				t.Fatal("interrupted before any status check: the test did not exercise waiting")
			}
			if f.srv.Charged() != 1 {
				t.Fatalf("charged %d", f.srv.Charged())
			}
		})
	}
}

func TestInterruptDuringDownload(t *testing.T) {
	f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
	f.srv.SetImageSize(1024, 1024) // about 3 MB
	ctx, cancel := context.WithCancelCause(ctxT(t))
	defer cancel(nil)
	f.ev.on = func(e events.Event) {
		if e.Kind == events.DownloadStarted {
			cancel(ErrInterrupt)
		}
	}
	res, err := f.runner.Generate(ctx, f.spec(map[string]any{"prompt": "x"}))
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Canceled || ie.Resume != "hf download "+res.RequestID {
		t.Fatalf("err = %T %v, want an InterruptedError that resumes with hf download", err, err)
	}
	if f.srv.Count(hftest.Cancel) != 0 {
		t.Fatal("a completed request was canceled")
	}
	if e := f.entry(t, res.RequestID); e.Status != higgsfield.StatusCompleted {
		t.Fatalf("journal entry %+v", e)
	}
}

func TestInterruptResumeNeverCancels(t *testing.T) {
	f := setup(t, time.Hour, time.Hour)
	spec := f.spec(map[string]any{"prompt": "x"})
	spec.NoWait = true
	sub, err := f.runner.Generate(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(ctxT(t))
	defer cancel(nil)
	time.AfterFunc(50*time.Millisecond, func() { cancel(ErrInterrupt) })
	_, err = f.runner.Resume(ctx, ResumeSpec{RequestID: sub.RequestID, Wait: true})
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Canceled || ie.RequestID != sub.RequestID {
		t.Fatalf("err = %v, want a detach", err)
	}
	if f.srv.Count(hftest.Cancel) != 0 {
		t.Fatal("hf wait canceled the request on Ctrl-C")
	}
}

func TestGenerateSurvivesStatusErrors(t *testing.T) {
	f := setup(t, 20*time.Millisecond, 20*time.Millisecond)
	f.srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: 503, Times: 2})
	f.srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: 500})
	res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
	if err != nil || res.Status != higgsfield.StatusCompleted || len(res.Files) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	var retries int
	for _, e := range f.ev.all() {
		if e.Kind == events.Retry && e.Retry.Err != nil && e.RequestID == res.RequestID {
			retries++
		}
	}
	if retries != 3 {
		t.Fatalf("%d retry events, want 3: %+v", retries, f.ev.all())
	}
}

// One 4xx answer to a status check of a request the API just accepted
// (404, 401, 422) does not abandon it: polling goes on. Three in a row
// stop, with the way back (hf wait ID) in the error.
func TestGenerateStatus4xx(t *testing.T) {
	tests := []struct {
		status, times int
		giveUp        bool
	}{
		{404, 1, false}, {401, 1, false}, {422, 2, false},
		{404, maxDefiniteStatusErrors, true}, {401, maxDefiniteStatusErrors, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d×%d", tt.status, tt.times), func(t *testing.T) {
			f := setup(t, 30*time.Millisecond, 20*time.Millisecond)
			f.srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: tt.status, Times: tt.times})
			res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
			if !tt.giveUp {
				if err != nil || res.Status != higgsfield.StatusCompleted || len(res.Files) != 1 {
					t.Fatalf("%+v %v: want the request followed to its end", res, err)
				}
				return
			}
			var ce *StatusCheckError
			if !errors.As(err, &ce) || higgsfield.StatusCodeOf(err) != tt.status || !strings.Contains(err.Error(), "hf wait "+res.RequestID) {
				t.Fatalf("err = %T %v, want a StatusCheckError with the %d and hf wait ID", err, err, tt.status)
			}
			if n := f.srv.Count(hftest.StatusEP); n != tt.times {
				t.Fatalf("%d status checks, want %d", n, tt.times)
			}
			if e := f.entry(t, res.RequestID); higgsfield.Terminal(e.Status) {
				t.Fatalf("journal entry %+v", e)
			}
		})
	}
}

func TestGenerateWithoutJournal(t *testing.T) {
	f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
	f.runner.Journal = nil
	res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
	if err != nil || len(res.Files) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
}

// When every submit attempt fails without a clear answer, the error says
// the request may exist; a clear refusal (422) does not.
func TestSubmitOutcomeUnknown(t *testing.T) {
	f := setup(t, time.Hour, time.Hour)
	f.srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Drop: true, After: true, Times: 5})
	_, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
	var unknown *SubmitUnknownError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "may have created the request") {
		t.Fatalf("err = %v, want a SubmitUnknownError", err)
	}
	if f.srv.Charged() != 1 {
		t.Fatalf("charged %d, want the one job the lost answers created", f.srv.Charged())
	}
	// The key it names finds that job again, uncharged.
	spec := f.spec(map[string]any{"prompt": "x"})
	spec.IdempotencyKey, spec.NoWait = unknown.Key, true
	res, err := f.runner.Generate(ctxT(t), spec)
	if err != nil || res.RequestID != f.srv.Jobs()[0].ID || f.srv.Charged() != 1 {
		t.Fatalf("replay with %q: %+v %v, charged %d", unknown.Key, res, err, f.srv.Charged())
	}
	_, err = f.runner.Generate(ctxT(t), f.spec(map[string]any{"seed": 1}))
	if errors.As(err, &unknown) || higgsfield.StatusCodeOf(err) != 422 {
		t.Fatalf("err = %v, want the plain 422", err)
	}
}

// tmpl parses a template the test knows to be valid.
func tmpl(s string) download.Template {
	t, err := download.ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGenerateDownloadLimits(t *testing.T) {
	t.Run("a stalled download resumes with Range", func(t *testing.T) {
		f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
		f.runner.Fetcher = &download.Fetcher{StallTimeout: 200 * time.Millisecond}
		f.srv.InjectAsset(hftest.AssetFault{Hang: true, HangAfter: 1000})
		res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
		if err != nil {
			t.Fatal(err)
		}
		j, _ := f.srv.Job(res.RequestID)
		data, err := os.ReadFile(res.Files[0].Path)
		if err != nil || sha(data) != j.Assets[0].SHA256 {
			t.Fatalf("saved bytes differ from the asset (%v)", err)
		}
		var ranges []string
		for _, h := range f.srv.Hits() {
			if h.Endpoint == hftest.AssetEP {
				ranges = append(ranges, h.Range)
			}
		}
		if !slices.Equal(ranges, []string{"", "bytes=1000-"}) {
			t.Errorf("asset Range headers %q, want a resume at byte 1000", ranges)
		}
	})
	t.Run("--timeout covers the download", func(t *testing.T) {
		f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
		f.srv.SetImageSize(8, 8)
		f.srv.InjectAsset(hftest.AssetFault{Drip: 50 * time.Millisecond})
		spec := f.spec(map[string]any{"prompt": "x"})
		spec.Timeout = time.Second
		start := time.Now()
		_, err := f.runner.Generate(ctxT(t), spec)
		var te *TimeoutError
		if !errors.As(err, &te) || !te.Downloading || !strings.Contains(err.Error(), "hf download "+te.RequestID) {
			t.Fatalf("err = %v, want a TimeoutError while downloading", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("returned after %v, want about the 1s timeout", d)
		}
	})
	t.Run("outputs beyond the cap are reported", func(t *testing.T) {
		f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
		f.srv.SetImageSize(8, 8)
		f.srv.SetOutputs(higgsfield.MaxOutputs+3, "")
		res, err := f.runner.Generate(ctxT(t), f.spec(map[string]any{"prompt": "x"}))
		var de *DownloadError
		var capped *OutputsCappedError
		if !errors.As(err, &de) || !errors.As(err, &capped) || capped.Total != higgsfield.MaxOutputs+3 {
			t.Fatalf("err = %v, want a DownloadError for the outputs dropped", err)
		}
		if strings.Contains(err.Error(), "retry") || len(res.Files) != higgsfield.MaxOutputs {
			t.Errorf("err %q with %d files saved", err, len(res.Files))
		}
	})
}

func TestDownloadErrorAdvice(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		want, not string
	}{
		{name: "taken name", err: &download.ExistsError{Path: "fixed-1.png"}, want: "hf download ID -o '{id}-{index}.{ext}'", not: "clobber"},
		{name: "another request's output", err: &download.ExistsError{Path: "fixed-2.png", Owner: "A"}, want: "fixed-2.png is the saved output of request A", not: "clobber"},
		{name: "network", err: errors.New("connection reset"), want: "retry with: hf download ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := (&DownloadError{RequestID: "ID", Err: tt.err}).Error()
			if !strings.Contains(msg, tt.want) || tt.not != "" && strings.Contains(msg, tt.not) {
				t.Errorf("%q: want %q, without %q", msg, tt.want, tt.not)
			}
		})
	}
}

// TestResumeJournalsTerminalOnce pins finishMode.journaled both ways: a
// resume of a request the journal holds as queued records the terminal
// status it learns; a resume of one already journaled as terminal adds no
// second status record (the original notified_by stays).
func TestResumeJournalsTerminalOnce(t *testing.T) {
	f := setup(t, 10*time.Millisecond, 10*time.Millisecond)
	spec := f.spec(map[string]any{"prompt": "x"})
	spec.NoWait = true
	sub, err := f.runner.Generate(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	f.waitTerminal(t, sub.RequestID)
	statusRecords := func() int {
		data, err := os.ReadFile(f.runner.Journal.Path())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			var r journal.Record
			if json.Unmarshal([]byte(line), &r) == nil && r.Event == journal.EventStatus && r.RequestID == sub.RequestID {
				n++
			}
		}
		return n
	}
	if _, err := f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID}); err != nil {
		t.Fatal(err)
	}
	if n := statusRecords(); n != 1 || f.entry(t, sub.RequestID).Status != higgsfield.StatusCompleted {
		t.Fatalf("%d status records after the first resume, want the terminal one", n)
	}
	for range 2 {
		if _, err := f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID}); err != nil {
			t.Fatal(err)
		}
	}
	if n := statusRecords(); n != 1 {
		t.Fatalf("%d status records after resumes of a journaled terminal request, want still 1", n)
	}
}

// TestEphemeralAdvice: errors of a sandbox run (Ephemeral) never name hf
// wait or hf download, whose fake API is gone by then.
func TestEphemeralAdvice(t *testing.T) {
	const id = "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"
	for _, tt := range []struct {
		err       error
		ephemeral bool
	}{
		{&TimeoutError{RequestID: id, After: time.Second}, false},
		{&TimeoutError{RequestID: id, After: time.Second, Ephemeral: true}, true},
		{&DownloadError{RequestID: id, Err: errors.New("boom")}, false},
		{&DownloadError{RequestID: id, Err: errors.New("boom"), Ephemeral: true}, true},
		{&InterruptedError{RequestID: id, Resume: "hf wait " + id}, false},
		{&InterruptedError{RequestID: id}, true},
	} {
		advises := strings.Contains(tt.err.Error(), "hf wait") || strings.Contains(tt.err.Error(), "hf download")
		if advises == tt.ephemeral {
			t.Errorf("%T ephemeral=%v: %q", tt.err, tt.ephemeral, tt.err)
		}
	}
}

// hf wait / hf download: the first status check is retried like the polls
// (5xx, dropped connection), a hung one ends with --timeout (124, not 30 s
// later), and a 404 for an id the API does not know is the answer at once.
func TestResumeFirstCheck(t *testing.T) {
	tests := []struct {
		name    string
		fault   hftest.Fault
		timeout time.Duration
		check   func(t *testing.T, err error, took time.Duration)
		checks  int // status GETs the fake should see, 0: any
	}{
		{name: "one 503", fault: hftest.Fault{Status: 503}, checks: 2,
			check: func(t *testing.T, err error, _ time.Duration) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "a dropped connection", fault: hftest.Fault{Drop: true}, checks: 2,
			check: func(t *testing.T, err error, _ time.Duration) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "a hung check", fault: hftest.Fault{Hang: true}, timeout: 300 * time.Millisecond, checks: 1,
			check: func(t *testing.T, err error, took time.Duration) {
				var te *TimeoutError
				if !errors.As(err, &te) || took > 2*time.Second {
					t.Fatalf("err = %T %v after %s, want a TimeoutError at the timeout", err, err, took)
				}
			}},
		{name: "503 until the timeout", fault: hftest.Fault{Status: 503, Times: 1000}, timeout: 300 * time.Millisecond,
			check: func(t *testing.T, err error, took time.Duration) {
				var te *TimeoutError
				if !errors.As(err, &te) || took > 2*time.Second {
					t.Fatalf("err = %T %v after %s, want a TimeoutError at the timeout", err, err, took)
				}
			}},
		{name: "404", fault: hftest.Fault{Status: 404}, checks: 1,
			check: func(t *testing.T, err error, _ time.Duration) {
				if higgsfield.StatusCodeOf(err) != 404 {
					t.Fatalf("err = %v, want the 404", err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, 0, 0)
			spec := f.spec(map[string]any{"prompt": "x"})
			spec.NoWait = true
			sub, err := f.runner.Generate(ctxT(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			f.waitTerminal(t, sub.RequestID)
			tt.fault.Endpoint = hftest.StatusEP
			f.srv.Inject(tt.fault)
			timeout := cmp.Or(tt.timeout, 10*time.Second)
			start := time.Now()
			_, err = f.runner.Resume(ctxT(t), ResumeSpec{RequestID: sub.RequestID, Timeout: timeout, Output: Output{Dir: t.TempDir()}})
			tt.check(t, err, time.Since(start))
			if n := f.srv.Count(hftest.StatusEP); tt.checks > 0 && n != tt.checks {
				t.Fatalf("%d status checks, want %d", n, tt.checks)
			}
		})
	}
}
