package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

// credentialEnv lists every variable the credential lookup reads.
var credentialEnv = []string{"HF_KEY", "HF_CREDENTIALS", "HF_API_KEY", "HF_API_SECRET", "HF_API_KEY_ID", "HF_API_KEY_SECRET"}

// isolate clears hf's environment and points the config dir at a fresh
// temporary directory, which it returns (config.yaml goes in <dir>/hf).
func isolate(t *testing.T) string {
	t.Helper()
	for _, k := range credentialEnv {
		t.Setenv(k, "")
	}
	for _, envs := range EnvBindings {
		for _, k := range envs {
			t.Setenv(k, "")
		}
	}
	t.Setenv("HF_CONFIG", "")
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	return dir
}

// writeConfig writes <xdg>/hf/config.yaml with mode perm and returns its path.
func writeConfig(t *testing.T, xdg, body string, perm os.FileMode) string {
	t.Helper()
	dir := filepath.Join(xdg, "hf")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(body), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T) *Config {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCredentials(t *testing.T) {
	const (
		filePair     = "credentials:\n  api_key: file-id\n  api_secret: file-secret\n"
		fileHalf     = "credentials:\n  api_key: file-id\n"
		fileCombined = "credentials:\n  credentials: comb-id:comb-secret\n"
	)
	tests := []struct {
		name             string
		flagKey, flagSec string
		env              map[string]string
		file             string
		id, secret, src  string // src "FILE" means the config file's path
		errHas           []string
		missing          bool
	}{
		{name: "flags beat everything", flagKey: "flag-id", flagSec: "flag-secret",
			env: map[string]string{"HF_KEY": "env-id:env-secret", "HF_API_KEY": "a", "HF_API_SECRET": "b"}, file: filePair,
			id: "flag-id", secret: "flag-secret", src: "--api-key/--api-secret"},
		{name: "--api-key id:secret", flagKey: "flag-id:flag-secret", env: map[string]string{"HF_KEY": "env-id:env-secret"},
			id: "flag-id", secret: "flag-secret", src: "--api-key"},
		{name: "--api-key without secret", flagKey: "flag-id", env: map[string]string{"HF_KEY": "env-id:env-secret"},
			errHas: []string{"--api-key/--api-secret", "secret is empty"}},
		{name: "--api-secret without key", flagSec: "flag-secret", env: map[string]string{"HF_KEY": "env-id:env-secret"},
			errHas: []string{"--api-key/--api-secret", "key id is empty"}},
		{name: "HF_KEY", env: map[string]string{"HF_KEY": "k-id:k-secret", "HF_CREDENTIALS": "c-id:c-secret", "HF_API_KEY": "a", "HF_API_SECRET": "b"}, file: filePair,
			id: "k-id", secret: "k-secret", src: "HF_KEY"},
		{name: "HF_CREDENTIALS", env: map[string]string{"HF_CREDENTIALS": "c-id:c-secret", "HF_API_KEY": "a", "HF_API_SECRET": "b"},
			id: "c-id", secret: "c-secret", src: "HF_CREDENTIALS"},
		{name: "malformed HF_KEY names it", env: map[string]string{"HF_KEY": "no-colon-here", "HF_API_KEY": "a", "HF_API_SECRET": "b"},
			errHas: []string{"HF_KEY"}},
		{name: "HF_API_KEY pair", env: map[string]string{"HF_API_KEY": "p-id", "HF_API_SECRET": "p-secret", "HF_API_KEY_ID": "q-id", "HF_API_KEY_SECRET": "q-secret"}, file: filePair,
			id: "p-id", secret: "p-secret", src: "HF_API_KEY/HF_API_SECRET"},
		{name: "HF_API_KEY alone", env: map[string]string{"HF_API_KEY": "p-id", "HF_API_KEY_ID": "q-id", "HF_API_KEY_SECRET": "q-secret"},
			errHas: []string{"HF_API_KEY/HF_API_SECRET", "secret is empty"}},
		{name: "HF_API_SECRET alone", env: map[string]string{"HF_API_SECRET": "p-secret"},
			errHas: []string{"HF_API_KEY/HF_API_SECRET", "key id is empty"}},
		{name: "HF_API_KEY_ID pair", env: map[string]string{"HF_API_KEY_ID": "q-id", "HF_API_KEY_SECRET": "q-secret"}, file: filePair,
			id: "q-id", secret: "q-secret", src: "HF_API_KEY_ID/HF_API_KEY_SECRET"},
		{name: "HF_API_KEY_SECRET alone", env: map[string]string{"HF_API_KEY_SECRET": "q-secret"}, file: filePair,
			errHas: []string{"HF_API_KEY_ID/HF_API_KEY_SECRET", "key id is empty"}},
		{name: "config file pair", file: filePair, id: "file-id", secret: "file-secret", src: "FILE"},
		{name: "config file combined", file: fileCombined, id: "comb-id", secret: "comb-secret", src: "FILE"},
		{name: "config file half pair names the file", file: fileHalf, errHas: []string{"FILE", "secret is empty"}},
		{name: "config file without credentials", file: "base_url: https://example.com\n", missing: true},
		{name: "nothing at all", missing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg := isolate(t)
			var path string
			if tt.file != "" {
				path = writeConfig(t, xdg, tt.file, 0o600)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := load(t)
			cr, src, err := c.Credentials(tt.flagKey, tt.flagSec)
			switch {
			case tt.missing:
				var me *MissingCredentialsError
				if !errors.As(err, &me) {
					t.Fatalf("err = %T %v, want *MissingCredentialsError", err, err)
				}
				if me.ConfigPath != path {
					t.Fatalf("ConfigPath = %q, want %q", me.ConfigPath, path)
				}
			case tt.errHas != nil:
				if err == nil {
					t.Fatalf("got %+v from %s, want an error", cr, src)
				}
				for _, want := range tt.errHas {
					if want == "FILE" {
						want = path
					}
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q does not mention %q", err, want)
					}
				}
				var me *MissingCredentialsError
				if errors.As(err, &me) {
					t.Fatal("a half-given credential is not a missing one")
				}
				var ce *CredentialsError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %T, want a *CredentialsError (a usage error)", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				want := tt.src
				if want == "FILE" {
					want = path
				}
				if cr != (higgsfield.Credentials{ID: tt.id, Secret: tt.secret}) || src != want {
					t.Fatalf("got %+v from %q, want %s:%s from %q", cr, src, tt.id, tt.secret, want)
				}
			}
			if err != nil {
				for _, v := range []string{"flag-secret", "k-secret", "p-secret", "q-secret", "file-secret"} {
					if strings.Contains(err.Error(), v) {
						t.Fatalf("error shows a secret: %v", err)
					}
				}
			}
		})
	}
}

