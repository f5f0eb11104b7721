package listen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/signature"
	"github.com/hf-cli/hf/pkg/webhook"
)

// SampleOptions say what a sample delivery reports.
type SampleOptions struct {
	// Status is completed, failed or nsfw.
	Status string
	// RequestID defaults to a fresh UUID.
	RequestID string
	// Kind is image (default) or video: the output of a completed request.
	Kind string
	// BaseURL of the status and cancel URLs (default https://api.higgsfield.ai).
	BaseURL string
	// Now is the clock for expires_at (default time.Now).
	Now func() time.Time
}

// sample is a webhook body, fields in the order the API documents them.
type sample struct {
	Status    string      `json:"status"`
	RequestID string      `json:"request_id"`
	StatusURL string      `json:"status_url,omitempty"`
	CancelURL string      `json:"cancel_url,omitempty"`
	Images    []sampleURL `json:"images,omitempty"`
	Video     *sampleURL  `json:"video,omitempty"`
	Error     string      `json:"error,omitempty"`
	ExpiresAt string      `json:"expires_at,omitempty"`
}

type sampleURL struct {
	URL string `json:"url"`
}

// Sample returns a webhook body shaped like the API's documented payloads:
// a completed image (images[]) or video (video{}) with its status, cancel
// and expiry fields, a failed request with its error, or an nsfw one.
func Sample(o SampleOptions) ([]byte, error) {
	id := o.RequestID
	if id == "" {
		id = uuid.NewString()
	}
	base := o.BaseURL
	if base == "" {
		base = "https://api.higgsfield.ai"
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	s := sample{Status: o.Status, RequestID: id}
	switch o.Status {
	case higgsfield.StatusCompleted:
		s.StatusURL = base + "/requests/" + id + "/status"
		s.CancelURL = base + "/requests/" + id + "/cancel"
		switch o.Kind {
		case "", "image":
			s.Images = []sampleURL{{URL: "https://images.url/example"}}
		case "video":
			s.Video = &sampleURL{URL: "https://video.url/example"}
		default:
			return nil, fmt.Errorf("--kind %q: want image or video", o.Kind)
		}
		s.ExpiresAt = now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	case higgsfield.StatusFailed:
		s.Error = "Generation fail message"
	case higgsfield.StatusNSFW:
	default:
		return nil, fmt.Errorf("--status %q: want completed, failed or nsfw", o.Status)
	}
	if o.Kind != "" && o.Status != higgsfield.StatusCompleted {
		return nil, fmt.Errorf("--kind applies to --status completed only")
	}
	return json.Marshal(s)
}

// NewDelivery wraps body in the headers of a Standard Webhooks delivery sent
// at now: Content-Type, webhook-id (a fresh msg_ id) and webhook-timestamp,
// and webhook-signature "v1,<base64>" when secret is set.
func NewDelivery(body []byte, secret string, now time.Time) (*webhook.RawDelivery, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	id := "msg_" + uuid.NewString()
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	if secret != "" {
		key, err := decodeSecret(secret)
		if err != nil {
			return nil, err
		}
		h.Set("webhook-signature", signature.SignKey(key, id, now, body))
	}
	return &webhook.RawDelivery{Header: h, Body: body, ReceivedAt: now}, nil
}

// decodeSecret returns the key of a "whsec_<base64>" secret.
func decodeSecret(secret string) ([]byte, error) {
	key, err := signature.DecodeSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook secret (HF_WEBHOOK_SECRET): %w", err)
	}
	return key, nil
}

// Send POSTs d to target like a relay's forward: the body and signed headers
// as they are, an answer awaited at most timeout.
func Send(ctx context.Context, c *http.Client, target string, d *webhook.RawDelivery, timeout time.Duration, userAgent string) (Forward, error) {
	u, err := ParseTarget(target)
	if err != nil {
		return Forward{}, fmt.Errorf("URL %w", err)
	}
	target = u.String()
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if userAgent == "" {
		userAgent = "hf-webhook"
	}
	return Deliver(ctx, c, target, d, timeout, userAgent), nil
}
