package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/hf-cli/hf/pkg/iostreams"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmd/status"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/journal"
)

const id = "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"

// isolate keeps the user's config, journal and credentials out of a test.
func isolate(t *testing.T) { testenv.Isolate(t) }

// parse runs `hf status args...` with a runF that captures the options.
func parse(t *testing.T, args ...string) (*status.Options, error) {
	t.Helper()
	isolate(t)
	ios, _, _, errOut := iostreams.Test()
	return testenv.Parse(t, testenv.Factory(ios, "test"), status.NewCmdStatus, errOut, args...)
}

func TestNewCmdStatusFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantID   string
		wantJSON bool
		errHas   string // non-empty: a *cmdutil.FlagError saying this
	}{
		{name: "id", args: []string{id}, wantID: id},
		{name: "--json", args: []string{id, "--json"}, wantID: id, wantJSON: true},
		{name: "--json first", args: []string{"--json", id}, wantID: id, wantJSON: true},
		{name: "no id", errHas: "exactly one request ID (got 0 arguments)"},
		{name: "two ids", args: []string{id, id}, errHas: "got 2 arguments"},
		{name: "path traversal", args: []string{"../../etc/passwd"}, errHas: "invalid request id"},
		{name: "query", args: []string{id + "?x=1"}, errHas: "invalid request id"},
		{name: "leading dash", args: []string{"--", "-abc"}, errHas: "invalid request id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(t, tt.args...)
			if tt.errHas != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %T %v, want *cmdutil.FlagError", err, err)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err %q does not say %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.RequestID != tt.wantID || o.JSON != tt.wantJSON {
				t.Fatalf("RequestID %q JSON %v, want %q %v", o.RequestID, o.JSON, tt.wantID, tt.wantJSON)
			}
			if o.IO == nil || o.Client == nil || o.Journal == nil {
				t.Fatal("dependencies not injected")
			}
		})
	}
}

// run executes `hf status args...` against the API at base.
func run(t *testing.T, base string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	cmd := status.NewCmdStatus(testenv.NewFake(t, ios, base, nil).Factory, nil)
	cmd.SetArgs(args)
	cmd.SetOut(errOut)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.ExecuteContext(context.Background())
	if strings.Contains(out.String()+errOut.String(), "ksecret") {
		t.Fatalf("output shows the secret:\n%s\n%s", out, errOut)
	}
	return out.String(), errOut.String(), err
}

// rows splits tabwriter output into its first column and the rest.
func rows(t *testing.T, s string) [][2]string {
	t.Helper()
	var out [][2]string
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("line %q: want 2 columns", line)
		}
		out = append(out, [2]string{f[0], f[1]})
	}
	return out
}

