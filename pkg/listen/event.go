package listen

import (
	"encoding/json"
	"time"
)

// Kind names what happened.
type Kind string

// Event kinds.
const (
	// Received: a delivery arrived and was checked (Delivery: verified,
	// rejected or unverified; Forwards still empty).
	Received Kind = "received"
	// Forwarded: one target answered or failed (Delivery, Forward).
	Forwarded Kind = "forwarded"
	// Answered: the sender got Delivery.Answer; Delivery is complete. This is
	// the event --json prints.
	Answered Kind = "answered"
	// TunnelDown: the tunnel session dropped (Err), or a reconnect attempt
	// failed (Attempt > 1); deliveries cannot arrive meanwhile.
	TunnelDown Kind = "tunnel_down"
	// TunnelUp: the session is back after Down; URL is the public webhook
	// URL, Changed says whether it differs from before.
	TunnelUp Kind = "tunnel_up"
	// Checking: the public URL (URL) did not answer this host's first
	// check at once; hf goes on checking for up to Down before it is ready.
	Checking Kind = "checking"
	// Warning: something degraded; Message says what.
	Warning Kind = "warning"
)

// Event is one step of hf listen, handed to a renderer.
type Event struct {
	Kind     Kind
	Time     time.Time
	Delivery *Delivery
	Forward  *Forward
	URL      string
	Changed  bool
	Attempt  int
	Down     time.Duration
	Err      error
	Message  string
}

// Delivery is what hf listen did with one webhook delivery. It is also the
// NDJSON object `hf listen --json` prints per delivery.
type Delivery struct {
	Time      time.Time `json:"time"`
	WebhookID string    `json:"webhook_id"`
	RequestID string    `json:"request_id,omitempty"`
	Status    string    `json:"status,omitempty"`
	// Outputs counts the output URLs in the body by kind: image, video,
	// audio, file.
	Outputs map[string]int `json:"outputs,omitempty"`
	// Signed: the delivery carried a webhook-signature header.
	Signed bool `json:"signed"`
	// Verified: its signature and timestamp were checked against the secret
	// and are good. Without a secret nothing is verified.
	Verified bool `json:"verified"`
	// Rejected is why a delivery was refused (answered 401, not forwarded).
	Rejected string    `json:"rejected,omitempty"`
	Forwards []Forward `json:"forwards"`
	// Answer is the status code the sender got; 0 when it got none (it
	// hung up, or hf stopped with the forward still waiting).
	Answer int `json:"answer"`
	// Saved is the file the delivery was written to (--save).
	Saved string `json:"saved,omitempty"`
}

// Forward is one target's answer to a forwarded delivery.
type Forward struct {
	URL string `json:"url"`
	// Code is the target's status code; 0 when it gave none (refused,
	// timed out).
	Code    int           `json:"code"`
	Latency time.Duration `json:"-"`
	Error   string        `json:"error,omitempty"`
	// Location is where a 3xx answer points (resolved against the URL);
	// redirects are not followed, as a webhook sender does not follow them.
	Location string `json:"location,omitempty"`
}

// OK reports whether the target answered 2xx.
func (f Forward) OK() bool { return f.Code >= 200 && f.Code < 300 }

// MarshalJSON adds latency_ms.
func (f Forward) MarshalJSON() ([]byte, error) {
	type plain Forward
	return json.Marshal(struct {
		plain
		LatencyMS float64 `json:"latency_ms"`
	}{plain(f), float64(f.Latency.Microseconds()) / 1000})
}
