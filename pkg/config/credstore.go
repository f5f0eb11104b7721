package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

// SourceKeyring names the OS keyring as a credential source.
const SourceKeyring = "OS keyring"

// keyringService is the service name of hf's keyring entries; the user is
// the key id.
const keyringService = "hf-cli"

// keyringTimeout bounds every keyring call: a Secret Service that hangs
// must not hold hf.
var keyringTimeout = 3 * time.Second

// keyringCall runs f with a timeout.
func keyringCall[T any](f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	t := time.NewTimer(keyringTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, fmt.Errorf("the OS keyring did not answer within %s", keyringTimeout)
	}
}

func keyringGet(id string) (string, error) {
	return keyringCall(func() (string, error) { return keyring.Get(keyringService, id) })
}

func keyringSet(id, secret string) error {
	_, err := keyringCall(func() (struct{}, error) { return struct{}{}, keyring.Set(keyringService, id, secret) })
	return err
}

func keyringDelete(id string) error {
	_, err := keyringCall(func() (struct{}, error) { return struct{}{}, keyring.Delete(keyringService, id) })
	return err
}

// Saved says where SaveCredentials put a key.
type Saved struct {
	// File is the config file written (it holds the key id, and the secret
	// unless Keyring).
	File string
	// Keyring is true when the secret went to the OS keyring.
	Keyring bool
	// Fallback is why the keyring was not used in auto mode ("" when it was,
	// or when the file was asked for).
	Fallback string
}

// SaveCredentials stores a key for later runs, as credentials.store says:
// auto puts the secret in the OS keyring when one answers, else in the
// config file; keyring requires the keyring; file uses the file. The config
// file (0600, directory 0700) always gets the key id, and other credential
// keys are removed from it so the saved key is the one used.
func (c *Config) SaveCredentials(cr higgsfield.Credentials) (Saved, error) {
	if cr.ID == "" || cr.Secret == "" {
		return Saved{}, errors.New("credentials: key id and secret are both needed")
	}
	store := c.storeMode()
	saved := Saved{File: c.target}
	if store != "file" {
		err := keyringSet(cr.ID, cr.Secret)
		switch {
		case err == nil:
			saved.Keyring = true
		case store == "keyring":
			return Saved{}, fmt.Errorf("credentials.store is keyring but the OS keyring cannot store the secret: %v", err)
		default:
			saved.Fallback = err.Error()
		}
	}
	sets := map[string]*string{"credentials.api_key": &cr.ID, "credentials.credentials": nil, "credentials.api_secret": nil}
	if !saved.Keyring {
		sets["credentials.api_secret"] = &cr.Secret
	}
	if err := c.edit(sets); err != nil {
		if saved.Keyring {
			_ = keyringDelete(cr.ID)
		}
		return Saved{}, err
	}
	return saved, nil
}

func (c *Config) storeMode() string {
	if s := c.String("credentials.store"); s != "" {
		return s
	}
	return "auto"
}

// Removed says what DeleteCredentials removed.
type Removed struct {
	// Keys are the config keys removed from File.
	Keys []string
	File string
	// Keyring is true when a keyring entry was removed.
	Keyring bool
}

// DeleteCredentials removes what SaveCredentials stored: the credential
// keys of the config file and the keyring entry of its key id.
func (c *Config) DeleteCredentials() (Removed, error) {
	r := Removed{File: c.target}
	if c.File == "" {
		return r, nil
	}
	id, _ := c.fileValue("credentials.api_key")
	secret, _ := c.fileValue("credentials.api_secret")
	if id != "" && secret == "" && c.storeMode() != "file" {
		if err := keyringDelete(id); err == nil {
			r.Keyring = true
		} else if !errors.Is(err, keyring.ErrNotFound) {
			return r, fmt.Errorf("removing the secret of key %s from the OS keyring: %v", id, err)
		}
	}
	sets := map[string]*string{}
	for _, k := range []string{"credentials.credentials", "credentials.api_key", "credentials.api_secret"} {
		if c.file.IsSet(k) {
			sets[k] = nil
			r.Keys = append(r.Keys, k)
		}
	}
	if len(sets) == 0 {
		return r, nil
	}
	return r, c.edit(sets)
}
