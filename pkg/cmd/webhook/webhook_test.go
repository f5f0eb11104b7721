package webhook_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmd/webhook"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/iostreams"
)

const id = "9417a243-e457-4075-895b-b68f3cda5303"

func wantFlagError(t *testing.T, err error, has string) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), has) {
		t.Fatalf("err = %T %v, want a *cmdutil.FlagError saying %q", err, err, has)
	}
}

func TestNewCmdSendFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   webhook.SendOptions
		errHas string
	}{
		{name: "completed", args: []string{"http://localhost:3000/webhooks", "--status", "completed"},
			want: webhook.SendOptions{URL: "http://localhost:3000/webhooks", Status: "completed", Timeout: 10 * time.Second}},
		{name: "video with an id", args: []string{"https://h.example/x", "--status", "completed", "--kind", "video", "--request-id", id, "--timeout", "2s"},
			want: webhook.SendOptions{URL: "https://h.example/x", Status: "completed", Kind: "video", RequestID: id, Timeout: 2 * time.Second}},
		{name: "nsfw", args: []string{"http://h/x", "--status", "nsfw"}, want: webhook.SendOptions{URL: "http://h/x", Status: "nsfw", Timeout: 10 * time.Second}},
		{name: "no status", args: []string{"http://h/x"}, errHas: "--status is required"},
		{name: "canceled", args: []string{"http://h/x", "--status", "canceled"}, errHas: `--status "canceled": want completed, failed or nsfw`},
		{name: "kind audio", args: []string{"http://h/x", "--status", "completed", "--kind", "audio"}, errHas: "--kind"},
		{name: "kind with failed", args: []string{"http://h/x", "--status", "failed", "--kind", "image"}, errHas: "--kind applies to --status completed only"},
		{name: "bad request id", args: []string{"http://h/x", "--status", "failed", "--request-id", "../x"}, errHas: "invalid request id"},
		{name: "no scheme means http", args: []string{"localhost:3000/webhooks", "--status", "nsfw"},
			want: webhook.SendOptions{URL: "http://localhost:3000/webhooks", Status: "nsfw", Timeout: 10 * time.Second}},
		{name: "ftp", args: []string{"ftp://h/x", "--status", "nsfw"}, errHas: "want an http"},
		{name: "no URL", args: []string{"--status", "nsfw"}, errHas: "send needs the handler's URL"},
		{name: "zero timeout", args: []string{"http://h/x", "--status", "nsfw", "--timeout", "0s"}, errHas: "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.Isolate(t)
			ios, _, _, errOut := iostreams.Test()
			o, err := testenv.Parse(t, testenv.Factory(ios, "test"), webhook.NewCmdSend, errOut, tt.args...)
			if tt.errHas != "" {
				wantFlagError(t, err, tt.errHas)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.URL != tt.want.URL || o.Status != tt.want.Status || o.Kind != tt.want.Kind || o.RequestID != tt.want.RequestID || o.Timeout != tt.want.Timeout {
				t.Errorf("options %+v, want %+v", o, tt.want)
			}
			if o.IO == nil || o.Config == nil || o.Now == nil {
				t.Error("dependencies not injected")
			}
		})
	}
}

func TestNewCmdReplayFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		file, to string
		errHas   string
	}{
		{name: "file and target", args: []string{"saved/msg_1.http", "--to", "http://localhost:3000/webhooks"}, file: "saved/msg_1.http", to: "http://localhost:3000/webhooks"},
		{name: "no --to", args: []string{"f.http"}, errHas: "--to URL is required"},
		{name: "bad --to", args: []string{"f.http", "--to", "ftp://localhost/x"}, errHas: "--to"},
		{name: "--to without a scheme", args: []string{"f.http", "--to", "localhost:3000/webhooks"}, file: "f.http", to: "http://localhost:3000/webhooks"},
		{name: "no file", args: []string{"--to", "http://h/x"}, errHas: "replay needs the saved delivery's FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.Isolate(t)
			ios, _, _, errOut := iostreams.Test()
			o, err := testenv.Parse(t, testenv.Factory(ios, "test"), webhook.NewCmdReplay, errOut, tt.args...)
			if tt.errHas != "" {
				wantFlagError(t, err, tt.errHas)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.File != tt.file || o.To != tt.to || o.Timeout != 10*time.Second {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestHandlerErrorSaysWhereARedirectPoints(t *testing.T) {
	for _, tc := range []struct {
		e    webhook.HandlerError
		want string
	}{
		{webhook.HandlerError{URL: "http://a/w", Code: 500}, "http://a/w answered 500 Internal Server Error"},
		{webhook.HandlerError{URL: "http://a/w", Code: 308, Location: "http://a/w/"}, "http://a/w answered 308 Permanent Redirect to http://a/w/ (redirects are not followed: send there instead)"},
		{webhook.HandlerError{URL: "http://a/w", Err: "no answer within 1s"}, "http://a/w: no answer within 1s"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

func TestHandlerErrorHidesSecrets(t *testing.T) {
	e := &webhook.HandlerError{URL: "https://user:pw@h.example/hf/0123456789abcdef0123456789abcdef?token=t0k", Code: 401}
	if got := e.Error(); strings.Contains(got, "0123456789abcdef") || strings.Contains(got, "pw") || strings.Contains(got, "t0k") {
		t.Errorf("%q", got)
	}
}