func TestStatusAgainstFakeAPI(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	client, err := higgsfield.New(higgsfield.Options{BaseURL: srv.URL, Credentials: higgsfield.Credentials{ID: "kid", Secret: "ksecret"}})
	if err != nil {
		t.Fatal(err)
	}
	// submit creates a job that stays queued for queued, then runs for 0.
	submit := func(t *testing.T, queued time.Duration) string {
		t.Helper()
		srv.SetTiming(queued, 0)
		st, err := client.Submit(context.Background(), higgsfield.SubmitRequest{Model: "higgsfield-ai/soul/standard", Params: map[string]any{"prompt": "x", "batch_size": 2}})
		if err != nil {
			t.Fatal(err)
		}
		return st.RequestID
	}
	queuedID := submit(t, time.Hour)
	doneID := submit(t, 0)
	srv.SetOutcome(hftest.Outcome{Status: "failed", Error: "boom"})
	failedID := submit(t, 0)
	srv.SetOutcome(hftest.Outcome{})
	done, _ := srv.Job(doneID)
	if done.Status != "completed" || len(done.Assets) != 2 {
		t.Fatalf("fake job %+v, want completed with 2 assets", done)
	}

	t.Run("queued plain", func(t *testing.T) {
		isolate(t)
		out, _, err := run(t, srv.URL, queuedID)
		if err != nil {
			t.Fatal(err)
		}
		want := [][2]string{{"request", queuedID}, {"status", "queued"}}
		if got := rows(t, out); !equalRows(got, want) {
			t.Fatalf("stdout rows %q, want %q", got, want)
		}
	})
	t.Run("completed plain", func(t *testing.T) {
		isolate(t)
		out, _, err := run(t, srv.URL, doneID)
		if err != nil {
			t.Fatal(err)
		}
		got := rows(t, out)
		if len(got) != 5 {
			t.Fatalf("stdout %q: want request, status, two outputs and expires", out)
		}
		want := [][2]string{{"request", doneID}, {"status", "completed"},
			{"images[0]", done.Assets[0].URL}, {"images[1]", done.Assets[1].URL}}
		if !equalRows(got[:4], want) {
			t.Fatalf("stdout rows %q, want %q", got[:4], want)
		}
		if got[4][0] != "expires" {
			t.Fatalf("last row %q, want expires", got[4])
		}
		exp, err := time.Parse(time.RFC3339, got[4][1])
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(exp); d < 6*24*time.Hour || d > 8*24*time.Hour {
			t.Fatalf("expires %s, want about a week from now", exp)
		}
		// The values start in one column.
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		col := strings.Index(lines[0], doneID)
		for i, l := range lines {
			if strings.Index(l, got[i][1]) != col {
				t.Fatalf("values not aligned at column %d:\n%s", col, out)
			}
		}
	})
	t.Run("failed plain and json", func(t *testing.T) {
		isolate(t)
		out, _, err := run(t, srv.URL, failedID)
		if err != nil {
			t.Fatalf("status exits 0 whatever the status: %v", err)
		}
		want := [][2]string{{"request", failedID}, {"status", "failed"}, {"error", "boom"}}
		if got := rows(t, out); !equalRows(got, want) {
			t.Fatalf("stdout rows %q, want %q", got, want)
		}
		out, _, err = run(t, srv.URL, failedID, "--json")
		if err != nil {
			t.Fatal(err)
		}
		if v := decode(t, out); v["status"] != "failed" || v["error"] != "boom" {
			t.Fatalf("%v", v)
		}
	})
	t.Run("queued json", func(t *testing.T) {
		isolate(t)
		out, _, err := run(t, srv.URL, queuedID, "--json")
		if err != nil {
			t.Fatal(err)
		}
		v := decode(t, out)
		if v["request_id"] != queuedID || v["status"] != "queued" {
			t.Fatalf("%v", v)
		}
		// files is an empty array, never null, so scripts can iterate it.
		if outs, ok := v["files"].([]any); !ok || len(outs) != 0 {
			t.Fatalf("files = %#v, want []", v["files"])
		}
		// The shape of generate's object: model is there even when unknown.
		if m, ok := v["model"]; !ok || m != "" {
			t.Fatalf("model = %#v, want \"\" for a request the journal does not know", m)
		}
		if v["status_url"] != srv.URL+"/requests/"+queuedID+"/status" || v["cancel_url"] != srv.URL+"/requests/"+queuedID+"/cancel" {
			t.Fatalf("status_url %v cancel_url %v", v["status_url"], v["cancel_url"])
		}
		if _, ok := v["expires_at"]; ok {
			t.Fatalf("a queued request has no expires_at: %v", v)
		}
	})
	t.Run("completed json", func(t *testing.T) {
		isolate(t)
		out, _, err := run(t, srv.URL, doneID, "--json")
		if err != nil {
			t.Fatal(err)
		}
		v := decode(t, out)
		if v["request_id"] != doneID || v["status"] != "completed" {
			t.Fatalf("%v", v)
		}
		outs, ok := v["files"].([]any)
		if !ok || len(outs) != 2 {
			t.Fatalf("files = %#v, want 2", v["files"])
		}
		for i, o := range outs {
			m := o.(map[string]any)
			if m["url"] != done.Assets[i].URL {
				t.Fatalf("files[%d] = %v", i, m)
			}
			if _, ok := m["path"]; ok {
				t.Fatalf("files[%d] has a path though nothing was saved: %v", i, m)
			}
		}
		if _, ok := v["outputs"]; ok {
			t.Fatalf("the old outputs key is back: %v", v)
		}
		if s, _ := v["expires_at"].(string); s == "" {
			t.Fatalf("no expires_at: %v", v)
		}
	})
	t.Run("journaled: model, saved paths, and the journal learns the status", func(t *testing.T) {
		isolate(t)
		j := testenv.OpenJournal(t)
		saved := filepath.Join(t.TempDir(), "a-1.png")
		if err := j.Append(journal.Record{Event: journal.EventSubmitted, RequestID: doneID, Model: "higgsfield-ai/soul/standard", Status: "queued"}); err != nil {
			t.Fatal(err)
		}
		if err := j.Append(journal.Record{Event: journal.EventDownloaded, RequestID: doneID, Files: []journal.File{{Path: saved, URL: done.Assets[0].URL, Bytes: 3}}}); err != nil {
			t.Fatal(err)
		}
		out, _, err := run(t, srv.URL, doneID, "--json")
		if err != nil {
			t.Fatal(err)
		}
		v := decode(t, out)
		files := v["files"].([]any)
		if v["model"] != "higgsfield-ai/soul/standard" || files[0].(map[string]any)["path"] != saved {
			t.Fatalf("%v: want the journal's model and the saved path", v)
		}
		if e, _, _ := j.Lookup(doneID); e.Status != "completed" {
			t.Fatalf("journal status %q after hf status saw completed", e.Status)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		isolate(t)
		out, _, err := run(t, srv.URL, "00000000-0000-4000-8000-000000000000")
		var ae *higgsfield.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 404 {
			t.Fatalf("err = %T %v, want an *higgsfield.APIError 404", err, err)
		}
		if out != "" {
			t.Fatalf("stdout %q, want nothing", out)
		}
	})
	t.Run("journal status_url", func(t *testing.T) {
		isolate(t)
		// The base URL has a path the fake does not serve, so only the
		// status_url recorded in the journal (same origin) can answer.
		base := srv.URL + "/v1"
		before := srv.Count(hftest.StatusEP)
		if _, _, err := run(t, base, doneID); err == nil {
			t.Fatal("control: the bad base URL answered without a journal entry")
		}
		if n := srv.Count(hftest.StatusEP); n != before {
			t.Fatalf("control reached the status endpoint")
		}
		if err := testenv.OpenJournal(t).Append(journal.Record{Event: journal.EventSubmitted, RequestID: doneID, Model: "higgsfield-ai/soul/standard",
			StatusURL: srv.URL + "/requests/" + doneID + "/status"}); err != nil {
			t.Fatal(err)
		}
		out, _, err := run(t, base, doneID, "--json")
		if err != nil {
			t.Fatal(err)
		}
		if v := decode(t, out); v["request_id"] != doneID || v["status"] != "completed" {
			t.Fatalf("%v", v)
		}
		hits := srv.Hits()
		last := hits[len(hits)-1]
		if last.Endpoint != hftest.StatusEP || last.Path != "/requests/"+doneID+"/status" || last.Authorization != "Key kid:ksecret" {
			t.Fatalf("last hit %+v, want the journal's status_url with credentials", last)
		}
	})
}

func equalRows(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// decode parses stdout as exactly one JSON object.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout %q: %v", s, err)
	}
	if rest := s[dec.InputOffset():]; strings.TrimSpace(rest) != "" {
		t.Fatalf("stdout has more than one JSON value: %q", s)
	}
	return v
}
