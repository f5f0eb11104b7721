// Package hftest owns an in-process fake of the Higgsfield generation API:
// submit, status, cancel, upload, estimate, an asset host on a second origin,
// signed webhook deliveries, and knobs to inject faults and inspect every
// request it saw. Tests across the project use it, and so does the shipped
// binary's --sandbox mode, so it depends on nothing but the standard library,
// github.com/google/uuid and the leaf pkg/signature (Standard Webhooks).
package hftest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Server is a running fake. URL is the API base; AssetURL is the asset and
// upload host, on another port so that it is a different origin.
type Server struct {
	URL      string
	AssetURL string

	creds         string // expected Authorization value; "" accepts anything
	webhookSecret string // signs deliveries ("" unsigned); guarded by mu

	api, assets *http.Server
	serving     sync.WaitGroup // the two Serve loops
	ctx         context.Context
	cancel      context.CancelFunc
	workers     sync.WaitGroup // webhook deliveries in flight
	client      *http.Client   // webhook sender
	closeOnce   sync.Once

	mu         sync.Mutex
	closed     bool
	queued     time.Duration
	running    time.Duration
	outcome    Outcome
	outcomeFn  func(model string, body map[string]any) Outcome
	imgW, imgH int
	faults     map[Endpoint][]Fault
	whFaults   []WebhookFault
	hits       []Hit
	jobs       map[string]*job
	order      []string
	idem       map[string]*job
	uploads    map[string]*upload
	timers     map[string]*time.Timer
	deliveries int
	assetKnobs assetKnobs // see assets.go
	attempts   []WebhookAttempt
	x          extra // uploads.go
}

// Option configures a Server in New.
type Option func(*Server)

// WithCredentials makes the API endpoints demand "Authorization: Key id:secret"
// and answer 401 otherwise. Without it every request is accepted.
func WithCredentials(id, secret string) Option {
	return func(s *Server) { s.creds = "Key " + id + ":" + secret }
}

// WithTiming sets how long new jobs stay queued and then in progress.
func WithTiming(queued, running time.Duration) Option {
	return func(s *Server) { s.queued, s.running = queued, running }
}

// WithWebhookSecret signs webhook deliveries with secret ("whsec_<base64>")
// per Standard Webhooks.
func WithWebhookSecret(secret string) Option {
	return func(s *Server) { s.webhookSecret = secret }
}

// Outcome is how a job ends once its running time is over: Status is
// completed (the default when empty), failed, nsfw or canceled; any other
// string is reported as is. Error is the message of a failed job.
type Outcome struct {
	Status string
	Error  string
}

// Endpoint names a group of routes, for faults and hit counting. StatusEP and
// AssetEP carry a suffix so as not to clash with Job.Status and type Asset.
type Endpoint string

const (
	Submit    Endpoint = "submit"
	StatusEP  Endpoint = "status"
	Cancel    Endpoint = "cancel"
	Upload    Endpoint = "upload"     // POST /files/generate-upload-url
	Estimate  Endpoint = "estimate"   // POST /estimate/{model}
	AssetEP   Endpoint = "asset"      // GET of outputs and uploaded inputs
	UploadPut Endpoint = "upload_put" // PUT to a presigned upload URL
)

// Fault replaces the answer to the next matching requests of an endpoint.
// A fault with neither Status, Drop nor Truncate answers 500.
type Fault struct {
	Endpoint Endpoint
	// Status is the HTTP status to answer, with Body, or with
	// {"detail":"<status text>"} (plus "code":"account_queue_full" for 429).
	Status     int
	Body       string
	RetryAfter string // Retry-After header value
	// Location is sent as the Location header (with a 3xx Status: a redirect).
	Location string
	// Drop hijacks the connection and closes it without any response.
	Drop bool
	// After handles the request normally first (creating and charging a
	// job), then answers with Status or Drop: the lost-response case.
	After bool
	// Truncate sends the real headers (full Content-Length), only this many
	// bytes of the body, then closes the connection.
	Truncate int64
	// Times is how many matching requests the fault applies to; 0 means 1.
	Times int
	// Hang, Overlong and Delay are described in faults.go.
	Hang     bool
	Overlong int
	Delay    time.Duration
}

// WebhookFault changes the webhook deliveries of the next jobs created with
// a webhook URL.
type WebhookFault struct {
	Drop      bool          // never deliver
	Delay     time.Duration // deliver this long after the job became terminal
	Duplicate int           // deliver this many extra copies (same webhook-id)
	Times     int           // number of jobs this applies to; 0 means 1
}

