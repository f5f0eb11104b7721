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
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/redact"
)

// EnvBindings maps config keys to the environment variables that set them
// (first listed wins), from the schema. Credentials are looked up by
// Credentials, in their own order, and are not bound. Read it, do not
// change it.
var EnvBindings = func() map[string][]string {
	m := map[string][]string{}
	for _, k := range Keys {
		if !k.Login && len(k.Env) > 0 {
			m[k.Name] = k.Env
		}
	}
	return m
}()

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
	// others can read, an unknown key).
	Warnings []string

	// target is the file Set writes: File, or where it would be.
	target string
	// file holds the settings of the config file alone.
	file *viper.Viper
	// injected are the keys New was given.
	injected map[string]bool
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
	for _, k := range Keys {
		if k.Default != "" {
			v.SetDefault(k.Name, k.Default)
		}
	}
	return v
}

// New is a config holding the defaults and values (keys as in the config
// file, e.g. "webhook.secret"), with neither file nor environment: what
// tests inject through the Factory.
func New(values map[string]any) *Config {
	v := withDefaults()
	c := &Config{V: v, file: viper.New(), injected: map[string]bool{}}
	for k, val := range values {
		v.Set(k, val)
		c.injected[k] = true
	}
	return c
}

// Load reads $HF_CONFIG, else <Dir>/config.yaml when it exists, binds the
// environment, and checks every value against the schema: a bad value is a
// *ValueError naming the file and key, or the environment variable. Unknown
// keys in the file are warnings.
func Load() (*Config, error) {
	c, err := LoadUnchecked()
	if err != nil {
		return nil, err
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadUnchecked is Load without the value check, for hf config, which must
// be able to repair a file with a bad value.
func LoadUnchecked() (*Config, error) {
	v := withDefaults()
	for key, envs := range EnvBindings {
		_ = v.BindEnv(append([]string{key}, envs...)...)
	}
	c := &Config{V: v, file: viper.New()}
	path := os.Getenv("HF_CONFIG")
	explicit := path != ""
	if !explicit {
		dir, err := Dir()
		if err != nil {
			return c, nil
		}
		path = filepath.Join(dir, "config.yaml")
	}
	c.target = path
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return c, nil
	case errors.Is(err, fs.ErrNotExist):
		// Nothing is configured there yet; hf config set and hf auth login
		// create it. Said once, in case HF_CONFIG has a typo.
		c.Warnings = append(c.Warnings, fmt.Sprintf("HF_CONFIG names %s, which does not exist yet (hf config set and hf auth login create it)", path))
		return c, nil
	case err != nil:
		return nil, &FileError{Path: path, Env: explicit, Err: err}
	case !info.Mode().IsRegular():
		// Reading a FIFO would block every command until a writer comes.
		return nil, &FileError{Path: path, Env: explicit, Err: errors.New("not a regular file")}
	}
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, &FileError{Path: path, Env: explicit, Err: errors.New(oneLine(err.Error()))}
	}
	c.file.SetConfigType("yaml")
	c.file.SetConfigFile(path)
	if err := c.file.ReadInConfig(); err != nil {
		return nil, &FileError{Path: path, Env: explicit, Err: errors.New(oneLine(err.Error()))}
	}
	c.File = path
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s is readable by other users (mode %04o); run: chmod 600 %s", path, info.Mode().Perm(), path))
	}
	for _, name := range c.file.AllKeys() {
		if _, ok := LookupKey(name); ok {
			continue
		}
		w := fmt.Sprintf("%s: unknown key %q is ignored", path, name)
		if s := suggest(name); s != "" {
			w += fmt.Sprintf(" (did you mean %s?)", s)
		}
		c.Warnings = append(c.Warnings, w)
	}
	return c, nil
}

// FileError is a config file hf cannot read: a directory, a FIFO, no
// permission, not YAML. Like a bad value it is a usage error (exit 2): the
// README's "bad settings and files". A file that does not exist is none:
// without $HF_CONFIG there is nothing to read, with it a warning.
type FileError struct {
	Path string
	// Env is set when $HF_CONFIG named the file.
	Env bool
	Err error
}

