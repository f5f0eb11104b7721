// Package sandbox owns hf's built-in fake API (--sandbox): the in-process
// fake from pkg/higgsfield/hftest, with generation times a person can watch
// and a fresh webhook secret, so its deliveries are signed and verified like
// real ones.
package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// Sandbox is a running fake API.
type Sandbox struct {
	// URL is the fake API's base URL (loopback).
	URL string
	// Secret is the Standard Webhooks secret it signs deliveries with.
	Secret string
	srv    *hftest.Server
}

// Start starts the fake API on a loopback port: requests stay queued for
// 1 s and run for 2 s.
func Start() *Sandbox {
	secret := newSecret()
	srv := hftest.New(hftest.WithTiming(time.Second, 2*time.Second), hftest.WithWebhookSecret(secret))
	return &Sandbox{URL: srv.URL, Secret: secret, srv: srv}
}

// Close stops the fake API.
func (s *Sandbox) Close() { s.srv.Close() }

// newSecret makes a fresh Standard Webhooks secret.
func newSecret() string {
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}
