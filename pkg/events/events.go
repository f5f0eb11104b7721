// Package events owns the typed steps a job reports while it runs (Event,
// Kind) and the Sink they are handed to. It is a leaf: the engine emits
// events, renderers draw them, and neither needs the other.
package events

import "time"

// Kind names what happened in a job's lifecycle.
type Kind string

// Event kinds, in the order a job usually emits them.
const (
	// TunnelOpening: a webhook endpoint that may take seconds (ngrok) is
	// being opened (Tunnel.Provider).
	TunnelOpening Kind = "tunnel_opening"
	// TunnelReady: a webhook endpoint is up (Tunnel).
	TunnelReady Kind = "tunnel_ready"
	// Warning: something degraded but the job goes on (Text says what).
	Warning Kind = "warning"
	// Submitted: the API accepted the request; RequestID is known and journaled.
	Submitted Kind = "submitted"
	// Retry: an API call failed and will be retried (Retry).
	Retry Kind = "retry"
	// StatusChanged: the request moved to Status (emitted once per change).
	StatusChanged Kind = "status"
	// WebhookReceived: a delivery for this request arrived (before confirmation).
	WebhookReceived Kind = "webhook_received"
	// Completed: the request reached a terminal Status (Outcome).
	Completed Kind = "completed"
	// DownloadStarted: an output began downloading (Download; Total may be -1).
	DownloadStarted Kind = "download_started"
	// DownloadProgress: Download.Bytes of Download.Total written.
	DownloadProgress Kind = "download_progress"
	// Downloaded: an output is complete at Download.Path.
	Downloaded Kind = "downloaded"
	// Detached: the user interrupted a running request; it goes on
	// server-side, or was canceled while queued (Text says which).
	Detached Kind = "detached"
)

// Event is one typed step of a job, handed to a renderer. The engine never
// prints; it emits these. Besides the common fields, each kind fills its
// own group (see the kinds).
type Event struct {
	Kind      Kind
	Time      time.Time
	RequestID string
	Model     string
	Status    string

	// Text is the human sentence of a Warning or Detached event.
	Text     string
	Tunnel   Tunnel
	Retry    RetryInfo
	Outcome  Outcome
	Download Download
}

// Tunnel describes the endpoint of a TunnelReady event.
type Tunnel struct {
	// Provider is the endpoint's provider: static or ngrok.
	Provider string
	// PublicURL is the endpoint's public URL, without the secret path.
	PublicURL string
	// OpenedIn is how long opening it took.
	OpenedIn time.Duration
}

// RetryInfo describes a Retry event.
type RetryInfo struct {
	// Op is the call that failed: "submit", "status check", ...
	Op  string
	Err error
	// Attempt is the 1-based attempt that failed (0 when unknown).
	Attempt int
	// Delay is the wait before the next attempt (0 when unknown).
	Delay time.Duration
}

// Outcome describes a Completed event.
type Outcome struct {
	// NotifiedBy says how hf learned the result: webhook or poll.
	NotifiedBy string
	// Reason is the API's error message for a failed request.
	Reason string
}

// Download describes the download events of one output.
type Download struct {
	Index int // 1-based output index
	Count int // number of outputs
	URL   string
	Path  string
	Bytes int64
	Total int64 // -1 when unknown
}

// Sink receives events. It must not block for long.
type Sink func(Event)
