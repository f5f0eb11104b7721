package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hf-cli/hf/pkg/iostreams"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// isolate keeps the user's config, journal, credentials and tunnel settings out of a test.
func isolate(t *testing.T) { testenv.Isolate(t) }

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// doctor runs `hf doctor args...` with a short delivery timeout, on the
// real Factory (settings from the environment).
func doctor(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	return doctorWith(t, testenv.Factory(ios, "test"), out, errOut, args...)
}

// fakeDoctor runs `hf doctor args...` on a Factory of fakes: the API at
// base, the given config values, and no environment.
func fakeDoctor(t *testing.T, base string, values map[string]any, creds *higgsfield.Credentials, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := testenv.NewFake(t, ios, base, values).Factory
	if creds != nil {
		f.Credentials = func() (higgsfield.Credentials, string, error) { return *creds, "the test", nil }
	}
	return doctorWith(t, f, out, errOut, args...)
}

func doctorWith(t *testing.T, f *cmdutil.Factory, out, errOut *bytes.Buffer, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := NewCmdDoctor(f, func(o *Options) error {
		o.DeliveryTimeout = 3 * time.Second
		return doctorRun(context.Background(), o)
	})
	cmd.SetArgs(args)
	cmd.SetOut(errOut)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.ExecuteContext(context.Background())
	if strings.Contains(out.String()+errOut.String(), "ksecret") {
		t.Fatalf("output shows the API secret:\n%s%s", out, errOut)
	}
	return out.String(), errOut.String(), err
}

// line is one printed step: mark, name and the rest.
type line struct{ mark, name, rest string }

func lines(t *testing.T, s string) []line {
	t.Helper()
	var out []line
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.SplitN(l, " ", 2)
		if len(f) != 2 {
			t.Fatalf("line %q", l)
		}
		name, rest, _ := strings.Cut(strings.TrimLeft(f[1], " "), " ")
		out = append(out, line{f[0], name, strings.TrimLeft(rest, " ")})
	}
	return out
}

