package webhook

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Listener is where a Server accepts deliveries: a net.Listener plus the
// public base URL that leads to it (a tunnel.Endpoint is one).
type Listener interface {
	net.Listener
	URL() *url.URL
}

// limits are the server's protections against slow or greedy clients
// (see guard for how the connection limits work).
type limits struct {
	readHeader, read, write, idle, shutdown time.Duration
	// maxConns is where pressure starts; hardConns is the most open at once.
	maxConns, hardConns int
	// pressureHeader bounds the wait for request headers under pressure.
	pressureHeader time.Duration
}

var defaultLimits = limits{
	readHeader:     5 * time.Second,
	read:           10 * time.Second,
	write:          10 * time.Second,
	idle:           30 * time.Second,
	shutdown:       2 * time.Second,
	maxConns:       64,
	hardConns:      256,
	pressureHeader: time.Second,
}

// Server runs a Receiver on an Endpoint.
type Server struct {
	ep    Listener
	srv   *http.Server
	url   string
	grace time.Duration
	guard *guard
	conns sync.WaitGroup
	done  chan struct{}
	once  sync.Once
	err   error
}

// Serve starts serving r on ep: header/read/write/idle timeouts of
// 5/10/10/30 s, 16 KiB of headers; from 64 open connections on, idle ones
// are closed and headers get 1 s; at 256 the oldest connection not mid-
// request makes room for a new one (SECURITY.md has the figures).
func Serve(ep Listener, r *Receiver) *Server { return serve(ep, r, defaultLimits) }

// serve serves h (a Receiver, or any handler of raw.go) on ep within l.
func serve(ep Listener, h PathHandler, l limits) *Server {
	s := &Server{ep: ep, url: ep.URL().JoinPath(h.Path()).String(), grace: l.shutdown, done: make(chan struct{})}
	s.guard = newGuard(ep, l)
	s.srv = &http.Server{
		Handler:           stripBase(ep.URL().Path, h),
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnState: func(c net.Conn, st http.ConnState) {
			s.guard.state(c, st)
			switch st {
			case http.StateNew:
				s.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.conns.Done()
			}
		},
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(s.guard)
	}()
	return s
}

// stripBase lets a public URL with a path (https://host/relay) work whether
// or not the reverse proxy in front strips that path.
func stripBase(base string, h http.Handler) http.Handler {
	base = strings.TrimSuffix(base, "/")
	if base == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if rest, ok := strings.CutPrefix(req.URL.Path, base); ok && strings.HasPrefix(rest, "/") {
			req = req.Clone(req.Context())
			req.URL.Path, req.URL.RawPath = rest, ""
		}
		h.ServeHTTP(w, req)
	})
}

// Done is closed when the server stops serving: after Close, or when the
// endpoint fails (the tunnel was lost).
func (s *Server) Done() <-chan struct{} { return s.done }

// URL is the public URL of the receiver, the value for hf_webhook.
func (s *Server) URL() string { return s.url }

// Close stops the server (gracefully for at most 2 s, then abruptly), closes
// the endpoint, and returns once every connection has ended. Later calls
// return the first result.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.grace)
		defer cancel()
		if err := s.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			_ = s.srv.Close()
		}
		if err := s.guard.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.err = err
		}
		<-s.done
		s.conns.Wait()
	})
	return s.err
}
