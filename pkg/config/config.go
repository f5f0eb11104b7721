// Package config owns hf's settings: flags > environment > config file >
// defaults (viper), the credential lookup order, and where hf keeps its files.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

// EnvBindings maps config keys to the environment variables that set them
// (first listed wins). Read it, do not change it.
var EnvBindings = map[string][]string{
	"base_url":               {"HF_BASE_URL"},
	"debug":                  {"HF_DEBUG"},
	"ngrok.authtoken":        {"HF_NGROK_AUTHTOKEN", "NGROK_AUTHTOKEN"},
	"ngrok.url":              {"HF_NGROK_URL"},
	"ngrok.connect_url":      {"HF_NGROK_CONNECT_URL"},
	"ngrok.root_cas":         {"HF_NGROK_ROOT_CAS"},
	"ngrok.connect_timeout":  {"HF_NGROK_CONNECT_TIMEOUT"},
	"webhook.secret":         {"HF_WEBHOOK_SECRET"},
	"webhook.via":            {"HF_VIA"},
	"generate.timeout":       {"HF_TIMEOUT"},
	"webhook.listen":         {"HF_LISTEN"},
	"webhook.url":            {"HF_WEBHOOK_URL"},
	"download.max_bytes":     {"HF_MAX_DOWNLOAD"},
	"download.stall_timeout": {"HF_STALL_TIMEOUT"},
}

// CredentialEnv are the environment variables Credentials reads, in order.
var CredentialEnv = []string{"HF_KEY", "HF_CREDENTIALS", "HF_API_KEY", "HF_API_SECRET", "HF_API_KEY_ID", "HF_API_KEY_SECRET"}

// EnvVars are every environment variable hf's settings come from: HF_CONFIG,
// the bindings and the credentials.
func EnvVars() []string {
	vars := []string{"HF_CONFIG"}
	for _, envs := range EnvBindings {
		vars = append(vars, envs...)
	}
	return append(vars, CredentialEnv...)
}

// Config is the merged view of the config file and the environment.
type Config struct {
	V *viper.Viper
	// File is the config file read, "" when there is none.
	File string
	// Warnings are problems worth telling the user (e.g. a config file
	// others can read).
	Warnings []string
}

// Dir is where hf keeps its config: $XDG_CONFIG_HOME/hf, else ~/.config/hf
// (the OS config dir on Windows).
func Dir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "hf"), nil
	}
	if runtime.GOOS != "windows" {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".config", "hf"), nil
		}
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a config directory: %w", err)
	}
	return filepath.Join(d, "hf"), nil
}

func withDefaults() *viper.Viper {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetDefault("base_url", higgsfield.DefaultBaseURL)
	v.SetDefault("webhook.via", "auto")
	v.SetDefault("generate.timeout", 30*time.Minute)
	v.SetDefault("ngrok.connect_timeout", 15*time.Second)
	return v
}

// New is a config holding the defaults and values (keys as in the config
// file, e.g. "webhook.secret"), with neither file nor environment: what
// tests inject through the Factory.
func New(values map[string]any) *Config {
	v := withDefaults()
	for k, val := range values {
		v.Set(k, val)
	}
	return &Config{V: v}
}

// Load reads $HF_CONFIG, else <Dir>/config.yaml when it exists, and binds
// the environment.
func Load() (*Config, error) {
	v := withDefaults()
	for key, envs := range EnvBindings {
		_ = v.BindEnv(append([]string{key}, envs...)...)
	}
	c := &Config{V: v}
	path := os.Getenv("HF_CONFIG")
	explicit := path != ""
	if !explicit {
		dir, err := Dir()
		if err != nil {
			return c, nil
		}
		path = filepath.Join(dir, "config.yaml")
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("config file: %w", err)
	}
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("reading %s: %s", path, oneLine(err.Error()))
	}
	c.File = path
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s is readable by other users (mode %04o); run: chmod 600 %s", path, info.Mode().Perm(), path))
	}
	return c, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// String returns a setting.
func (c *Config) String(key string) string { return c.V.GetString(key) }

// Bool returns a setting.
func (c *Config) Bool(key string) bool { return c.V.GetBool(key) }

// Duration returns a setting; a bare number means seconds.
func (c *Config) Duration(key string) (time.Duration, error) {
	s := strings.TrimSpace(c.V.GetString(key))
	if s == "" {
		return 0, nil
	}
	return ParseDuration(s)
}

// ParseDuration accepts Go durations ("90s", "1m30s") and bare seconds ("90").
func ParseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
		}
		return d, nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 && secs < 1e9 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("invalid duration %q: want e.g. 90s, 5m or 1h", s)
}

// MissingCredentialsError says no credential source was found.
type MissingCredentialsError struct{ ConfigPath string }

func (e *MissingCredentialsError) Error() string {
	return "no API credentials: set HF_KEY=KEY_ID:KEY_SECRET (or HF_API_KEY and HF_API_SECRET), or pass --api-key and --api-secret"
}

// Credentials resolves the API key in order: flags (--api-key ID
// --api-secret SECRET, or --api-key ID:SECRET), HF_KEY or HF_CREDENTIALS,
// HF_API_KEY+HF_API_SECRET, HF_API_KEY_ID+HF_API_KEY_SECRET, then the config
// file (credentials.api_key/api_secret or credentials.credentials). It also
// returns where they came from.
func (c *Config) Credentials(flagKey, flagSecret string) (higgsfield.Credentials, string, error) {
	pair := func(src, id, secret string) (higgsfield.Credentials, string, error) {
		if id == "" || secret == "" {
			missing := "secret"
			if id == "" {
				missing = "key id"
			}
			return higgsfield.Credentials{}, src, fmt.Errorf("%s: the %s is empty", src, missing)
		}
		return higgsfield.Credentials{ID: id, Secret: secret}, src, nil
	}
	combined := func(src, v string) (higgsfield.Credentials, string, error) {
		cr, err := higgsfield.ParseCredentials(v)
		if err != nil {
			return cr, src, fmt.Errorf("%s: %w", src, err)
		}
		return cr, src, nil
	}
	switch {
	case flagKey != "" && flagSecret == "" && strings.Contains(flagKey, ":"):
		return combined("--api-key", flagKey)
	case flagKey != "" || flagSecret != "":
		return pair("--api-key/--api-secret", flagKey, flagSecret)
	}
	for _, name := range []string{"HF_KEY", "HF_CREDENTIALS"} {
		if v := os.Getenv(name); v != "" {
			return combined(name, v)
		}
	}
	for _, p := range [][2]string{{"HF_API_KEY", "HF_API_SECRET"}, {"HF_API_KEY_ID", "HF_API_KEY_SECRET"}} {
		id, secret := os.Getenv(p[0]), os.Getenv(p[1])
		if id != "" || secret != "" {
			return pair(p[0]+"/"+p[1], id, secret)
		}
	}
	if v := c.V.GetString("credentials.credentials"); v != "" {
		return combined(c.File, v)
	}
	if id, secret := c.V.GetString("credentials.api_key"), c.V.GetString("credentials.api_secret"); id != "" || secret != "" {
		return pair(c.File, id, secret)
	}
	return higgsfield.Credentials{}, "", &MissingCredentialsError{ConfigPath: c.File}
}