// Hit is one request the fake received. Status is what was answered, 0 for a
// dropped connection.
type Hit struct {
	Endpoint       Endpoint
	Method, Path   string
	Authorization  string
	UserAgent      string
	IdempotencyKey string
	Range          string
	IfRange        string
	AcceptEncoding string
	// Header is every request header as received.
	Header http.Header
	Status int
}

// Asset is one output file of a completed job.
type Asset struct {
	URL, ContentType, SHA256 string
	Size                     int64
}

// Job is a snapshot of one generation. Status is its status now; TerminalAt
// is zero until it is terminal.
type Job struct {
	ID, Model, Status, Webhook, IdempotencyKey string
	Body                                       map[string]any
	Outcome                                    Outcome
	Assets                                     []Asset
	CreatedAt                                  time.Time
	Canceled                                   bool
	TerminalAt                                 time.Time
}

// New starts a fake on two loopback listeners and returns it serving.
func New(opts ...Option) *Server {
	s := &Server{
		queued: 300 * time.Millisecond, running: 500 * time.Millisecond,
		imgW: 256, imgH: 256,
		faults:  map[Endpoint][]Fault{},
		jobs:    map[string]*job{},
		idem:    map[string]*job{},
		uploads: map[string]*upload{},
		timers:  map[string]*time.Timer{},
		client:  &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
	}
	for _, o := range opts {
		o(s)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// Both URLs are known before either server answers: handlers read them.
	apiLn, assetLn := listen(), listen()
	s.URL, s.AssetURL = "http://"+apiLn.Addr().String(), "http://"+assetLn.Addr().String()
	s.api = s.serve(apiLn, s.apiHandler())
	s.assets = s.serve(assetLn, s.assetHandler())
	return s
}

func listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("hftest: listening on loopback: %v", err))
	}
	return ln
}

func (s *Server) serve(ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = srv.Serve(ln)
	}()
	return srv
}

// Close stops both servers, pending webhook timers and deliveries in flight,
// and waits for its goroutines to end. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for id, t := range s.timers {
			t.Stop()
			delete(s.timers, id)
		}
		s.mu.Unlock()
		s.cancel()
		s.workers.Wait()
		_ = s.api.Close()
		_ = s.assets.Close()
		s.serving.Wait()
		s.client.CloseIdleConnections()
	})
}

// SetTiming sets how long jobs created afterwards stay queued and running.
func (s *Server) SetTiming(queued, running time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued, s.running = queued, running
}

// SetWebhookSecret signs webhook deliveries POSTed afterwards with secret
// ("whsec_<base64>"), like WithWebhookSecret; "" sends them unsigned. It is
// safe to call while the server runs.
func (s *Server) SetWebhookSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookSecret = secret
}

// SetOutcome sets the outcome of jobs created afterwards, replacing any
// function given to SetOutcomeFunc.
func (s *Server) SetOutcome(o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome, s.outcomeFn = o, nil
}

// SetOutcomeFunc decides the outcome of each job created afterwards from its
// model and body. It is called without the server's lock held.
func (s *Server) SetOutcomeFunc(f func(model string, body map[string]any) Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomeFn = f
}

// SetImageSize sets the pixel size of images generated afterwards (default
// 256x256). Pixels are noisy, so large sizes give PNGs of several MB.
func (s *Server) SetImageSize(w, h int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.imgW, s.imgH = max(w, 1), max(h, 1)
}

// Inject queues a fault for its endpoint. Faults of one endpoint apply in
// the order they were injected.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f.Endpoint] = append(s.faults[f.Endpoint], f)
}

// ClearFaults drops every fault not consumed yet (API and webhook) and
// returns how many there were.
func (s *Server) ClearFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.whFaults)
	for ep, q := range s.faults {
		for _, f := range q {
			n += max(f.Times, 1)
		}
		delete(s.faults, ep)
	}
	s.whFaults = nil
	return n
}

// InjectWebhook queues a delivery fault for the next jobs created with a
// webhook URL.
func (s *Server) InjectWebhook(f WebhookFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.whFaults = append(s.whFaults, f)
}

// Hits returns every request received so far, in arrival order.
func (s *Server) Hits() []Hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hits)
}

// Count returns how many requests hit endpoint e.
func (s *Server) Count(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		if h.Endpoint == e {
			n++
		}
	}
	return n
}

// Charged returns how many distinct jobs were created. Idempotent replays do
// not count.
func (s *Server) Charged() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// Job returns a snapshot of the job with the given request id.
func (s *Server) Job(id string) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return Job{}, false
	}
	return j.snapshot(time.Now()), true
}

// Jobs returns snapshots of every job, in creation order.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make([]Job, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.jobs[id].snapshot(now))
	}
	return out
}

// Deliveries returns how many webhook POSTs were attempted, retries and
// duplicates included.
func (s *Server) Deliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveries
}
