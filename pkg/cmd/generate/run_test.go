package generate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

// runDirect calls generateRun with opts built by hand (no flags, no
// environment): the engine is the real one on a Factory of fakes talking
// to srv. It returns stdout and how many engines were built.
func runDirect(t *testing.T, srv *hftest.Server, mod func(*Options)) (string, int, error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	fake := testenv.NewFake(t, ios, srv.URL, nil)
	engines := 0
	opts := &Options{
		IO: ios,
		Engine: func(ctx context.Context, o cmdutil.EngineOptions) (*cmdutil.Engine, error) {
			engines++
			return fake.Engine(ctx, o)
		},
		Model: "higgsfield-ai/soul/standard", Body: cmdutil.BodyFlags{Prompt: "a fox", PromptSet: true},
		Client: fake.Client, Config: fake.Config, Credentials: fake.Credentials,
		Out:     cmdutil.OutputFlags{Dir: t.TempDir()},
		Timeout: 10 * time.Second, PollInterval: 10 * time.Millisecond,
	}
	if mod != nil {
		mod(opts)
	}
	err := generateRun(context.Background(), opts)
	return out.String(), engines, err
}

func onlyJob(t *testing.T, srv *hftest.Server) hftest.Job {
	t.Helper()
	jobs := srv.Jobs()
	if len(jobs) != 1 || srv.Charged() != 1 {
		t.Fatalf("the fake holds %d jobs (%d charged), want 1", len(jobs), srv.Charged())
	}
	return jobs[0]
}

func TestGenerateRunNoWait(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(time.Hour, time.Hour))
	t.Cleanup(srv.Close)
	var dir string
	out, _, err := runDirect(t, srv, func(o *Options) { o.NoWait = true; dir = o.Out.Dir })
	if err != nil {
		t.Fatal(err)
	}
	j := onlyJob(t, srv)
	if out != j.ID+"\n" {
		t.Fatalf("stdout %q, want the fake's request id %s on one line", out, j.ID)
	}
	if j.Body["prompt"] != "a fox" || j.Webhook != "" {
		t.Fatalf("submitted body %v webhook %q: want the prompt and no webhook (nobody would listen)", j.Body, j.Webhook)
	}
	if n := srv.Count(hftest.StatusEP); n != 0 {
		t.Fatalf("--no-wait polled %d times", n)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("--no-wait wrote %d files", len(entries))
	}
	if e, ok, _ := testenv.OpenJournal(t).Lookup(j.ID); !ok || e.Status != "queued" {
		t.Fatalf("journal entry %+v (found %v), want it recorded as queued", e, ok)
	}
}