func TestNewCmdDoctorFlags(t *testing.T) {
	isolate(t)
	ios, _, _, _ := iostreams.Test()
	var got *Options
	cmd := NewCmdDoctor(testenv.Factory(ios, "test"), func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--json", "--via", "webhook", "--webhook-url", "https://hook.example", "--listen", ":8080"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := cmdutil.EndpointOptions{Via: "webhook", WebhookURL: "https://hook.example", Listen: ":8080"}
	if got == nil || !got.JSON || got.Endpoint != want || got.DeliveryTimeout != 15*time.Second || got.IO == nil || got.Client == nil || got.Config == nil || got.Credentials == nil {
		t.Fatalf("options %+v", got)
	}

	cmd = NewCmdDoctor(testenv.Factory(ios, "test"), func(o *Options) error { t.Fatal("runF called"); return nil })
	cmd.SetArgs([]string{"extra"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	var fe *cmdutil.FlagError
	if err := cmd.Execute(); !errors.As(err, &fe) || !strings.Contains(err.Error(), "doctor takes no arguments") {
		t.Fatalf("err = %v, want a FlagError", err)
	}
}

func TestCredentialsStep(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, base, key string
		ok              bool
		code            int // the SilentError's exit code when not ok
		detail          []string
	}{
		{name: "valid", base: srv.URL, key: "kid:ksecret", ok: true,
			detail: []string{"valid (from HF_KEY; " + srv.URL + " answered 404 for a probe)"}},
		{name: "rejected", base: srv.URL, key: "kid:wrong", code: 6,
			detail: []string{"rejected: " + srv.URL + " answered 401 for the key from HF_KEY"}},
		// A server that is not the API (the fake's asset host) answers
		// 404 for anything: that says nothing about the key.
		{name: "a 404 not shaped like the API's", base: srv.AssetURL, key: "nonsense:nonsense", code: 1,
			detail: []string{"unverified: " + srv.AssetURL + " answered 404 for a probe, but not with the API's JSON error"}},
		{name: "unreachable", base: "http://" + freeAddr(t), key: "kid:ksecret", code: 1,
			detail: []string{"cannot reach the API: ", "connection refused"}},
		{name: "no credentials", base: srv.URL, code: 1,
			detail: []string{"no API credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("HF_BASE_URL", tt.base)
			t.Setenv("HF_KEY", tt.key)
			out, _, err := doctor(t)
			got := lines(t, out)
			if len(got) != 2 || got[0].name != "credentials" || got[1].name != "endpoint" {
				t.Fatalf("stdout:\n%s\nwant the credentials and endpoint steps", out)
			}
			c := got[0]
			for _, d := range tt.detail {
				if !strings.Contains(c.rest, d) {
					t.Fatalf("credentials step %q does not say %q", c.rest, d)
				}
			}
			if e := got[1]; e.mark != "-" || !strings.HasPrefix(e.rest, "none configured: hf polls") {
				t.Fatalf("endpoint step %+v, want skipped", e)
			}
			if tt.ok {
				if err != nil || c.mark != "✓" {
					t.Fatalf("err %v mark %q, want success", err, c.mark)
				}
				if !strings.HasSuffix(c.rest, ")") || !strings.Contains(c.rest, ") (") {
					t.Fatalf("no latency in %q", c.rest)
				}
				return
			}
			var se *cmdutil.SilentError
			if !errors.As(err, &se) || se.Code != tt.code {
				t.Fatalf("err = %T %v, want SilentError code %d", err, err, tt.code)
			}
			if c.mark != "✗" {
				t.Fatalf("mark %q, want ✗", c.mark)
			}
		})
	}
	// Only the probe was asked: status of the all-zero id, nothing paid.
	for _, h := range srv.Hits() {
		if h.Endpoint != hftest.StatusEP || h.Path != "/requests/"+probeID+"/status" || h.Method != "GET" {
			t.Fatalf("doctor sent %+v", h)
		}
	}
	if srv.Charged() != 0 {
		t.Fatal("doctor created a job")
	}
}

func TestDeliveryStep(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	tests := []struct {
		name     string
		secret   bool
		verified bool
	}{
		{name: "unsigned"},
		{name: "signed", secret: true, verified: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			values := map[string]any{}
			if tt.secret {
				values["webhook.secret"] = newSecret(t)
			}
			addr := freeAddr(t)
			out, _, err := fakeDoctor(t, srv.URL, values, nil, "--webhook-url", "http://"+addr, "--listen", addr)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := lines(t, out)
			if len(got) != 3 {
				t.Fatalf("stdout:\n%s\nwant 3 steps", out)
			}
			for i, name := range []string{"credentials", "endpoint", "delivery"} {
				if got[i].name != name || got[i].mark != "✓" {
					t.Fatalf("step %d: %+v, want %s succeeded\n%s", i, got[i], name, out)
				}
			}
			if !strings.HasPrefix(got[1].rest, "static at http://"+addr+" (") {
				t.Fatalf("endpoint step %q", got[1].rest)
			}
			d := got[2].rest
			if !strings.HasPrefix(d, "test webhook received through the endpoint") {
				t.Fatalf("delivery step %q", d)
			}
			if strings.Contains(d, "(signature verified)") != tt.verified {
				t.Fatalf("delivery step %q: verified should be %v", d, tt.verified)
			}
			// The endpoint is closed afterwards.
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("the webhook listener was left open: %v", err)
			}
			ln.Close()
		})
	}
}

