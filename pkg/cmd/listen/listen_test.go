package listen_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmd/listen"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/iostreams"
)

func parse(t *testing.T, args ...string) (*listen.Options, error) {
	t.Helper()
	testenv.Isolate(t)
	ios, _, _, errOut := iostreams.Test()
	return testenv.Parse(t, testenv.Factory(ios, "test"), listen.NewCmdListen, errOut, args...)
}

func TestNewCmdListenFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		check  func(*listen.Options) bool
		errHas string
	}{
		{name: "defaults", check: func(o *listen.Options) bool {
			return len(o.ForwardTo) == 0 && !o.JSON && o.MaxDeliveries == 0 && o.ReconnectTimeout == 5*time.Minute &&
				o.ForwardTimeout == 10*time.Second && o.SaveDir == "" && o.ReadyFile == ""
		}},
		{name: "two targets", args: []string{"--forward-to", "http://localhost:3000/a", "--forward-to", "https://127.0.0.1:4000/b"}, check: func(o *listen.Options) bool {
			return len(o.ForwardTo) == 2 && o.ForwardTo[0] == "http://localhost:3000/a" && o.ForwardTo[1] == "https://127.0.0.1:4000/b"
		}},
		{name: "everything", args: []string{"--json", "--save", "d", "--ready-file", "r", "--max-deliveries", "3", "--reconnect-timeout", "1m",
			"--forward-timeout", "2s", "--webhook-url", "https://hooks.example.com", "--listen", ":8080"}, check: func(o *listen.Options) bool {
			return o.JSON && o.SaveDir == "d" && o.ReadyFile == "r" && o.MaxDeliveries == 3 && o.ReconnectTimeout == time.Minute &&
				o.ForwardTimeout == 2*time.Second && o.WebhookURL == "https://hooks.example.com" && o.Listen == ":8080"
		}},
		{name: "targets without a scheme, as stripe listen takes them", args: []string{"--forward-to", "localhost:3000/webhooks", "--forward-to", ":4000/b"}, check: func(o *listen.Options) bool {
			return len(o.ForwardTo) == 2 && o.ForwardTo[0] == "http://localhost:3000/webhooks" && o.ForwardTo[1] == "http://localhost:4000/b"
		}},
		{name: "ftp target", args: []string{"--forward-to", "ftp://host/x"}, errHas: `--forward-to "ftp://host/x": want an http:// or https:// URL, or host:port/path`},
		{name: "not a URL", args: []string{"--forward-to", "mailto:x"}, errHas: "want an http"},
		{name: "negative max", args: []string{"--max-deliveries", "-1"}, errHas: "--max-deliveries"},
		{name: "zero reconnect timeout", args: []string{"--reconnect-timeout", "0s"}, errHas: "--reconnect-timeout must be positive"},
		{name: "zero forward timeout", args: []string{"--forward-timeout", "0s"}, errHas: "--forward-timeout must be positive"},
		{name: "an argument", args: []string{"http://localhost:3000"}, errHas: "listen takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(t, tt.args...)
			if tt.errHas != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %T %v, want a *cmdutil.FlagError saying %q", err, err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options %+v", o)
			}
			if o.IO == nil || o.Config == nil {
				t.Error("dependencies not injected")
			}
		})
	}
}
