package cancel_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/hf-cli/hf/pkg/iostreams"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmd/cancel"
	"github.com/hf-cli/hf/pkg/cmd/root"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/journal"
)

const id = "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"

// isolate keeps the user's config, journal, credentials and tunnel settings out of a test.
func isolate(t *testing.T) { testenv.Isolate(t) }

func TestNewCmdCancelArgs(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		errHas string // non-empty: a *cmdutil.FlagError saying this
	}{
		{name: "id", args: []string{id}},
		{name: "no id", errHas: "exactly one request ID (got 0 arguments)"},
		{name: "two ids", args: []string{id, id}, errHas: "got 2 arguments"},
		{name: "path traversal", args: []string{"../x"}, errHas: "invalid request id"},
		{name: "slash", args: []string{"a/b"}, errHas: "invalid request id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			ios, _, _, errOut := iostreams.Test()
			var got *cancel.Options
			cmd := cancel.NewCmdCancel(testenv.Factory(ios, "test"), func(o *cancel.Options) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(errOut)
			cmd.SetErr(errOut)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if tt.errHas != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %T %v, want a *cmdutil.FlagError saying %q", err, err, tt.errHas)
				}
				if got != nil {
					t.Fatal("runF called despite the usage error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || got.RequestID != id || got.IO == nil || got.Client == nil || got.Journal == nil {
				t.Fatalf("options %+v", got)
			}
		})
	}
}