func TestEndpointStepFails(t *testing.T) {
	srv := hftest.New()
	t.Cleanup(srv.Close)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name   string
		args   []string
		detail string
	}{
		{name: "listen address in use", args: []string{"--webhook-url", "http://" + busy.Addr().String(), "--listen", busy.Addr().String()},
			detail: "static: listening for webhooks: "},
		{name: "webhook without endpoint", args: []string{"--via", "webhook"}, detail: "--via webhook needs a public endpoint"},
		{name: "webhook-url without listen", args: []string{"--webhook-url", "https://hook.example"}, detail: "--webhook-url needs --listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			out, _, err := fakeDoctor(t, srv.URL, nil, nil, tt.args...)
			var se *cmdutil.SilentError
			if !errors.As(err, &se) || se.Code != 1 {
				t.Fatalf("err = %v, want SilentError code 1", err)
			}
			got := lines(t, out)
			if len(got) != 2 || got[0].mark != "✓" || got[1].name != "endpoint" || got[1].mark != "✗" {
				t.Fatalf("stdout:\n%s\nwant credentials ok, endpoint failed, no delivery", out)
			}
			if !strings.HasPrefix(got[1].rest, tt.detail) {
				t.Fatalf("endpoint step %q, want it to start with %q", got[1].rest, tt.detail)
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	type step struct {
		Name    string `json:"name"`
		OK      bool   `json:"ok"`
		Skipped bool   `json:"skipped"`
		Detail  string `json:"detail"`
		Latency *int64 `json:"latency_ns"`
	}
	decode := func(t *testing.T, out string) []step {
		t.Helper()
		var steps []step
		if err := json.Unmarshal([]byte(out), &steps); err != nil {
			t.Fatalf("stdout is not one JSON array: %v\n%s", err, out)
		}
		for _, s := range steps {
			if s.Name == "" || s.Detail == "" || s.Latency == nil {
				t.Fatalf("step %+v lacks name, detail or latency_ns", s)
			}
		}
		return steps
	}

	t.Run("no endpoint", func(t *testing.T) {
		isolate(t)
		out, _, err := fakeDoctor(t, srv.URL, nil, nil, "--json")
		if err != nil {
			t.Fatal(err)
		}
		steps := decode(t, out)
		if len(steps) != 2 || steps[0].Name != "credentials" || !steps[0].OK || *steps[0].Latency <= 0 ||
			steps[1].Name != "endpoint" || steps[1].OK || !steps[1].Skipped {
			t.Fatalf("steps %+v", steps)
		}
	})
	t.Run("delivery", func(t *testing.T) {
		isolate(t)
		addr := freeAddr(t)
		out, _, err := fakeDoctor(t, srv.URL, nil, nil, "--json", "--webhook-url", "http://"+addr, "--listen", addr)
		if err != nil {
			t.Fatal(err)
		}
		steps := decode(t, out)
		var names []string
		for _, s := range steps {
			names = append(names, s.Name)
			if !s.OK || s.Skipped {
				t.Fatalf("step %+v did not succeed", s)
			}
		}
		if strings.Join(names, ",") != "credentials,endpoint,delivery" {
			t.Fatalf("steps %v", names)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		isolate(t)
		out, _, err := fakeDoctor(t, srv.URL, nil, &higgsfield.Credentials{ID: "kid", Secret: "wrong"}, "--json")
		var se *cmdutil.SilentError
		if !errors.As(err, &se) || se.Code != 6 {
			t.Fatalf("err = %v, want SilentError code 6", err)
		}
		steps := decode(t, out)
		if len(steps) != 2 || steps[0].OK || !strings.HasPrefix(steps[0].Detail, "rejected: ") {
			t.Fatalf("steps %+v", steps)
		}
	})
}

func TestWithName(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"ngrok", errors.New("ngrok: not connected within 15s"), "ngrok: not connected within 15s"},
		{"ngrok", errors.New("ngrok error ERR_NGROK_105"), "ngrok error ERR_NGROK_105"},
		{"static", errors.New("listening for webhooks: address in use"), "static: listening for webhooks: address in use"},
		{"static", fmt.Errorf("wrapped: %w", errors.New("x")), "static: wrapped: x"},
		{"ngrok", errors.New("dial tcp: ngrok unreachable"), "ngrok: dial tcp: ngrok unreachable"},
	}
	for _, tt := range tests {
		if got := withName(tt.name, tt.err); got != tt.want {
			t.Errorf("withName(%q, %q) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestStylesFollowStdout: on a colour terminal with stdout redirected
// (hf doctor > f), the steps carry no escapes; with stdout a colour
// terminal they are styled.
func TestStylesFollowStdout(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	for _, stdoutColor := range []bool{false, true} {
		ios, _, out, errOut := iostreams.Test()
		ios.SetStderrTTY(true)
		ios.SetColorEnabled(true)
		ios.SetStdoutColorEnabled(stdoutColor)
		_, _, _ = doctorWith(t, testenv.NewFake(t, ios, srv.URL, nil).Factory, out, errOut)
		if got := strings.Contains(out.String(), "\x1b["); got != stdoutColor {
			t.Errorf("stdout colour %v: escapes in stdout %v:\n%q", stdoutColor, got, out)
		}
	}
}