func TestEnvBindings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		file string
		key  string
		want string
	}{
		{name: "base_url default", key: "base_url", want: higgsfield.DefaultBaseURL},
		{name: "HF_BASE_URL", env: map[string]string{"HF_BASE_URL": "http://127.0.0.1:9"}, key: "base_url", want: "http://127.0.0.1:9"},
		{name: "file base_url", file: "base_url: https://file.example.com\n", key: "base_url", want: "https://file.example.com"},
		{name: "env beats file", env: map[string]string{"HF_BASE_URL": "https://env.example.com"}, file: "base_url: https://file.example.com\n", key: "base_url", want: "https://env.example.com"},
		{name: "NGROK_AUTHTOKEN", env: map[string]string{"NGROK_AUTHTOKEN": "tok-1"}, key: "ngrok.authtoken", want: "tok-1"},
		{name: "HF_NGROK_AUTHTOKEN beats NGROK_AUTHTOKEN", env: map[string]string{"NGROK_AUTHTOKEN": "tok-1", "HF_NGROK_AUTHTOKEN": "tok-2"}, key: "ngrok.authtoken", want: "tok-2"},
		{name: "file ngrok.authtoken", file: "ngrok:\n  authtoken: tok-file\n", key: "ngrok.authtoken", want: "tok-file"},
		{name: "HF_NGROK_URL", env: map[string]string{"HF_NGROK_URL": "https://me.ngrok.app"}, key: "ngrok.url", want: "https://me.ngrok.app"},
		{name: "HF_NGROK_CONNECT_URL", env: map[string]string{"HF_NGROK_CONNECT_URL": "connect.example.com:443"}, key: "ngrok.connect_url", want: "connect.example.com:443"},
		{name: "HF_NGROK_ROOT_CAS", env: map[string]string{"HF_NGROK_ROOT_CAS": "/etc/ca.pem"}, key: "ngrok.root_cas", want: "/etc/ca.pem"},
		{name: "HF_WEBHOOK_SECRET", env: map[string]string{"HF_WEBHOOK_SECRET": "whsec_YWJj"}, key: "webhook.secret", want: "whsec_YWJj"},
		{name: "webhook.via default", key: "webhook.via", want: "auto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg := isolate(t)
			if tt.file != "" {
				writeConfig(t, xdg, tt.file, 0o600)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if got := load(t).String(tt.key); got != tt.want {
				t.Fatalf("%s = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestDebugSetting(t *testing.T) {
	isolate(t)
	if load(t).Bool("debug") {
		t.Fatal("debug on by default")
	}
	t.Setenv("HF_DEBUG", "1")
	if !load(t).Bool("debug") {
		t.Fatal("HF_DEBUG=1 does not turn debug on")
	}
}

func TestDurationSetting(t *testing.T) {
	tests := []struct {
		name, env, file string
		want            time.Duration
		wantErr         bool
	}{
		{name: "default", want: 30 * time.Minute},
		{name: "HF_TIMEOUT seconds", env: "90", want: 90 * time.Second},
		{name: "HF_TIMEOUT go duration", env: "2h", want: 2 * time.Hour},
		{name: "file", file: "generate:\n  timeout: 45s\n", want: 45 * time.Second},
		{name: "env beats file", env: "10m", file: "generate:\n  timeout: 45s\n", want: 10 * time.Minute},
		{name: "bad", env: "soon", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg := isolate(t)
			if tt.file != "" {
				writeConfig(t, xdg, tt.file, 0o600)
			}
			if tt.env != "" {
				t.Setenv("HF_TIMEOUT", tt.env)
			}
			c, err := Load()
			if tt.wantErr {
				var ve *ValueError
				if !errors.As(err, &ve) || ve.Source != "HF_TIMEOUT" {
					t.Fatalf("got %v, want a *ValueError naming HF_TIMEOUT", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Duration("generate.timeout")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %s, want an error", d)
				}
				return
			}
			if err != nil || d != tt.want {
				t.Fatalf("got %s %v, want %s", d, err, tt.want)
			}
		})
	}
	t.Run("unset key is zero", func(t *testing.T) {
		isolate(t)
		if d, err := load(t).Duration("generate.no_such_setting"); d != 0 || err != nil {
			t.Fatalf("got %s %v", d, err)
		}
	})
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "90s", want: 90 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "1h", want: time.Hour},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "90", want: 90 * time.Second},
		{in: "1.5", want: 1500 * time.Millisecond},
		{in: "0", want: 0},
		{in: "", wantErr: true},
		{in: "soon", wantErr: true},
		{in: "90 s", wantErr: true},
		{in: "90x", wantErr: true},
		{in: "5 minutes", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseDuration(%q) = %s, want an error", tt.in, d)
				}
				if !strings.Contains(err.Error(), "invalid duration") {
					t.Fatalf("error %q", err)
				}
				return
			}
			if err != nil || d != tt.want {
				t.Fatalf("ParseDuration(%q) = %s %v, want %s", tt.in, d, err, tt.want)
			}
		})
	}
}

func TestParseDurationDecimalSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"90.0": 90 * time.Second, "0.50": 500 * time.Millisecond} {
		if d, err := ParseDuration(in); err != nil || d != want {
			t.Errorf("ParseDuration(%q) = %s %v, want %s", in, d, err, want)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		isolate(t)
		c := load(t)
		if c.File != "" || len(c.Warnings) != 0 {
			t.Fatalf("File %q, warnings %v", c.File, c.Warnings)
		}
	})
	t.Run("private file", func(t *testing.T) {
		xdg := isolate(t)
		path := writeConfig(t, xdg, "base_url: https://x.example.com\n", 0o600)
		c := load(t)
		if c.File != path || len(c.Warnings) != 0 {
			t.Fatalf("File %q, warnings %v", c.File, c.Warnings)
		}
	})
	t.Run("readable by others warns", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no Unix modes")
		}
		for _, perm := range []os.FileMode{0o644, 0o640, 0o604} {
			xdg := isolate(t)
			path := writeConfig(t, xdg, "credentials:\n  api_key: a\n  api_secret: b\n", perm)
			c := load(t)
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], path) || !strings.Contains(c.Warnings[0], "chmod 600") {
				t.Fatalf("mode %04o: warnings %v", perm, c.Warnings)
			}
		}
	})
	t.Run("HF_CONFIG", func(t *testing.T) {
		isolate(t)
		path := filepath.Join(t.TempDir(), "custom.yaml")
		if err := os.WriteFile(path, []byte("base_url: https://custom.example.com\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("HF_CONFIG", path)
		c := load(t)
		if c.File != path || c.String("base_url") != "https://custom.example.com" {
			t.Fatalf("File %q base_url %q", c.File, c.String("base_url"))
		}
	})
	t.Run("HF_CONFIG missing", func(t *testing.T) {
		isolate(t)
		// Not an error (hf config set and hf auth login must be able to
		// create it), but a warning naming it, in case of a typo.
		path := filepath.Join(t.TempDir(), "new", "nope.yaml")
		t.Setenv("HF_CONFIG", path)
		c := load(t)
		if c.File != "" || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], path) {
			t.Fatalf("File %q warnings %q", c.File, c.Warnings)
		}
		if err := c.Set("webhook.via", "poll"); err != nil {
			t.Fatal(err)
		}
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%v %v", info, err)
		}
		if c := load(t); c.File != path || c.String("webhook.via") != "poll" || len(c.Warnings) != 0 {
			t.Fatalf("File %q via %q warnings %q", c.File, c.String("webhook.via"), c.Warnings)
		}
	})
	t.Run("invalid YAML", func(t *testing.T) {
		xdg := isolate(t)
		path := writeConfig(t, xdg, "base_url: [unterminated\n  : :\n", 0o600)
		_, err := Load()
		if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %q, want one line naming %s", err, path)
		}
	})
}