func TestGenerateRunJSON(t *testing.T) {
	type result struct {
		RequestID string `json:"request_id"`
		Status    string `json:"status"`
		Files     []struct {
			Path   string `json:"path"`
			Bytes  int64  `json:"bytes"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
		NotifiedBy string `json:"notified_by"`
	}
	decode := func(t *testing.T, out string) result {
		t.Helper()
		var r result
		dec := json.NewDecoder(strings.NewReader(out))
		if err := dec.Decode(&r); err != nil || dec.More() {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
		}
		return r
	}

	t.Run("no-wait", func(t *testing.T) {
		srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(time.Hour, time.Hour))
		t.Cleanup(srv.Close)
		out, _, err := runDirect(t, srv, func(o *Options) { o.NoWait, o.JSON = true, true })
		if err != nil {
			t.Fatal(err)
		}
		j := onlyJob(t, srv)
		r := decode(t, out)
		if r.RequestID != j.ID || r.Status != "queued" || len(r.Files) != 0 {
			t.Fatalf("result %+v, want request %s queued without files", r, j.ID)
		}
	})

	t.Run("completed", func(t *testing.T) {
		srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(20*time.Millisecond, 20*time.Millisecond))
		t.Cleanup(srv.Close)
		out, _, err := runDirect(t, srv, func(o *Options) { o.JSON = true; o.Body.Sets = []string{"batch_size=2"} })
		if err != nil {
			t.Fatal(err)
		}
		j := onlyJob(t, srv)
		r := decode(t, out)
		if r.RequestID != j.ID || r.Status != "completed" || r.NotifiedBy != "poll" || len(r.Files) != len(j.Assets) || len(j.Assets) != 2 {
			t.Fatalf("result %+v, want request %s completed by poll with the fake's %d assets", r, j.ID, len(j.Assets))
		}
		for i, f := range r.Files {
			data, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if a := j.Assets[i]; hex.EncodeToString(sum[:]) != a.SHA256 || f.SHA256 != a.SHA256 || f.Bytes != a.Size {
				t.Fatalf("file %d: %+v, want the fake's asset %+v", i, f, a)
			}
		}
	})
}

func TestGenerateRunPrecheck(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(o *Options)
		exists  bool // a *download.ExistsError (exit 2 by itself), else a FlagError
		errHas  string
		prepare func(t *testing.T, dir string)
	}{
		{name: "fixed name exists", exists: true, errHas: "fox.png",
			mod:     func(o *Options) { o.Out.Output = "fox.png" },
			prepare: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "fox.png")) }},
		{name: "one of a batch exists", exists: true, errHas: "fox-2.png",
			mod:     func(o *Options) { o.Out.Output = "fox-{index}.{ext}"; o.Body.Sets = []string{"batch_size=2"} },
			prepare: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "fox-2.png")) }},
		{name: "stdout with a batch", errHas: "-o - streams one output",
			mod: func(o *Options) { o.Out.Output = "-"; o.Body.Sets = []string{"batch_size=3"} }},
		{name: "bad template", errHas: "invalid -o template",
			mod: func(o *Options) { o.Out.Output = "{nope}" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
			t.Cleanup(srv.Close)
			_, engines, err := runDirect(t, srv, func(o *Options) {
				tt.mod(o)
				if tt.prepare != nil {
					tt.prepare(t, o.Out.Dir)
				}
			})
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %v, want it to say %q", err, tt.errHas)
			}
			var exists *download.ExistsError
			var fe *cmdutil.FlagError
			if tt.exists && !errors.As(err, &exists) || !tt.exists && !errors.As(err, &fe) {
				t.Fatalf("err = %T %v: want ExistsError %v", err, err, tt.exists)
			}
			if engines != 0 || srv.Count(hftest.Submit) != 0 || srv.Charged() != 0 {
				t.Fatalf("%d engines built, %d submits, %d charged: want nothing spent", engines, srv.Count(hftest.Submit), srv.Charged())
			}
		})
	}
}

func write(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Repeat([]byte{1}, 10), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestInputFromTerminal: -i - with stdin a terminal says what it waits
// for, and Ctrl-C (the context's cancellation) ends the read at once with
// an interruption, nothing submitted; Ctrl-D (EOF) submits what was typed.
func TestInputFromTerminal(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(time.Hour, time.Hour))
	t.Cleanup(srv.Close)
	newOpts := func(t *testing.T, in io.Reader) (*Options, *bytes.Buffer) {
		ios, _, _, errOut := iostreams.Test()
		ios.In = in
		ios.SetStdinTTY(true)
		fake := testenv.NewFake(t, ios, srv.URL, nil)
		return &Options{IO: ios, Engine: fake.Engine, Model: "higgsfield-ai/soul/standard", Body: cmdutil.BodyFlags{Input: "-"}, NoWait: true,
			Out: cmdutil.OutputFlags{Dir: t.TempDir()}, Timeout: time.Minute}, errOut
	}
	t.Run("ctrl-c", func(t *testing.T) {
		r, w := io.Pipe() // a terminal nobody types on
		t.Cleanup(func() { w.Close() })
		opts, errOut := newOpts(t, r)
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(50*time.Millisecond, func() { cancel(job.ErrInterrupt) })
		start := time.Now()
		err := generateRun(ctx, opts)
		var ie *job.InterruptedError
		if !errors.As(err, &ie) || time.Since(start) > 2*time.Second {
			t.Fatalf("err = %v after %s, want an interruption at once", err, time.Since(start))
		}
		if !strings.Contains(errOut.String(), "reading the JSON body from stdin (Ctrl-D to end") {
			t.Fatalf("stderr %q: no hint", errOut)
		}
		if len(srv.Jobs()) != 0 {
			t.Fatal("something was submitted")
		}
	})
	t.Run("ctrl-d", func(t *testing.T) {
		opts, _ := newOpts(t, strings.NewReader(`{"prompt":"typed"}`))
		if err := generateRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		if j := onlyJob(t, srv); j.Body["prompt"] != "typed" {
			t.Fatalf("body %v", j.Body)
		}
	})
}
