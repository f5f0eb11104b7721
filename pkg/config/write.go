package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Value is a setting's effective value and where it comes from.
type Value struct {
	Key Key
	// Value is the effective value, "" when unset.
	Value string
	// Source is the environment variable, the config file's path,
	// "default", or "" when unset.
	Source string
}

// Shown is the value as hf config prints it: secrets masked.
func (v Value) Shown() string {
	if v.Key.Secret {
		return Mask(v.Value)
	}
	return v.Value
}

// UnknownKeyError is a key the schema does not have (exit 2).
type UnknownKeyError struct{ Name, Suggestion string }

func (e *UnknownKeyError) Error() string {
	msg := fmt.Sprintf("unknown config key %q", e.Name)
	if e.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", e.Suggestion)
	}
	return msg + "; hf config list shows every key"
}

func unknown(name string) error { return &UnknownKeyError{Name: name, Suggestion: suggest(name)} }

// Get returns the effective value of a setting: environment, else config
// file, else default.
func (c *Config) Get(name string) (Value, error) {
	k, ok := LookupKey(name)
	if !ok {
		return Value{}, unknown(name)
	}
	if env, v := envValue(k); env != "" {
		return Value{Key: k, Value: v, Source: env}, nil
	}
	if c.File != "" && c.file.IsSet(k.Name) {
		v, err := c.fileValue(k.Name)
		if err != nil {
			return Value{}, valueError(c.File, k, "", err)
		}
		return Value{Key: k, Value: v, Source: c.File}, nil
	}
	if c.injected[k.Name] {
		return Value{Key: k, Value: c.V.GetString(k.Name), Source: "test"}, nil
	}
	if k.Default != "" {
		return Value{Key: k, Value: k.Default, Source: "default"}, nil
	}
	return Value{Key: k}, nil
}

// List returns every setting of the schema, in its order.
func (c *Config) List() ([]Value, error) {
	out := make([]Value, 0, len(Keys))
	for _, k := range Keys {
		v, err := c.Get(k.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Path is the config file hf reads and writes ($HF_CONFIG, else
// <Dir>/config.yaml), whether it exists or not.
func (c *Config) Path() string { return c.target }

// Set validates value for the key and writes it to the config file
// atomically (0600, in a 0700 directory), keeping the file's other settings
// and comments. Credentials are refused: hf auth login stores them without
// putting a secret in shell history.
func (c *Config) Set(name, value string) error {
	k, ok := LookupKey(name)
	if !ok {
		return unknown(name)
	}
	if k.Login {
		return &ValueError{Key: name, Err: errors.New("credentials are stored by hf auth login (a secret typed as an argument lands in shell history)")}
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return &ValueError{Key: name, Err: errors.New("empty value; hf config unset " + name + " removes a setting")}
	}
	if err := k.Validate(value); err != nil {
		return valueError("", k, value, err)
	}
	if k.Kind == KindBool {
		b, _ := ParseBool(value)
		value = strconv.FormatBool(b)
	}
	return c.edit(map[string]*string{name: &value})
}

// InFile reports whether the config file sets the key.
func (c *Config) InFile(name string) bool { return c.File != "" && c.file.IsSet(name) }

// Unset removes a setting from the config file.
func (c *Config) Unset(name string) error {
	if _, ok := LookupKey(name); !ok {
		return unknown(name)
	}
	if c.File == "" {
		return nil
	}
	return c.edit(map[string]*string{name: nil})
}

// lockWait bounds the wait for another hf writing the config file.
var lockWait = 5 * time.Second

// edit applies sets (nil removes the key) to the config file under a file
// lock, writes it atomically, and reloads the file's settings.
func (c *Config) edit(sets map[string]*string) error {
	if c.target == "" {
		return errors.New("no config directory: set HF_CONFIG or XDG_CONFIG_HOME")
	}
	path := c.target
	// Write through a symlink (dotfile managers link config files).
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return fmt.Errorf("config file %s is not a regular file, not touching it", path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if def, err := Dir(); err == nil && filepath.Clean(def) == filepath.Clean(filepath.Dir(c.target)) && runtime.GOOS != "windows" {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	lk := flock.New(path+".lock", flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	if ok, err := lk.TryLockContext(ctx, 20*time.Millisecond); err != nil || !ok {
		return fmt.Errorf("config: another hf is writing %s (lock %s.lock)", path, path)
	}
	defer lk.Unlock()

	var doc yaml.Node
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("config: %w", err)
	default:
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("config: %s is not valid YAML, not touching it: %s", path, oneLine(err.Error()))
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %s does not hold a mapping of settings, not touching it", path)
	}
	for name, val := range sets {
		parts := strings.Split(name, ".")
		if val == nil {
			removeNode(root, parts)
			continue
		}
		k, _ := LookupKey(name)
		scalar := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: *val}
		if k.Kind == KindBool {
			scalar.Tag = "!!bool"
		}
		if err := setNode(root, parts, scalar); err != nil {
			return fmt.Errorf("config: %s: %v", path, err)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if len(root.Content) > 0 {
		if err := enc.Encode(&doc); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	_ = enc.Close()
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return err
	}
	return c.reload()
}

func (c *Config) reload() error {
	f := viper.New()
	f.SetConfigType("yaml")
	f.SetConfigFile(c.target)
	if err := f.ReadInConfig(); err != nil {
		return fmt.Errorf("config: re-reading %s: %s", c.target, oneLine(err.Error()))
	}
	c.file, c.File = f, c.target
	c.V.SetConfigFile(c.target)
	return c.V.ReadInConfig()
}

// setNode sets path under the mapping m, creating sections as needed.
func setNode(m *yaml.Node, path []string, val *yaml.Node) error {
	for i, p := range path {
		last := i == len(path)-1
		idx := -1
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == p {
				idx = j
			}
		}
		if idx < 0 {
			var child *yaml.Node
			if last {
				child = val
			} else {
				child = &yaml.Node{Kind: yaml.MappingNode}
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, child)
			m = child
			continue
		}
		if last {
			val.HeadComment, val.LineComment = m.Content[idx+1].HeadComment, m.Content[idx+1].LineComment
			m.Content[idx+1] = val
			return nil
		}
		if m.Content[idx+1].Kind != yaml.MappingNode {
			return fmt.Errorf("%s is a value, not a section", strings.Join(path[:i+1], "."))
		}
		m = m.Content[idx+1]
	}
	return nil
}

// removeNode deletes path under m, and sections it leaves empty.
func removeNode(m *yaml.Node, path []string) bool {
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value != path[0] {
			continue
		}
		if len(path) == 1 {
			m.Content = append(m.Content[:j], m.Content[j+2:]...)
			return true
		}
		child := m.Content[j+1]
		if child.Kind == yaml.MappingNode && removeNode(child, path[1:]) {
			if len(child.Content) == 0 {
				m.Content = append(m.Content[:j], m.Content[j+2:]...)
			}
			return true
		}
	}
	return false
}

// writeAtomic replaces path with data: a private temporary file beside it,
// synced, renamed over it, and the directory synced.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".config-*.tmp")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name())
	fail := func(err error) error {
		tmp.Close()
		return fmt.Errorf("config: writing %s: %w", path, err)
	}
	if runtime.GOOS != "windows" {
		if err := tmp.Chmod(0o600); err != nil {
			return fail(err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
