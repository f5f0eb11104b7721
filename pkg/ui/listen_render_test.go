package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/listen"
)

func TestListenRenderer(t *testing.T) {
	const hook = "http://localhost:3000/webhooks"
	signed := &listen.Delivery{WebhookID: "msg_1", RequestID: "9417a243-e457-4075-895b-b68f3cda5303", Status: "completed",
		Outputs: map[string]int{"image": 1}, Signed: true, Verified: true}
	ok := listen.Forward{URL: hook, Code: 200, Latency: 12 * time.Millisecond}
	answered := *signed
	answered.Forwards, answered.Answer = []listen.Forward{ok}, 200

	tests := []struct {
		name string
		ev   []listen.Event
		want []string // stderr lines
	}{
		{"signed and forwarded", []listen.Event{
			{Kind: listen.Received, Delivery: signed},
			{Kind: listen.Forwarded, Delivery: signed, Forward: &ok},
			{Kind: listen.Answered, Delivery: &answered},
		}, []string{
			"--> completed 9417a243-… (1 image)  [signed]",
			"<-- [200] POST http://localhost:3000/webhooks (12 ms)",
		}},
		{"unverified, app down", []listen.Event{
			{Kind: listen.Received, Delivery: &listen.Delivery{RequestID: "r1", Status: "failed"}},
			{Kind: listen.Forwarded, Forward: &listen.Forward{URL: hook, Error: "connection refused (is the app running?)", Latency: 400 * time.Microsecond}},
			{Kind: listen.Answered, Delivery: &listen.Delivery{RequestID: "r1", Status: "failed", Forwards: []listen.Forward{{URL: hook}}, Answer: 502}},
		}, []string{
			"--> failed r1  [unverified]",
			"<-- [ERR] POST http://localhost:3000/webhooks: connection refused (is the app running?) (0.4 ms)",
			"    answered 502: Higgsfield will retry this delivery",
		}},
		{"a body that tries to drive the terminal", []listen.Event{
			{Kind: listen.Received, Delivery: &listen.Delivery{RequestID: "\x1b]0;pwned\x07r1\nfake line", Status: "completed\x1b[2J"}},
		}, []string{"--> completed [2J ]0;pwned …  [unverified]"}},
		{"a target with credentials", []listen.Event{
			{Kind: listen.Forwarded, Forward: &listen.Forward{URL: "https://u:pw@h.example/hf/0123456789abcdef0123456789abcdef?key=k3y", Code: 200, Latency: time.Millisecond}},
		}, []string{"<-- [200] POST https://h.example/hf/REDACTED?key=REDACTED (1 ms)"}},
		{"app 500", []listen.Event{
			{Kind: listen.Forwarded, Forward: &listen.Forward{URL: hook, Code: 500, Latency: 1500 * time.Millisecond}},
		}, []string{"<-- [500] POST http://localhost:3000/webhooks (1500 ms)"}},
		{"app redirects", []listen.Event{
			{Kind: listen.Forwarded, Forward: &listen.Forward{URL: hook, Code: 308, Location: "http://localhost:3000/webhooks/\x1b[2J", Latency: time.Millisecond}},
		}, []string{"<-- [308] POST http://localhost:3000/webhooks (1 ms) redirects to http://localhost:3000/webhooks/ [2J, not followed: forward there instead"}},
		{"rejected", []listen.Event{
			{Kind: listen.Received, Delivery: &listen.Delivery{RequestID: "r1", Status: "nsfw", Signed: true, Rejected: "no matching signature"}},
			{Kind: listen.Answered, Delivery: &listen.Delivery{Rejected: "no matching signature", Answer: 401}},
		}, []string{"--> nsfw r1  [rejected: no matching signature]", "<-- [401] not forwarded"}},
		{"abandoned at Ctrl-C", []listen.Event{
			{Kind: listen.Answered, Delivery: &listen.Delivery{Forwards: []listen.Forward{{URL: hook, Error: "abandoned"}}, Answer: 0}},
		}, []string{"    no answer sent (the connection closed): Higgsfield will retry this delivery"}},
		{"inspector", []listen.Event{
			{Kind: listen.Answered, Delivery: &listen.Delivery{Verified: true, Answer: 200, Forwards: []listen.Forward{}}},
		}, []string{"<-- [200] acknowledged (no --forward-to)"}},
		{"tunnel", []listen.Event{
			{Kind: listen.TunnelDown, Attempt: 1, Err: errors.New("read tcp: connection reset\nmore")},
			{Kind: listen.TunnelDown, Attempt: 2, Down: 1500 * time.Millisecond, Err: errors.New("dial: refused")},
			{Kind: listen.TunnelDown, Attempt: 3, Down: 20 * time.Millisecond},
			{Kind: listen.TunnelUp, Down: 3 * time.Second},
			{Kind: listen.TunnelUp, Down: 250 * time.Millisecond, Changed: true, URL: "https://b.example/hf/x"},
			{Kind: listen.Warning, Message: "x"},
		}, []string{
			"hf: the tunnel session dropped: read tcp: connection reset; reconnecting (deliveries wait for it: Higgsfield retries)",
			"hf: still reconnecting (attempt 2, down 2s): dial: refused",
			"hf: still reconnecting (attempt 3)",
			"hf: the tunnel is back after 3s, same URL",
			"hf: the tunnel is back after 250ms at a NEW URL; use it as hf_webhook: https://b.example/hf/x",
			"hf: warning: x",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			r := NewListenRenderer(&out, &errOut, iostreams.NewStyles(false), false)
			for _, e := range tt.ev {
				r.Handle(e)
			}
			if got := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("stderr:\n%s\nwant:\n%s", errOut.String(), strings.Join(tt.want, "\n"))
			}
			if out.Len() != 0 {
				t.Errorf("stdout: %q", out.String())
			}
		})
	}
}

func TestListenRendererJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	r := NewListenRenderer(&out, &errOut, iostreams.NewStyles(false), true)
	d := &listen.Delivery{Time: time.Unix(1, 0).UTC(), WebhookID: "msg_1", RequestID: "r1", Status: "completed", Verified: true,
		Forwards: []listen.Forward{{URL: "http://a/", Code: 200, Latency: 1500 * time.Microsecond}}, Answer: 200}
	for _, e := range []listen.Event{{Kind: listen.Received, Delivery: d}, {Kind: listen.Answered, Delivery: d}, {Kind: listen.Answered, Delivery: d}, {Kind: listen.Warning, Message: "w"}} {
		r.Handle(e)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout %q", out.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	fw := got["forwards"].([]any)[0].(map[string]any)
	if got["webhook_id"] != "msg_1" || got["verified"] != true || got["answer"] != 200.0 || fw["code"] != 200.0 || fw["latency_ms"] != 1.5 {
		t.Errorf("NDJSON %s", lines[0])
	}
	if errOut.String() != "hf: warning: w\n" {
		t.Errorf("stderr %q", errOut.String())
	}
}
