package redact

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const hookPath = "/hf/0123456789abcdef0123456789abcdef"

func TestURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "https://api.higgsfield.ai/requests/x/status", "https://api.higgsfield.ai/requests/x/status"},
		{"userinfo", "https://kid:ksecret@api.example.com/v1", "https://api.example.com/v1"},
		{"user only", "http://kid@127.0.0.1:9/", "http://127.0.0.1:9/"},
		{"webhook query", "https://api.example.com/m?hf_webhook=https%3A%2F%2Fh.example%2Fhf%2F0123456789abcdef0123456789abcdef", "https://api.example.com/m?hf_webhook=REDACTED"},
		{"signed asset", "https://cdn.example.com/a.png?X-Amz-Signature=abc&X-Amz-Credential=def#frag", "https://cdn.example.com/a.png?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"},
		{"secret path", "https://h.example" + hookPath, "https://h.example/hf/REDACTED"},
		{"unparsable keeps no userinfo", "http://kid:ks ecret@host:bad/%zz?q=1", "http://host:bad/%zz"},
		{"control characters", "https://h.example/a\x1b[31m", "https://h.example/a [31m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URL(tt.in); got != tt.want {
				t.Fatalf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretsText(t *testing.T) {
	s := NewSecrets("kid", "ksecret-long", "whsec_c2VjcmV0", "", "ab")
	tests := []struct {
		name, in string
		gone     []string
		kept     []string
	}{
		{"authorization quoted", `bad header "Key kid2:other-secret" sent`, []string{"kid2:other-secret"}, []string{"bad header"}},
		{"known secret", "secret was ksecret-long here", []string{"ksecret-long"}, []string{"was", "here"}},
		{"url-escaped secret", "hook=whsec_c2VjcmV0%3D", []string{"c2VjcmV0"}, []string{"hook="}},
		{"any whsec", "got whsec_QUJDRA== instead", []string{"QUJDRA"}, []string{"instead"}},
		{"secret path", "POST https://x.example" + hookPath + " failed", []string{hookPath}, []string{"failed", "x.example"}},
		{"userinfo", "base http://u:p4ss@h.example/ bad", []string{"p4ss"}, []string{"h.example"}},
		{"short values ignored", "ab kid", []string{}, []string{"ab kid"}},
		{"ordinary Key text", "Key rotation failed", []string{}, []string{"Key rotation failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Text(tt.in)
			for _, g := range tt.gone {
				if strings.Contains(got, g) {
					t.Errorf("Text(%q) = %q still shows %q", tt.in, got, g)
				}
			}
			for _, k := range tt.kept {
				if !strings.Contains(got, k) {
					t.Errorf("Text(%q) = %q lost %q", tt.in, got, k)
				}
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\x07c\x1b[2Jd": "a b c [2Jd",
		"rtl\u202eevil":       "rtl evil",
		"  spaced   out ":     "spaced out",
		"\xff\xfe":            "\uFFFD",
	} {
		if got := OneLine(in, 100); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
	if got := OneLine(strings.Repeat("é", 10), 5); got != "éé…" {
		t.Errorf("cut = %q", got)
	}
}

func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Correlation-Id", "c-1")
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	var buf bytes.Buffer
	c := &http.Client{Transport: &Transport{W: &buf}}
	req, _ := http.NewRequest("GET", srv.URL+hookPath+"?sig=s3cr3t", nil)
	req.Header.Set("Authorization", "Key kid:ksecret")
	req.Header.Set("Range", "bytes=5-")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req2, _ := http.NewRequest("GET", "http://127.0.0.1:1/x", nil)
	if _, err := c.Do(req2); err == nil {
		t.Fatal("want a refused connection")
	}
	log := buf.String()
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines:\n%s", log)
	}
	for _, want := range []string{"GET " + srv.URL + "/hf/REDACTED?sig=REDACTED (Authorization: Key <redacted>, Range: bytes=5-) → 418 in", "correlation-id=c-1"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %q", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "(no credentials) → error after") {
		t.Errorf("line %q", lines[1])
	}
	for _, bad := range []string{"ksecret", "s3cr3t", hookPath} {
		if strings.Contains(log, bad) {
			t.Errorf("log shows %q:\n%s", bad, log)
		}
	}
}
