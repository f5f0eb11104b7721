package job

import (
	"time"
)

// Kind names what happened in a job's lifecycle.
type Kind string

// Event kinds, in the order a job usually emits them.
const (
	// TunnelReady: a webhook endpoint is up; URL is its public URL (without the secret path).
	TunnelReady Kind = "tunnel_ready"
	// Warning: something degraded but the job goes on (Message says what).
	Warning Kind = "warning"
	// Submitted: the API accepted the request; RequestID is known and journaled.
	Submitted Kind = "submitted"
	// Retry: an API call failed and will be retried (Attempt, Err, Delay).
	Retry Kind = "retry"
	// StatusChanged: the request moved to Status (emitted once per change).
	StatusChanged Kind = "status"
	// WebhookReceived: a delivery for this request arrived (before confirmation).
	WebhookReceived Kind = "webhook_received"
	// Completed: the request reached a terminal status (Status, NotifiedBy).
	Completed Kind = "completed"
	// DownloadStarted: output Index began downloading to Path (Total may be -1).
	DownloadStarted Kind = "download_started"
	// DownloadProgress: Bytes of Total written for output Index.
	DownloadProgress Kind = "download_progress"
	// Downloaded: output Index is complete at Path.
	Downloaded Kind = "downloaded"
	// Detached: the user interrupted a running request; it goes on server-side.
	Detached Kind = "detached"
)

// Event is one typed step of a job, handed to a renderer. The engine never
// prints; it emits these.
type Event struct {
	Kind       Kind
	Time       time.Time
	RequestID  string
	Model      string
	Status     string
	NotifiedBy string
	// URL is the tunnel's public URL (TunnelReady) or an output's URL.
	URL     string
	Path    string
	Index   int // 1-based output index for download events
	Count   int // number of outputs for download events
	Bytes   int64
	Total   int64 // -1 when unknown
	Attempt int
	Delay   time.Duration
	Err     error
	Message string
}

// Sink receives events. It must not block for long.
type Sink func(Event)
