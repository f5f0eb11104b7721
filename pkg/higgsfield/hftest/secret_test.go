package hftest

import (
	"encoding/base64"
	"net/url"
	"sync"
	"testing"
	"time"
)

func TestSetWebhookSecret(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret, 24 bytes"))
	rc := newReceiver(t)
	s := newServer(t, WithTiming(0, 10*time.Millisecond))
	hook := "m?hf_webhook=" + url.QueryEscape(rc.URL)

	// Unsigned by default.
	submit(t, s, hook, `{"prompt":"p"}`)
	eventually(t, "first delivery", func() bool { return len(rc.deliveries()) == 1 })
	if sig := rc.deliveries()[0].header.Get("webhook-signature"); sig != "" {
		t.Fatalf("signed without a secret: %q", sig)
	}

	// Set: later deliveries are signed, verifiably.
	s.SetWebhookSecret(secret)
	submit(t, s, hook, `{"prompt":"p"}`)
	eventually(t, "second delivery", func() bool { return len(rc.deliveries()) == 2 })
	verify(t, secret, rc.deliveries()[1])

	// The secret is read when a delivery is sent, not when its job is
	// created: a job submitted before the change is delivered under the new
	// setting. Cleared: unsigned again.
	s.SetTiming(100*time.Millisecond, 0)
	submit(t, s, hook, `{"prompt":"p"}`)
	s.SetWebhookSecret("")
	eventually(t, "third delivery", func() bool { return len(rc.deliveries()) == 3 })
	if sig := rc.deliveries()[2].header.Get("webhook-signature"); sig != "" {
		t.Fatalf("signed after the secret was cleared: %q", sig)
	}
}

// TestSetWebhookSecretConcurrent changes the secret while deliveries are
// being sent (run with -race): every delivery is either unsigned or
// correctly signed with the secret, never a mix. It goes on until both
// kinds were seen, so it cannot pass with nothing signed (or nothing
// unsigned) and check nothing.
func TestSetWebhookSecretConcurrent(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("concurrent secret 24 byt"))
	rc := newReceiver(t)
	s := newServer(t, WithTiming(0, 0))
	hook := "m?hf_webhook=" + url.QueryEscape(rc.URL)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				s.SetWebhookSecret(secret)
			} else {
				s.SetWebhookSecret("")
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	signed, unsigned, want := 0, 0, 0
	for deadline := time.Now().Add(10 * time.Second); signed == 0 || unsigned == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("after %d deliveries, %d signed and %d unsigned: want both kinds", want, signed, unsigned)
		}
		s.InjectWebhook(WebhookFault{Duplicate: 3, Times: 8})
		for range 8 {
			submit(t, s, hook, `{"prompt":"p"}`)
		}
		want += 32
		eventually(t, "the round's deliveries", func() bool { return len(rc.deliveries()) == want })
		signed, unsigned = 0, 0
		for _, d := range rc.deliveries() {
			if d.header.Get("webhook-signature") != "" {
				verify(t, secret, d)
				signed++
			} else {
				unsigned++
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d of %d deliveries signed", signed, want)
}
