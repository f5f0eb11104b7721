package hftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Faults of the network kind, beyond the answers Fault can replace:
//
//   - Fault.Hang holds the request and never answers, until the client
//     gives up (its context ends or it closes the connection) or the server
//     closes. The hit is recorded with Status 0. It models a status GET or
//     a submit that the API (or a proxy) swallows.
//   - Fault.Overlong answers the real response with its real
//     Content-Length, then writes that many more bytes on the connection:
//     a server that lies about its length. Go's HTTP client reports the
//     extra bytes through the standard logger unless hf silences it.
//   - Fault.Delay handles the request normally (a submit creates and
//     charges its job at once), then holds the answer this long before
//     sending it, unless the client gives up first (the hit is then
//     recorded with Status 0): an API, or a proxy, that is slow to answer.

// hang blocks until the client goes away or the server closes.
func (s *Server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
}

// delayed answers with handle's response, d after handling the request.
func (s *Server) delayed(w http.ResponseWriter, r *http.Request, d time.Duration, handle http.HandlerFunc) {
	rec := httptest.NewRecorder()
	handle(rec, r)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	case <-s.ctx.Done():
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// overlong answers with handle's response, its Content-Length, and extra
// bytes after the body, then keeps the connection open briefly so the
// client reads them while it considers the connection idle.
func (s *Server) overlong(w http.ResponseWriter, r *http.Request, extra int, handle http.HandlerFunc) {
	rec := httptest.NewRecorder()
	handle(rec, r)
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	body := rec.Body.Bytes()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	rec.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_ = rec.Header().Write(buf)
	buf.WriteString("\r\n")
	buf.Write(body)
	buf.Write(bytes.Repeat([]byte("X"), extra))
	_ = buf.Flush()
	select {
	case <-time.After(200 * time.Millisecond):
	case <-s.ctx.Done():
	}
}

// Redeliver POSTs the job's current status body to its webhook URL n times
// at once, each with its own webhook-id, unsigned (as a forger or a
// misconfigured sender would: no webhook-signature header, whatever the
// server's secret), and returns how many were answered 2xx. It counts in
// Deliveries. The job must have been submitted with hf_webhook.
func (s *Server) Redeliver(id string, n int) (int, error) {
	s.mu.Lock()
	j := s.jobs[id]
	if j == nil || j.info.Webhook == "" {
		s.mu.Unlock()
		return 0, fmt.Errorf("hftest: no job %s with a webhook", id)
	}
	hook, body := j.info.Webhook, s.statusBody(j, time.Now())
	s.deliveries += n
	s.mu.Unlock()
	payload, _ := json.Marshal(body)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, hook, bytes.NewReader(payload))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "hftest-webhook")
			req.Header.Set("webhook-id", fmt.Sprintf("msg_flood_%s_%d", id, i))
			req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
			resp, err := s.client.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok, nil
}

// IdleConns opens n TCP connections to addr (host:port) and holds them
// open without finishing a request, the way a client starving a server's
// connection slots would. With probe set, each first sends a complete
// request for probe (a path such as "/nope") and reads the answer, then
// stays connected and silent. It returns how many connections opened and
// a function closing them all.
func IdleConns(addr string, n int, probe string) (int, func()) {
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return
			}
			if probe != "" {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", probe, addr)
				if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
					resp.Body.Close()
				}
				_ = c.SetDeadline(time.Time{})
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return len(conns), func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		conns = nil
	}
}