func TestCancelAgainstFakeAPI(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	client, err := higgsfield.New(higgsfield.Options{BaseURL: srv.URL, Credentials: higgsfield.Credentials{ID: "kid", Secret: "ksecret"}})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(t *testing.T, queued, running time.Duration) string {
		t.Helper()
		srv.SetTiming(queued, running)
		st, err := client.Submit(context.Background(), higgsfield.SubmitRequest{Model: "higgsfield-ai/soul/standard", Params: map[string]any{"prompt": "x"}})
		if err != nil {
			t.Fatal(err)
		}
		return st.RequestID
	}
	runJSON := func(t *testing.T, base string, args ...string) (stdout, stderr string, err error) {
		t.Helper()
		ios, _, out, errOut := iostreams.Test()
		cmd := cancel.NewCmdCancel(testenv.NewFake(t, ios, base, nil).Factory, nil)
		cmd.SetArgs(args)
		cmd.SetOut(errOut)
		cmd.SetErr(errOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err = cmd.ExecuteContext(context.Background())
		return out.String(), errOut.String(), err
	}
	run := func(t *testing.T, base, id string) (stderr string, err error) {
		t.Helper()
		ios, _, out, errOut := iostreams.Test()
		cmd := cancel.NewCmdCancel(testenv.NewFake(t, ios, base, nil).Factory, nil)
		cmd.SetArgs([]string{id})
		cmd.SetOut(errOut)
		cmd.SetErr(errOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err = cmd.ExecuteContext(context.Background())
		if out.Len() != 0 {
			t.Fatalf("cancel wrote to stdout: %q", out)
		}
		return errOut.String(), err
	}
	openJournal := testenv.OpenJournal

	t.Run("queued, unknown to the journal", func(t *testing.T) {
		isolate(t)
		rid := submit(t, time.Hour, time.Hour)
		if _, err := run(t, srv.URL, rid); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := openJournal(t).Lookup(rid); ok {
			t.Fatal("a request submitted elsewhere was added to this machine's history")
		}
	})

	t.Run("queued", func(t *testing.T) {
		isolate(t)
		rid := submit(t, time.Hour, time.Hour)
		if err := openJournal(t).Append(journal.Record{Event: "submitted", RequestID: rid, Model: "m", Status: "queued"}); err != nil {
			t.Fatal(err)
		}
		stderr, err := run(t, srv.URL, rid)
		if err != nil {
			t.Fatal(err)
		}
		if want := "hf: canceled " + rid + "\n"; stderr != want {
			t.Fatalf("stderr %q, want %q", stderr, want)
		}
		if j, _ := srv.Job(rid); !j.Canceled || j.Status != "canceled" {
			t.Fatalf("the fake's job %+v is not canceled", j)
		}
		e, ok, err := openJournal(t).Lookup(rid)
		if err != nil || !ok {
			t.Fatalf("journal entry: ok %v err %v", ok, err)
		}
		if e.Status != higgsfield.StatusCanceled || e.Error != "canceled by the user" {
			t.Fatalf("journal entry %+v, want status canceled", e)
		}
	})
	t.Run("running", func(t *testing.T) {
		isolate(t)
		rid := submit(t, 0, time.Hour)
		_, err := run(t, srv.URL, rid)
		if err == nil {
			t.Fatal("canceling a running request succeeded")
		}
		if !strings.Contains(err.Error(), rid+" has already started") {
			t.Fatalf("err %q does not say the request already started", err)
		}
		var ae *higgsfield.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 {
			t.Fatalf("err = %v, want the API's 400 in the chain", err)
		}
		if code := root.ExitCode(err); code != 2 {
			t.Fatalf("exit code %d, want 2", code)
		}
		if j, _ := srv.Job(rid); j.Canceled {
			t.Fatal("the fake canceled a running job")
		}
		if e, ok, _ := openJournal(t).Lookup(rid); ok {
			t.Fatalf("a failed cancel was journaled: %+v", e)
		}
	})
	waitFor := func(t *testing.T, rid, status string) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if j, _ := srv.Job(rid); j.Status == status {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the fake's job never became %s", status)
			}
		}
	}
	t.Run("already canceled", func(t *testing.T) {
		isolate(t)
		rid := submit(t, time.Hour, time.Hour)
		if _, err := run(t, srv.URL, rid); err != nil {
			t.Fatal(err)
		}
		stderr, err := run(t, srv.URL, rid)
		if err != nil || stderr != "hf: "+rid+" was already canceled\n" {
			t.Fatalf("second cancel: %q, %v; want it to say already canceled, exit 0", stderr, err)
		}
		stdout, _, err := runJSON(t, srv.URL, rid, "--json")
		var v cancel.View
		if jerr := json.Unmarshal([]byte(stdout), &v); err != nil || jerr != nil || v.RequestID != rid || v.Status != "canceled" || v.Canceled {
			t.Fatalf("--json %q (%v, %v): want status canceled, canceled false", stdout, err, jerr)
		}
	})
	t.Run("already completed", func(t *testing.T) {
		isolate(t)
		rid := submit(t, 0, 0)
		waitFor(t, rid, "completed")
		if err := openJournal(t).Append(journal.Record{Event: journal.EventSubmitted, RequestID: rid, Status: "in_progress"}); err != nil {
			t.Fatal(err)
		}
		_, err := run(t, srv.URL, rid)
		if err == nil || !strings.HasPrefix(err.Error(), rid+" has already finished (completed); there is nothing to cancel") {
			t.Fatalf("err = %v, want it to say the request already completed", err)
		}
		if e, _, _ := openJournal(t).Lookup(rid); e.Status != "completed" {
			t.Fatalf("journal status %q, want the completed status hf saw", e.Status)
		}
	})
	t.Run("json", func(t *testing.T) {
		isolate(t)
		rid := submit(t, time.Hour, time.Hour)
		stdout, stderr, err := runJSON(t, srv.URL, rid, "--json")
		var v cancel.View
		if jerr := json.Unmarshal([]byte(stdout), &v); err != nil || jerr != nil || v != (cancel.View{RequestID: rid, Status: "canceled", Canceled: true}) {
			t.Fatalf("--json %q (%v, %v)", stdout, err, jerr)
		}
		if stderr != "" {
			t.Fatalf("stderr %q with --json", stderr)
		}
		rid = submit(t, 0, time.Hour)
		waitFor(t, rid, "in_progress")
		stdout, _, err = runJSON(t, srv.URL, rid, "--json")
		if jerr := json.Unmarshal([]byte(stdout), &v); err == nil || jerr != nil || v.Canceled || v.Status != "in_progress" || !strings.Contains(v.Error, "already started") {
			t.Fatalf("--json of a running request %q (%v, %v)", stdout, err, jerr)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		isolate(t)
		_, err := run(t, srv.URL, "00000000-0000-4000-8000-000000000000")
		if higgsfield.StatusCodeOf(err) != 404 || strings.Contains(err.Error(), "already started") {
			t.Fatalf("err = %v, want the API's 404 as is", err)
		}
	})
	t.Run("journal cancel_url", func(t *testing.T) {
		isolate(t)
		rid := submit(t, time.Hour, time.Hour)
		if _, err := run(t, srv.URL+"/v1", rid); err == nil {
			t.Fatal("control: the bad base URL canceled without a journal entry")
		}
		if j, _ := srv.Job(rid); j.Canceled {
			t.Fatal("control: canceled through the bad base URL")
		}
		// Only the cancel_url recorded in the journal reaches the fake.
		if err := openJournal(t).Append(journal.Record{Event: journal.EventSubmitted, RequestID: rid,
			CancelURL: srv.URL + "/requests/" + rid + "/cancel"}); err != nil {
			t.Fatal(err)
		}
		if _, err := run(t, srv.URL+"/v1", rid); err != nil {
			t.Fatal(err)
		}
		if j, _ := srv.Job(rid); !j.Canceled {
			t.Fatal("not canceled through the journal's cancel_url")
		}
	})
}