func TestDir(t *testing.T) {
	xdg := isolate(t)
	d, err := Dir()
	if err != nil || d != filepath.Join(xdg, "hf") {
		t.Fatalf("Dir() = %q %v", d, err)
	}
	if runtime.GOOS != "windows" {
		t.Setenv("XDG_CONFIG_HOME", "")
		home := t.TempDir()
		t.Setenv("HOME", home)
		if d, err := Dir(); err != nil || d != filepath.Join(home, ".config", "hf") {
			t.Fatalf("Dir() = %q %v", d, err)
		}
	}
}

func TestEnvVarsCoversEveryVariable(t *testing.T) {
	got := map[string]bool{}
	for _, k := range EnvVars() {
		got[k] = true
	}
	want := append([]string{"HF_CONFIG", "HF_BASE_URL", "HF_DEBUG", "HF_TIMEOUT", "NGROK_AUTHTOKEN", "HF_NGROK_AUTHTOKEN",
		"HF_NGROK_URL", "HF_NGROK_CONNECT_URL", "HF_NGROK_ROOT_CAS", "HF_NGROK_CONNECT_TIMEOUT", "HF_WEBHOOK_SECRET",
		"HF_VIA", "HF_LISTEN", "HF_WEBHOOK_URL", "HF_MAX_DOWNLOAD", "HF_STALL_TIMEOUT", "HF_CREDENTIALS_STORE"}, credentialEnv...)
	for _, k := range want {
		if !got[k] {
			t.Errorf("EnvVars() misses %s", k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("EnvVars() = %v, want exactly %v", EnvVars(), want)
	}
}

func TestNewHasDefaultsAndNoEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("HF_VIA", "webhook")
	c := New(map[string]any{"webhook.secret": "s"})
	if c.String("webhook.via") != "auto" || c.String("webhook.secret") != "s" {
		t.Fatalf("via %q secret %q, want the default auto and the value given", c.String("webhook.via"), c.String("webhook.secret"))
	}
	if d, err := c.Duration("ngrok.connect_timeout"); err != nil || d != 15*time.Second {
		t.Fatalf("connect_timeout %s %v", d, err)
	}
}
