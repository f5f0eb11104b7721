package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/zalando/go-keyring"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

func TestMain(m *testing.M) {
	// Never touch the real keyring of whoever runs the tests.
	keyring.MockInitWithError(errors.New("no keyring in tests"))
	os.Exit(m.Run())
}

func TestSchemaCoversREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	if i := strings.Index(section, "## Environment and config"); i >= 0 {
		section = section[i:]
	}
	for _, k := range Keys {
		if !strings.Contains(section, "`"+k.Name+"`") {
			t.Errorf("README's config table lacks %s", k.Name)
		}
		for _, env := range k.Env {
			if !strings.Contains(section, env) {
				t.Errorf("README's config table lacks %s (%s)", env, k.Name)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		key      string
		good     []string
		bad      []string
		badHints []string
	}{
		{key: "webhook.via", good: []string{"auto", "webhook", "poll"}, bad: []string{"maybe", "sideways", "Poll"}, badHints: []string{"auto, webhook or poll"}},
		{key: "debug", good: []string{"true", "false", "1", "0", "yes", "off", "ON", "n"}, bad: []string{"yes please", "maybe", "2"}, badHints: []string{"true/false, 1/0, yes/no, on/off, t/f or y/n"}},
		{key: "generate.timeout", good: []string{"90", "90s", "1h", "1.5"}, bad: []string{"soon", "-5s", "0", "0s"}},
		{key: "ngrok.connect_timeout", good: []string{"15s", "3"}, bad: []string{"fast"}},
		{key: "base_url", good: []string{"https://api.higgsfield.ai", "http://127.0.0.1:9"}, bad: []string{"api.higgsfield.ai", "ftp://x", "https://"}},
		{key: "webhook.url", good: []string{"https://hooks.example.com/hf"}, bad: []string{"hooks.example.com"}},
		{key: "webhook.listen", good: []string{":8080", "127.0.0.1:0", "[::1]:9000"}, bad: []string{"8080", "host:port", ":99999"}},
		{key: "webhook.secret", good: []string{"whsec_YWJjZGVm"}, bad: []string{"abc", "whsec_!!!", "whsec_"}},
		{key: "ngrok.connect_url", good: []string{"connect.example.com:443", "connect.example.com"}, bad: []string{"https://connect.example.com", "c.example.com:http"}},
		{key: "ngrok.url", good: []string{"me.ngrok.app", "https://me.ngrok.app"}, bad: []string{"me ngrok", "ftp://x"}},
		{key: "credentials.credentials", good: []string{"id:secret"}, bad: []string{"abc", ":x"}},
		{key: "download.max_bytes", good: []string{"8GiB", "500MB", "1048576", "16 gib"}, bad: []string{"lots", "0", "-5", "5PB"}},
		{key: "download.stall_timeout", good: []string{"30s", "2m", "5"}, bad: []string{"500ms", "soon"}},
		{key: "credentials.store", good: []string{"auto", "keyring", "file"}, bad: []string{"vault"}},
	}
	for _, tt := range tests {
		k, ok := LookupKey(tt.key)
		if !ok {
			t.Fatalf("no key %s", tt.key)
		}
		for _, v := range tt.good {
			if err := k.Validate(v); err != nil {
				t.Errorf("%s=%q: %v", tt.key, v, err)
			}
		}
		for _, v := range tt.bad {
			err := k.Validate(v)
			if err == nil {
				t.Errorf("%s=%q accepted", tt.key, v)
				continue
			}
			for _, h := range tt.badHints {
				if !strings.Contains(err.Error(), h) {
					t.Errorf("%s=%q: %q lacks %q", tt.key, v, err, h)
				}
			}
		}
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		source     string // "FILE" for the config file
		key        string
		has        []string
		hidden     string // must not appear
	}{
		{name: "file via", file: "webhook:\n  via: sideways\n", source: "FILE", key: "webhook.via", has: []string{"webhook.via", `"sideways"`, "auto, webhook or poll"}},
		{name: "env via", env: map[string]string{"HF_VIA": "sideways"}, source: "HF_VIA", key: "webhook.via", has: []string{"HF_VIA", "webhook.via", `"sideways"`}},
		{name: "file debug", file: "debug: yes please\n", source: "FILE", key: "debug", has: []string{"debug", "yes please"}},
		{name: "env debug", env: map[string]string{"HF_DEBUG": "maybe"}, source: "HF_DEBUG", key: "debug"},
		{name: "file timeout", file: "generate:\n  timeout: soon\n", source: "FILE", key: "generate.timeout"},
		{name: "env beats a bad file? no: both are checked", env: map[string]string{"HF_VIA": "poll"}, file: "webhook:\n  via: sideways\n", source: "FILE", key: "webhook.via"},
		{name: "list where a value belongs", file: "base_url:\n  - a\n  - b\n", source: "FILE", key: "base_url", has: []string{"single value"}},
		{name: "secret not echoed", file: "webhook:\n  secret: notwhsec-s3cr3t\n", source: "FILE", key: "webhook.secret", hidden: "notwhsec-s3cr3t"},
		{name: "URL userinfo not echoed", env: map[string]string{"HF_BASE_URL": "https://kid:hunter2@x.example.com"}, source: "HF_BASE_URL", key: "base_url", has: []string{"not in the URL"}, hidden: "hunter2"},
		{name: "bad file credentials", file: "credentials:\n  credentials: nocolon-s3cr3t\n", source: "FILE", key: "credentials.credentials", hidden: "nocolon-s3cr3t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg := isolate(t)
			path := ""
			if tt.file != "" {
				path = writeConfig(t, xdg, tt.file, 0o600)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %T %v, want *ValueError", err, err)
			}
			want := tt.source
			if want == "FILE" {
				want = path
			}
			if ve.Source != want || ve.Key != tt.key {
				t.Fatalf("source %q key %q, want %q %q (%v)", ve.Source, ve.Key, want, tt.key, err)
			}
			msg := err.Error()
			for _, h := range append(tt.has, want) {
				if !strings.Contains(msg, h) {
					t.Fatalf("%q lacks %q", msg, h)
				}
			}
			if strings.Contains(msg, "--via") {
				t.Fatalf("%q names a flag for a config value", msg)
			}
			if tt.hidden != "" && strings.Contains(msg, tt.hidden) {
				t.Fatalf("%q shows the secret", msg)
			}
			// hf config can still read (and so repair) the file.
			if _, err := LoadUnchecked(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	xdg := isolate(t)
	path := writeConfig(t, xdg, "tiemout: 5m\ngenerate:\n  timeout: 5m\nwebhook:\n  vai: poll\nwhatever: 1\n", 0o600)
	c := load(t)
	joined := strings.Join(c.Warnings, "\n")
	for _, want := range []string{
		path + `: unknown key "tiemout" is ignored (did you mean generate.timeout?)`,
		`unknown key "webhook.vai" is ignored (did you mean webhook.via?)`,
		`unknown key "whatever" is ignored`,
	} {
		if !strings.Contains(joined, want) {
			t.Fatalf("warnings %q lack %q", c.Warnings, want)
		}
	}
	if len(c.Warnings) != 3 {
		t.Fatalf("warnings %q", c.Warnings)
	}
	if d, _ := c.Duration("generate.timeout"); d != 5*time.Minute {
		t.Fatal(d)
	}
}

func TestDurationOneRule(t *testing.T) {
	// The same text means the same duration in a flag, the environment and
	// the config file.
	for _, in := range []string{"90", "90s", "1.5", "2m"} {
		want, err := ParseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		var d time.Duration
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.Var(NewDurationValue(&d, time.Minute), "timeout", "")
		if err := fs.Parse([]string{"--timeout", in}); err != nil || d != want {
			t.Fatalf("flag %q = %s %v, want %s", in, d, err, want)
		}
		xdg := isolate(t)
		writeConfig(t, xdg, "generate:\n  timeout: "+in+"\n", 0o600)
		if got, err := load(t).Duration("generate.timeout"); got != want || err != nil {
			t.Fatalf("file %q = %s %v", in, got, err)
		}
		t.Setenv("HF_TIMEOUT", in)
		if got, err := load(t).Duration("generate.timeout"); got != want || err != nil {
			t.Fatalf("env %q = %s %v", in, got, err)
		}
	}
	var d time.Duration
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Var(NewDurationValue(&d, time.Minute), "timeout", "")
	if d != time.Minute || fs.Lookup("timeout").DefValue != "1m0s" {
		t.Fatal("default")
	}
	if err := fs.Parse([]string{"--timeout", "soon"}); err == nil || !strings.Contains(err.Error(), "a bare number is seconds") {
		t.Fatalf("err = %v", err)
	}
}

func TestSetGetList(t *testing.T) {
	xdg := isolate(t)
	path := writeConfig(t, xdg, "# my settings\nbase_url: https://x.example.com # the API\nngrok:\n  authtoken: 2abcdefghijklmnop\n", 0o644)
	if err := os.Chmod(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := LoadUnchecked()
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct{ key, val, has string }{
		{"webhook.via", "maybe", "auto, webhook or poll"},
		{"debug", "yes please", "true/false, 1/0, yes/no, on/off"},
		{"generate.timeout", "soon", "invalid duration"},
		{"tiemout", "5m", "did you mean generate.timeout"},
		{"credentials.api_secret", "s3cr3t", "hf auth login"},
		{"credentials.credentials", "a:b", "hf auth login"},
		{"webhook.via", "", "hf config unset"},
	}
	before, _ := os.ReadFile(path)
	for _, b := range bad {
		err := c.Set(b.key, b.val)
		var ve *ValueError
		var ue *UnknownKeyError
		if !errors.As(err, &ve) && !errors.As(err, &ue) {
			t.Fatalf("Set(%s, %q) = %v", b.key, b.val, err)
		}
		if !strings.Contains(err.Error(), b.has) || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("Set(%s, %q): %q", b.key, b.val, err)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a rejected value changed the file")
	}
	for k, v := range map[string]string{"webhook.via": "poll", "generate.timeout": "90", "debug": "yes", "webhook.secret": "whsec_c2VjcmV0LXZhbHVl"} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() != mode {
			t.Fatalf("%s: mode %v, want %o", p, info.Mode().Perm(), mode)
		}
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# my settings", "# the API", "via: poll", "debug: true", "authtoken: 2abcdefghijklmnop"} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("file lacks %q:\n%s", want, data)
		}
	}
	// A fresh process sees the values, checked.
	c2 := load(t)
	got := map[string]Value{}
	vals, err := c2.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		got[v.Key.Name] = v
	}
	if len(vals) != len(Keys) {
		t.Fatalf("List has %d of %d keys", len(vals), len(Keys))
	}
	checks := []struct{ key, value, source, shown string }{
		{"webhook.via", "poll", path, "poll"},
		{"generate.timeout", "90", path, "90"},
		{"debug", "true", path, "true"},
		{"base_url", "https://x.example.com", path, "https://x.example.com"},
		{"ngrok.connect_timeout", "15s", "default", "15s"},
		{"ngrok.authtoken", "2abcdefghijklmnop", path, "****(17 chars)"},
		{"webhook.secret", "whsec_c2VjcmV0LXZhbHVl", path, "whsec_****(22 chars)"},
		{"webhook.url", "", "", ""},
	}
	for _, ch := range checks {
		v := got[ch.key]
		if v.Value != ch.value || v.Source != ch.source || v.Shown() != ch.shown {
			t.Fatalf("%s = %+v (shown %q), want %q from %q shown %q", ch.key, v, v.Shown(), ch.value, ch.source, ch.shown)
		}
	}
	if d, _ := c2.Duration("generate.timeout"); d != 90*time.Second || !c2.Bool("debug") {
		t.Fatal("values not effective")
	}
	t.Setenv("HF_VIA", "webhook")
	if v, _ := load(t).Get("webhook.via"); v.Value != "webhook" || v.Source != "HF_VIA" {
		t.Fatalf("env does not win: %+v", v)
	}
	if err := c2.Unset("webhook.via"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_VIA", "")
	if v, _ := load(t).Get("webhook.via"); v.Value != "auto" || v.Source != "default" {
		t.Fatalf("after unset: %+v", v)
	}
	if _, err := c2.Get("nope"); err == nil {
		t.Fatal("unknown key")
	}
}

func TestSetRepairsBadFile(t *testing.T) {
	xdg := isolate(t)
	writeConfig(t, xdg, "webhook:\n  via: sideways\n", 0o600)
	if _, err := Load(); err == nil {
		t.Fatal("bad file loaded")
	}
	c, err := LoadUnchecked()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("webhook.via", "auto"); err != nil {
		t.Fatal(err)
	}
	load(t)
}

func TestSetNewFileAndSymlink(t *testing.T) {
	xdg := isolate(t)
	c := load(t)
	if err := c.Set("webhook.via", "poll"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(xdg, "hf", "config.yaml")
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", info, err)
	}
	if d, _ := os.Stat(filepath.Dir(path)); d.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", d.Mode())
	}
	// A linked config file is written through the link.
	real := filepath.Join(t.TempDir(), "dotfiles.yaml")
	if err := os.Rename(path, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	if err := load(t).Set("debug", "1"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(path); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a file")
	}
	data, _ := os.ReadFile(real)
	if !strings.Contains(string(data), "debug: true") || !strings.Contains(string(data), "via: poll") {
		t.Fatalf("linked file:\n%s", data)
	}
	// A value where a section is needed is refused, file untouched.
	writeConfig(t, xdg, "webhook: poll\n", 0o600)
	if err := load(t).Set("webhook.via", "auto"); err == nil {
		t.Fatal("Set through a scalar")
	}
}

func TestSetConcurrent(t *testing.T) {
	xdg := isolate(t)
	_ = xdg
	keys := []string{"webhook.via", "generate.timeout", "debug", "webhook.url", "webhook.listen", "ngrok.url", "ngrok.connect_url", "base_url"}
	vals := []string{"poll", "5m", "true", "https://h.example.com", ":8080", "me.ngrok.app", "c.example.com:443", "https://b.example.com"}
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := LoadUnchecked()
			if err == nil {
				err = c.Set(keys[i], vals[i])
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c := load(t)
	for i, k := range keys {
		if v, _ := c.Get(k); v.Value != vals[i] {
			t.Fatalf("%s = %q after concurrent sets, want %q", k, v.Value, vals[i])
		}
	}
}

func TestSaveCredentials(t *testing.T) {
	const id, secret = "key-123", "s3cr3t-value-xyz"
	tests := []struct {
		name     string
		store    string
		keyring  error // nil: a working (mock) keyring
		wantRing bool
		wantErr  bool
	}{
		{name: "auto with a keyring", store: "", wantRing: true},
		{name: "auto without a keyring falls back to the file", store: "", keyring: errors.New("dbus: no session bus")},
		{name: "file", store: "file"},
		{name: "keyring required but absent", store: "keyring", keyring: errors.New("dbus: no session bus"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg := isolate(t)
			if tt.keyring == nil {
				keyring.MockInit()
			} else {
				keyring.MockInitWithError(tt.keyring)
			}
			t.Cleanup(func() { keyring.MockInitWithError(errors.New("no keyring in tests")) })
			if tt.store != "" {
				t.Setenv("HF_CREDENTIALS_STORE", tt.store)
			}
			// A stale combined key must not shadow the saved one.
			writeConfig(t, xdg, "credentials:\n  credentials: old-id:old-secret\nwebhook:\n  via: poll\n", 0o600)
			path := filepath.Join(xdg, "hf", "config.yaml")
			saved, err := load(t).SaveCredentials(higgsfield.Credentials{ID: id, Secret: secret})
			if tt.wantErr {
				data, _ := os.ReadFile(path)
				if err == nil || strings.Contains(string(data), id) {
					t.Fatalf("err %v; file:\n%s", err, data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if saved.Keyring != tt.wantRing || saved.File != path || (tt.keyring != nil) != (saved.Fallback != "") {
				t.Fatalf("saved %+v", saved)
			}
			data, _ := os.ReadFile(path)
			if strings.Contains(string(data), secret) == tt.wantRing || !strings.Contains(string(data), id) ||
				strings.Contains(string(data), "old-secret") || !strings.Contains(string(data), "via: poll") {
				t.Fatalf("file:\n%s", data)
			}
			for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
				if info, _ := os.Stat(p); info.Mode().Perm() != mode {
					t.Fatalf("%s mode %v", p, info.Mode())
				}
			}
			cr, src, err := load(t).Credentials("", "")
			wantSrc := path
			if tt.wantRing {
				wantSrc = SourceKeyring + " (key id in " + path + ")"
			}
			if err != nil || cr != (higgsfield.Credentials{ID: id, Secret: secret}) || src != wantSrc {
				t.Fatalf("lookup: %+v %q %v, want source %q", cr, src, err, wantSrc)
			}
			removed, err := load(t).DeleteCredentials()
			if err != nil || removed.Keyring != tt.wantRing || len(removed.Keys) == 0 {
				t.Fatalf("removed %+v %v", removed, err)
			}
			if _, err := keyring.Get(keyringService, id); tt.keyring == nil && !errors.Is(err, keyring.ErrNotFound) {
				t.Fatalf("keyring entry left: %v", err)
			}
			data, _ = os.ReadFile(path)
			if strings.Contains(string(data), id) || strings.Contains(string(data), "credentials") || !strings.Contains(string(data), "via: poll") {
				t.Fatalf("after logout:\n%s", data)
			}
			var me *MissingCredentialsError
			if _, _, err := load(t).Credentials("", ""); !errors.As(err, &me) {
				t.Fatalf("after logout: %v", err)
			}
		})
	}
}

func TestKeyringTimeout(t *testing.T) {
	old := keyringTimeout
	keyringTimeout = 50 * time.Millisecond
	t.Cleanup(func() { keyringTimeout = old })
	block := make(chan struct{})
	defer close(block)
	start := time.Now()
	_, err := keyringCall(func() (string, error) { <-block; return "", nil })
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

func TestCredentialErrorsTyped(t *testing.T) {
	isolate(t)
	c := load(t)
	tests := []struct {
		key, secret string
		env         map[string]string
	}{
		{key: "id:secret", secret: "x"},
		{key: "id"},
		{env: map[string]string{"HF_KEY": "abc"}},
		{env: map[string]string{"HF_API_KEY": "abc"}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, _, err := c.Credentials(tt.key, tt.secret)
			var ce *CredentialsError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %T %v", err, err)
			}
		})
	}
	if !slices.ContainsFunc(Keys, func(k Key) bool { return k.Name == "credentials.store" }) {
		t.Fatal("credentials.store missing")
	}
}
