package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// isolatedEnv is the environment for an hf the benchmarks run: the
// caller's, without anything that configures hf (HF_*, NGROK_*, and the
// HOME/XDG dirs where its config file, journal and keyring entries live),
// then dir's own home, config and state dirs, then kv (later wins). So the
// README's figures come out the same on a machine where hf is configured.
func isolatedEnv(dir string, kv ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		switch {
		case strings.HasPrefix(k, "HF_"), strings.HasPrefix(k, "NGROK_"),
			k == "HOME", k == "XDG_CONFIG_HOME", k == "XDG_STATE_HOME", k == "XDG_DATA_HOME", k == "XDG_CACHE_HOME":
			continue
		}
		env = append(env, e)
	}
	for _, sub := range []string{"home", "config", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			panic(err)
		}
	}
	env = append(env, "HOME="+filepath.Join(dir, "home"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"))
	return append(env, kv...)
}

// TestIsolatedEnvIgnoresTheCallersConfig: an hf run by the benchmarks does
// not see the caller's config file or HF_* variables (a configured
// webhook.secret turned the "unsigned" figure into signed-with-the-wrong-
// secret, 7 s instead of 8 ms).
func TestIsolatedEnvIgnoresTheCallersConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hf")
	}
	// Built before HOME moves (the go command's cache lives there).
	bin := filepath.Join(t.TempDir(), "hf")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/hf").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	caller := t.TempDir()
	cfgDir := filepath.Join(caller, "hf")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte("webhook:\n  via: poll\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", caller)
	t.Setenv("HOME", caller)
	t.Setenv("HF_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("HF_TIMEOUT", "7s")
	get := func(env []string, key string) string {
		cmd := exec.Command(bin, "config", "get", key)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hf config get %s: %v", key, err)
		}
		return strings.TrimSpace(string(out))
	}
	// The check can fail: the caller's settings do reach a plain hf.
	set := map[string]string{"webhook.via": "poll", "webhook.secret": "whsec_", "generate.timeout": "7s"}
	for key, want := range set {
		if got := get(os.Environ(), key); !strings.HasPrefix(got, want) {
			t.Fatalf("caller's %s = %q, want %s…", key, got, want)
		}
	}
	env := isolatedEnv(t.TempDir(), "HF_KEY=k:s")
	for key, theirs := range set {
		if got := get(env, key); strings.HasPrefix(got, theirs) {
			t.Errorf("isolated %s = %q: the caller's", key, got)
		}
	}
}
