package deletecmd

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
)

func TestDelete(t *testing.T) {
	tests := []struct {
		name     string
		yes, tty bool
		answer   string
		deleted  bool
		usageErr bool
	}{
		{name: "--yes", yes: true, deleted: true},
		{name: "terminal, yes", tty: true, answer: "y\n", deleted: true},
		{name: "terminal, YES", tty: true, answer: "YES\n", deleted: true},
		{name: "terminal, no", tty: true, answer: "n\n"},
		{name: "terminal, enter", tty: true, answer: "\n"},
		{name: "no terminal, no --yes", usageErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(0, 0))
			t.Cleanup(srv.Close)
			ios, in, _, errOut := iostreams.Test()
			ios.SetStdinTTY(tt.tty)
			ios.SetStderrTTY(tt.tty)
			in.WriteString(tt.answer)
			fake := testenv.NewFake(t, ios, srv.URL, nil)
			c, _ := fake.Client(cmdutil.ClientOptions{})
			sub, err := c.Submit(context.Background(), higgsfield.SubmitRequest{Model: "m/x", Params: map[string]any{"prompt": "p"}})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
			err = deleteRun(context.Background(), &Options{IO: ios, Client: fake.Client, RequestID: sub.RequestID, Yes: tt.yes})
			var fe *cmdutil.FlagError
			switch {
			case tt.usageErr:
				if !errors.As(err, &fe) || !strings.Contains(fe.Hint, "--yes") {
					t.Fatalf("err = %v", err)
				}
			case tt.deleted && err != nil:
				t.Fatal(err)
			case !tt.deleted && err == nil:
				t.Fatal("declined, yet no error")
			}
			if srv.Deleted(sub.RequestID) != tt.deleted || (!tt.deleted && srv.Count(hftest.Delete) != 0) {
				t.Fatalf("deleted %v (%d calls), want %v", srv.Deleted(sub.RequestID), srv.Count(hftest.Delete), tt.deleted)
			}
			if tt.tty && !strings.Contains(errOut.String(), "cannot be undone") {
				t.Fatalf("no question asked: %q", errOut.String())
			}
		})
	}
}

// Ctrl-C at the question ends hf at once with exit 130 (an
// *InterruptedError), and nothing is deleted, even if the answer "y"
// arrives afterwards.
func TestDeleteQuestionInterrupted(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"), hftest.WithTiming(0, 0))
	t.Cleanup(srv.Close)
	ios, _, _, _ := iostreams.Test()
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	ios.In = r
	ios.SetStdinTTY(true)
	ios.SetStderrTTY(true)
	fake := testenv.NewFake(t, ios, srv.URL, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- deleteRun(ctx, &Options{IO: ios, Client: fake.Client, RequestID: "00000000-0000-0000-0000-000000000001"})
	}()
	time.Sleep(20 * time.Millisecond)
	cancel(job.ErrInterrupt)
	select {
	case err := <-done:
		var ie *job.InterruptedError
		if !errors.As(err, &ie) {
			t.Fatalf("err = %v, want an *InterruptedError", err)
		}
	case <-time.After(3 * time.Second):
		_, _ = w.Write([]byte("y\n"))
		<-done
		t.Fatal("the question ignored Ctrl-C")
	}
	if srv.Count(hftest.Delete) != 0 {
		t.Fatal("deleted after an interrupt")
	}
}