func (e *FileError) Error() string { return "config file " + e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ExitCode is 2, a usage error (pkg/exitcode honours it).
func (e *FileError) ExitCode() int { return 2 }

// Hint says how to get past the file.
func (e *FileError) Hint() string {
	if e.Env {
		return "point HF_CONFIG at a readable YAML file, or unset HF_CONFIG"
	}
	return "fix or remove " + e.Path
}

// Check validates every setting of the environment (credentials excepted:
// Credentials checks the source it uses) and of the config file.
func (c *Config) Check() error {
	for _, k := range Keys {
		if !k.Login {
			if name, val := envValue(k); name != "" {
				if err := k.Validate(val); err != nil {
					return valueError(name, k, val, err)
				}
			}
		}
		if c.File == "" || !c.file.IsSet(k.Name) {
			continue
		}
		val, err := c.fileValue(k.Name)
		if err == nil {
			err = k.Validate(val)
		}
		if err != nil {
			return valueError(c.File, k, val, err)
		}
	}
	return nil
}

func valueError(src string, k Key, val string, err error) *ValueError {
	switch {
	case k.Secret:
		val = ""
	case k.Kind == KindURL:
		val = redact.URL(val) // no userinfo, no query values
	}
	return &ValueError{Source: src, Key: k.Name, Value: val, Err: err}
}

// envValue returns the first set environment variable of k and its value.
func envValue(k Key) (string, string) {
	for _, name := range k.Env {
		if v := os.Getenv(name); v != "" {
			return name, v
		}
	}
	return "", ""
}

// fileValue returns the config file's value of key as text; a list or a
// section where a value belongs is an error.
func (c *Config) fileValue(key string) (string, error) {
	switch x := c.file.Get(key).(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool, int, int64, float64, uint64:
		return fmt.Sprint(x), nil
	case time.Time:
		return x.Format(time.RFC3339), nil
	}
	return "", errors.New("want a single value, not a list or a section")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// String returns a setting.
func (c *Config) String(key string) string { return c.V.GetString(key) }

// Bool returns a setting (true/false, 1/0, yes/no, on/off; anything else,
// which Check rejects, is false).
func (c *Config) Bool(key string) bool {
	b, _ := ParseBool(c.V.GetString(key))
	return b
}

// Duration returns a setting; a bare number means seconds.
func (c *Config) Duration(key string) (time.Duration, error) {
	s := strings.TrimSpace(c.V.GetString(key))
	if s == "" {
		return 0, nil
	}
	return ParseDuration(s)
}

// MissingCredentialsError says no credential source was found.
type MissingCredentialsError struct{ ConfigPath string }

func (e *MissingCredentialsError) Error() string {
	return "no API credentials: set HF_KEY=KEY_ID:KEY_SECRET (or HF_API_KEY and HF_API_SECRET), or pass --api-key and --api-secret"
}

// CredentialsError is a credential source that is set but unusable
// (half a pair, a malformed KEY_ID:KEY_SECRET, a keyring that cannot be
// read). Source names it; the secret is never part of the message. It is a
// usage error (exit 2).
type CredentialsError struct {
	Source string
	Err    error
}

func (e *CredentialsError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// Credentials resolves the API key in order: flags (--api-key ID
// --api-secret SECRET, or --api-key ID:SECRET), HF_KEY or HF_CREDENTIALS,
// HF_API_KEY+HF_API_SECRET, HF_API_KEY_ID+HF_API_KEY_SECRET, then the config
// file (credentials.credentials, or credentials.api_key with
// credentials.api_secret, or with the secret in the OS keyring where hf auth
// login put it). It also returns where they came from.
func (c *Config) Credentials(flagKey, flagSecret string) (higgsfield.Credentials, string, error) {
	fail := func(src string, err error) (higgsfield.Credentials, string, error) {
		return higgsfield.Credentials{}, src, &CredentialsError{Source: src, Err: err}
	}
	pair := func(src, id, secret string) (higgsfield.Credentials, string, error) {
		if id == "" || secret == "" {
			missing := "secret"
			if id == "" {
				missing = "key id"
			}
			return fail(src, fmt.Errorf("the %s is empty", missing))
		}
		return higgsfield.Credentials{ID: id, Secret: secret}, src, nil
	}
	combined := func(src, v string) (higgsfield.Credentials, string, error) {
		cr, err := higgsfield.ParseCredentials(v)
		if err != nil {
			return fail(src, err)
		}
		return cr, src, nil
	}
	switch {
	case flagKey != "" && strings.Contains(flagKey, ":") && flagSecret != "":
		return fail("--api-key/--api-secret", errors.New("--api-key already holds KEY_ID:KEY_SECRET; pass --api-secret only with a bare key id"))
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
	if c.File == "" {
		return higgsfield.Credentials{}, "", &MissingCredentialsError{ConfigPath: c.File}
	}
	if v, _ := c.fileValue("credentials.credentials"); v != "" {
		return combined(c.File, v)
	}
	id, _ := c.fileValue("credentials.api_key")
	secret, _ := c.fileValue("credentials.api_secret")
	switch {
	case id != "" && secret == "" && c.String("credentials.store") != "file":
		s, err := keyringGet(id)
		if err != nil {
			return fail(c.File, fmt.Errorf("the secret is empty: credentials.api_secret is unset and the OS keyring has none for key %s (%v); run hf auth login", id, err))
		}
		return higgsfield.Credentials{ID: id, Secret: s}, SourceKeyring + " (key id in " + c.File + ")", nil
	case id != "" || secret != "":
		return pair(c.File, id, secret)
	}
	return higgsfield.Credentials{}, "", &MissingCredentialsError{ConfigPath: c.File}
}
