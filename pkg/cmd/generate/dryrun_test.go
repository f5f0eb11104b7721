package generate

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestCurlRunsAsPasted runs the dry run's curl snippet in sh with curl and
// uuidgen replaced by functions that print what they were given: the
// arguments must be the request hf describes, with the credentials taken
// from the variables hf read them from and no placeholder left.
func TestCurlRunsAsPasted(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	const base = "https://api.example.test/higgsfield-ai/soul/standard"
	tests := []struct {
		name     string
		auth     curlAuth
		webhook  bool
		idemKey  string
		env      []string
		wantArgs []string
		wantNot  []string
		comment  string
	}{
		{name: "HF_KEY", auth: curlAuth{id: "k1", source: "HF_KEY"}, env: []string{"HF_KEY=k1:s1"},
			wantArgs: []string{base, "Authorization: Key k1:s1", "Idempotency-Key: UUID-1"}},
		{name: "HF_API_KEY pair", auth: curlAuth{id: "k2", source: "HF_API_KEY/HF_API_SECRET"}, env: []string{"HF_API_KEY=k2", "HF_API_SECRET=s2"},
			wantArgs: []string{"Authorization: Key k2:s2"}, wantNot: []string{"HF_KEY"}},
		{name: "HF_API_KEY_ID pair", auth: curlAuth{id: "k3", source: "HF_API_KEY_ID/HF_API_KEY_SECRET"}, env: []string{"HF_API_KEY_ID=k3", "HF_API_KEY_SECRET=s3"},
			wantArgs: []string{"Authorization: Key k3:s3"}},
		{name: "keyring", auth: curlAuth{id: "k4", source: "OS keyring (key id in /x/config.yaml)"}, env: []string{"HF_KEY=k4:s4"},
			wantArgs: []string{"Authorization: Key k4:s4"}, comment: "# HF_KEY: set it to k4:SECRET (hf read key k4 from OS keyring"},
		{name: "missing", auth: curlAuth{missing: "no API credentials"}, env: []string{"HF_KEY=k5:s5"},
			wantArgs: []string{"Authorization: Key k5:s5"}, comment: "# HF_KEY: set it to your KEY_ID:KEY_SECRET"},
		{name: "sandbox", auth: curlAuth{sandbox: true}, wantNot: []string{"Authorization"}, comment: "# https://api.example.test is the sandbox's fake API of this dry run: it is gone now"},
		{name: "webhook", auth: curlAuth{id: "k6", source: "HF_KEY"}, webhook: true, env: []string{"HF_KEY=k6:s6", "HF_WEBHOOK_URL=https%3A%2F%2Fh.example%2Fhf%2Fab"},
			wantArgs: []string{base + "?hf_webhook=https%3A%2F%2Fh.example%2Fhf%2Fab"}, comment: "# HF_WEBHOOK_URL: "},
		{name: "own idempotency key", auth: curlAuth{id: "k7", source: "HF_KEY"}, idemKey: "my-key-1", env: []string{"HF_KEY=k7:s7"},
			wantArgs: []string{"Idempotency-Key: my-key-1"}, wantNot: []string{"UUID-1", "IDEMPOTENCY_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &DryRun{Method: "POST", URL: base, Body: map[string]any{"prompt": "it's a $HOME `x` \"fox\""}, Headers: map[string]string{
				"Accept": "application/json", "Content-Type": "application/json", "User-Agent": "hf/test",
				"Idempotency-Key": "<a new UUID, reused on every retry>",
			}}
			if tt.webhook {
				d.URL += "?hf_webhook=" + webhookPlaceholder
			}
			if tt.idemKey != "" {
				d.Headers["Idempotency-Key"] = tt.idemKey
			}
			if !tt.auth.sandbox {
				d.Headers["Authorization"] = "Key x:<redacted>"
			}
			snippet := curl(d, tt.auth, tt.idemKey == "")
			if strings.Contains(snippet, "<") {
				t.Errorf("placeholder left in:\n%s", snippet)
			}
			if tt.comment != "" && !strings.Contains(snippet, tt.comment) {
				t.Errorf("no %q in:\n%s", tt.comment, snippet)
			}
			script := "curl() { for a; do printf '%s\\n' \"$a\"; done; }\nuuidgen() { echo UUID-1; }\n" + snippet + "\n"
			cmd := exec.Command(sh, "-euc", script)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent"}, tt.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("sh: %v\n%s\n%s", err, out, snippet)
			}
			args := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			for _, w := range append(tt.wantArgs, "-X", "POST", `{"prompt":"it's a $HOME `+"`x`"+` \"fox\""}`, "Content-Type: application/json") {
				if !slices.Contains(args, w) {
					t.Errorf("curl got no argument %q; got %q", w, args)
				}
			}
			for _, n := range tt.wantNot {
				if strings.Contains(string(out), n) {
					t.Errorf("curl got %q; got %q", n, args)
				}
			}
		})
	}
}
