package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/inputs"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

// sample writes a sample file of content type ct into dir.
func sample(t *testing.T, dir, name, ct string, seed uint64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, hftest.Sample(ct, seed), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// slotOf returns the fake's record of the upload behind a public URL.
func slotOf(t *testing.T, srv *hftest.Server, u any) hftest.Slot {
	t.Helper()
	for _, s := range srv.Slots() {
		if s.PublicURL == u {
			return s
		}
	}
	t.Fatalf("%v is not a public URL the fake handed out", u)
	return hftest.Slot{}
}

func newFakeAPI(t *testing.T) *hftest.Server {
	t.Helper()
	testenv.Isolate(t) // the upload cache lives in the state directory
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(10*time.Millisecond, 10*time.Millisecond))
	t.Cleanup(srv.Close)
	return srv
}

func TestGenerateUploadsFiles(t *testing.T) {
	srv := newFakeAPI(t)
	dir := t.TempDir()
	t.Chdir(dir)
	png := sample(t, dir, "cat.png", "image/png", 1)
	jpg := sample(t, dir, "dog.jpg", "image/jpeg", 2)
	mp4 := sample(t, filepath.Join(dir), "clip.mp4", "video/mp4", 3)
	input := filepath.Join(dir, "body.json")
	if err := os.WriteFile(input, []byte(`{"prompt":"@@from input","video_url":"@clip.mp4","style":"@cat.png"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, engines, err := runDirect(t, srv, func(o *Options) {
		o.NoWait = true
		o.Body = cmdutil.BodyFlags{Input: input, Sets: []string{"image_url=@cat.png", `image_urls=["@dog.jpg","@cat.png","https://x.example/y.png"]`, "handle=@@me"}}
	})
	if err != nil || engines != 1 {
		t.Fatalf("err %v, %d engines", err, engines)
	}
	j := onlyJob(t, srv)
	b := j.Body
	// Each distinct content reached storage once, as the fake computed it.
	if got := srv.Stored(); len(got) != 3 || srv.Count(hftest.UploadPut) != 3 {
		t.Fatalf("stored %v after %d PUTs, want 3 distinct contents", got, srv.Count(hftest.UploadPut))
	}
	if srv.CredentialLeaks() != 0 {
		t.Fatal("credentials sent to storage")
	}
	if s := slotOf(t, srv, b["image_url"]); s.SHA256 != fileSum(t, png) || s.ContentType != "image/png" {
		t.Fatalf("image_url slot %+v", s)
	}
	urls := b["image_urls"].([]any)
	if s := slotOf(t, srv, urls[0]); s.SHA256 != fileSum(t, jpg) || s.ContentType != "image/jpeg" {
		t.Fatalf("image_urls[0] slot %+v", s)
	}
	if urls[1] != b["image_url"] || urls[2] != "https://x.example/y.png" {
		t.Fatalf("image_urls %v", urls)
	}
	if s := slotOf(t, srv, b["video_url"]); s.SHA256 != fileSum(t, mp4) || s.ContentType != "video/mp4" {
		t.Fatalf("video_url slot %+v", s)
	}
	if b["style"] != "@cat.png" || b["handle"] != "@me" || b["prompt"] != "@from input" {
		t.Fatalf("non-file fields: style %v handle %v prompt %v", b["style"], b["handle"], b["prompt"])
	}
}

func TestGeneratePromptIsNeverAFile(t *testing.T) {
	srv := newFakeAPI(t)
	t.Chdir(t.TempDir())
	sample(t, ".", "cat.png", "image/png", 1)
	for _, prompt := range []string{"@cat.png", "@@cat.png", "@nope.png"} {
		_, _, err := runDirect(t, srv, func(o *Options) {
			o.NoWait = true
			o.Body = cmdutil.BodyFlags{Prompt: prompt, PromptSet: true}
		})
		if err != nil {
			t.Fatal(err)
		}
		jobs := srv.Jobs()
		if got := jobs[len(jobs)-1].Body["prompt"]; got != prompt {
			t.Fatalf("prompt %q sent as %q", prompt, got)
		}
	}
	if srv.Count(hftest.Upload) != 0 {
		t.Fatal("a prompt was uploaded")
	}
}

func TestGenerateBadFileSpendsNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	sample(t, dir, "ok.png", "image/png", 1)
	if err := os.WriteFile(filepath.Join(dir, "notes.png"), []byte("plain text pretending"), 0o644); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "in.json")
	if err := os.WriteFile(input, []byte(`{"prompt":"p","image_url":"@missing.jpg"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		body   cmdutil.BodyFlags
		path   string
		reason string
	}{
		{"unsupported type", cmdutil.BodyFlags{Prompt: "p", PromptSet: true, Sets: []string{"image_url=@ok.png", "end_image_url=@notes.png"}}, "notes.png", "is text/plain"},
		{"missing in an array", cmdutil.BodyFlags{Prompt: "p", PromptSet: true, Sets: []string{`image_urls=["@ok.png","@gone.png"]`}}, "gone.png", "does not exist"},
		{"missing in --input", cmdutil.BodyFlags{Input: input}, "missing.jpg", "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeAPI(t)
			_, engines, err := runDirect(t, srv, func(o *Options) { o.Body = tt.body })
			var fe *inputs.FileError
			if !errors.As(err, &fe) || fe.Path != tt.path || !strings.Contains(err.Error(), tt.reason) || !strings.Contains(err.Error(), "video/mp4") {
				t.Fatalf("err = %v", err)
			}
			if engines != 0 || len(srv.Hits()) != 0 || srv.Charged() != 0 {
				t.Fatalf("%d engines, %d requests, %d charged: want nothing opened or spent", engines, len(srv.Hits()), srv.Charged())
			}
		})
	}
}

func TestGenerateReusesUploads(t *testing.T) {
	srv := newFakeAPI(t)
	t.Chdir(t.TempDir())
	sample(t, ".", "cat.png", "image/png", 1)
	var urls []any
	for range 2 {
		if _, _, err := runDirect(t, srv, func(o *Options) {
			o.NoWait = true
			o.Body.Sets = []string{"image_url=@cat.png"}
		}); err != nil {
			t.Fatal(err)
		}
		jobs := srv.Jobs()
		urls = append(urls, jobs[len(jobs)-1].Body["image_url"])
	}
	if srv.Charged() != 2 || srv.Count(hftest.UploadPut) != 1 || srv.Count(hftest.Upload) != 1 || urls[0] != urls[1] {
		t.Fatalf("%d generations, %d slots, %d PUTs, URLs %v: want one upload for both", srv.Charged(), srv.Count(hftest.Upload), srv.Count(hftest.UploadPut), urls)
	}
}

func TestGenerateDryRun(t *testing.T) {
	srv := newFakeAPI(t)
	t.Chdir(t.TempDir())
	png := sample(t, ".", "cat.png", "image/png", 1)
	for _, asJSON := range []bool{false, true} {
		out, engines, err := runDirect(t, srv, func(o *Options) {
			o.DryRun, o.JSON = true, asJSON
			o.ExpiresAfter = 2 * time.Hour
			o.IdemKey = "my-key"
			o.Body.Sets = []string{"image_url=@cat.png", "batch_size=4"}
		})
		if err != nil {
			t.Fatal(err)
		}
		if engines != 0 || srv.Count(hftest.Submit) != 0 || srv.Count(hftest.Upload) != 0 || srv.Count(hftest.UploadPut) != 0 {
			t.Fatalf("dry run: %d engines, %d submits, %d uploads", engines, srv.Count(hftest.Submit), srv.Count(hftest.Upload))
		}
		if strings.Contains(out, "ksecret") {
			t.Fatalf("the secret is shown:\n%s", out)
		}
		if !asJSON {
			for _, want := range []string{
				"POST " + srv.URL + "/higgsfield-ai/soul/standard\n",
				"Authorization: Key kid:<redacted>", "Hf-Expires-After: 7200", "Idempotency-Key: my-key",
				`"image_url": "https://upload.invalid/`, "cat.png", `"prompt": "a fox"`,
				"curl -X POST '" + srv.URL + "/higgsfield-ai/soul/standard'", `-H "Authorization: Key $HF_KEY"`,
				"Estimate: 6.000 credits, $0.375",
			} {
				if !strings.Contains(out, want) {
					t.Fatalf("dry run lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "nothing was uploaded") {
				t.Fatalf("the trailer is on stdout:\n%s", out)
			}
			continue
		}
		var d DryRun
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		if d.Method != "POST" || d.Headers["Hf-Expires-After"] != "7200" || len(d.Uploads) != 1 || d.Uploads[0].SHA256 != fileSum(t, png) ||
			d.Estimate == nil || d.Estimate.Credits != "6.000" || d.Body["batch_size"] == nil {
			t.Fatalf("dry run JSON %+v", d)
		}
	}
	if srv.Count(hftest.Estimate) != 2 {
		t.Fatalf("%d estimates", srv.Count(hftest.Estimate))
	}
	// With an endpoint to be had, the URL shows where hf_webhook goes.
	out, _, err := runDirect(t, srv, func(o *Options) { o.DryRun = true; o.Endpoint.WebhookURL = "https://hooks.example.com/hf" })
	if err != nil || !strings.Contains(out, "?hf_webhook="+webhookPlaceholder) {
		t.Fatalf("%v\n%s", err, out)
	}
	out, _, _ = runDirect(t, srv, func(o *Options) {
		o.DryRun = true
		o.Endpoint.Via, o.Endpoint.WebhookURL = "poll", "https://hooks.example.com/hf"
	})
	if strings.Contains(out, "hf_webhook") {
		t.Fatalf("--via poll shows a webhook:\n%s", out)
	}
}

func TestGenerateExpiresAfter(t *testing.T) {
	srv := newFakeAPI(t)
	srv.SetRetention(24 * time.Hour)
	if _, _, err := runDirect(t, srv, func(o *Options) { o.NoWait = true; o.ExpiresAfter = 3 * time.Hour }); err != nil {
		t.Fatal(err)
	}
	var got string
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.Submit {
			got = h.Header.Get("Hf-Expires-After")
		}
	}
	if got != "10800" {
		t.Fatalf("Hf-Expires-After %q, want 10800", got)
	}
	_, _, err := runDirect(t, srv, func(o *Options) { o.NoWait = true; o.ExpiresAfter = 48 * time.Hour })
	if higgsfield.StatusCodeOf(err) != 422 || !strings.Contains(err.Error(), "hf-expires-after") || srv.Charged() != 1 {
		t.Fatalf("err = %v (charged %d), want the API's 422", err, srv.Charged())
	}
}

func TestNewCmdGenerateNewFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*Options) bool
	}{
		{args: []string{"--expires-after", "2h"}, check: func(o *Options) bool { return o.ExpiresAfter == 2*time.Hour }},
		{args: []string{"--expires-after", "7200"}, check: func(o *Options) bool { return o.ExpiresAfter == 2*time.Hour }},
		{args: []string{"--expires-after", "1.5"}, wantErr: "want whole seconds from 1h"},
		{args: []string{"--expires-after", "3599"}, wantErr: "want whole seconds from 1h"},
		{args: []string{"--expires-after", "30m"}, wantErr: "want whole seconds from 1h"},
		{args: []string{"--expires-after", "3600.5"}, wantErr: "want whole seconds from 1h"},
		{args: []string{"--expires-after", "-2h"}, wantErr: "want whole seconds from 1h"},
		{args: []string{"--expires-after", "3600"}, check: func(o *Options) bool { return o.ExpiresAfter == time.Hour }},
		{args: []string{"--expires-after", "0"}, wantErr: "want whole seconds from 1h"},
		{args: []string{"--expires-after", "soon"}, wantErr: "invalid duration"},
		{args: []string{"--dry-run"}, check: func(o *Options) bool { return o.DryRun }},
	}
	for _, tt := range tests {
		ios, _, _, _ := iostreams.Test()
		f := testenv.NewFake(t, ios, "http://127.0.0.1:1", nil)
		o, err := testenv.Parse(t, f.Factory, NewCmdGenerate, ios.ErrOut, append([]string{"m/x", "-p", "x"}, tt.args...)...)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("%v: err = %v", tt.args, err)
			}
			continue
		}
		if err != nil || !tt.check(o) {
			t.Fatalf("%v: %+v %v", tt.args, o, err)
		}
	}
}

func TestGenerateInterruptedUpload(t *testing.T) {
	srv := newFakeAPI(t)
	srv.SetUploadDelay(10 * time.Second) // storage hangs
	t.Chdir(t.TempDir())
	sample(t, ".", "cat.png", "image/png", 1)
	ios, _, _, _ := iostreams.Test()
	fake := testenv.NewFake(t, ios, srv.URL, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(job.ErrInterrupt) })
	start := time.Now()
	err := generateRun(ctx, &Options{IO: ios, Engine: fake.Engine, Client: fake.Client, Config: fake.Config, Credentials: fake.Credentials,
		Model: "m/x", Body: cmdutil.BodyFlags{Prompt: "p", PromptSet: true, Sets: []string{"image_url=@cat.png"}},
		Out: cmdutil.OutputFlags{Dir: t.TempDir()}, Timeout: time.Minute})
	var ie *job.InterruptedError
	if !errors.As(err, &ie) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
	if srv.Count(hftest.Submit) != 0 || srv.Charged() != 0 {
		t.Fatal("submitted after an interrupted upload")
	}
}
