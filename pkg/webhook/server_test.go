package webhook

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/tunnel"
)

// noLeaks fails t if goroutines started during it are still running shortly
// after it ends.
func noLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func localEndpoint(t *testing.T) tunnel.Endpoint {
	t.Helper()
	ep, err := tunnel.Static{Listen: "127.0.0.1:0"}.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// client returns an HTTP client whose connections go when the test ends.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func send(t *testing.T, c *http.Client, method, u, b string, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

func TestServeRoundTrip(t *testing.T) {
	noLeaks(t)
	clk := newClock()
	r := recv(t, Options{Secret: testSecret, Now: clk.Now})
	ep := localEndpoint(t)
	s := Serve(ep, r)
	if want := "http://" + ep.Addr().String() + r.Path(); s.URL() != want {
		t.Fatalf("URL = %q, want %q", s.URL(), want)
	}
	c := client(t)
	ch := r.Expect("r1")

	b := `{"request_id":"r1","status":"completed","images":[{"url":"https://cdn.example/a.png"}]}`
	if code, got := send(t, c, "POST", s.URL(), b, signed(clk, "msg_1", b)); code != 200 || got != "{\"ok\":true}\n" {
		t.Fatalf("POST = %d %q", code, got)
	}
	select {
	case d := <-ch:
		if !d.Verified || d.Status.Status != "completed" || len(d.Status.Outputs) != 1 {
			t.Errorf("delivery = %+v", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no delivery")
	}
	if code, _ := send(t, c, "POST", strings.TrimSuffix(s.URL(), r.Path())+"/hf/guess", b, nil); code != 404 {
		t.Errorf("wrong path = %d, want 404", code)
	}
	if code, _ := send(t, c, "GET", s.URL(), "", nil); code != 405 {
		t.Errorf("GET = %d, want 405", code)
	}

	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Post(s.URL(), "application/json", strings.NewReader(b)); err == nil {
		t.Error("POST after Close succeeded")
	}
}

// pathEndpoint announces a public URL with a base path.
type pathEndpoint struct {
	net.Listener
	u *url.URL
}

func (e pathEndpoint) URL() *url.URL { return e.u }

func TestServeUnderABasePath(t *testing.T) {
	noLeaks(t)
	r := recv(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(pathEndpoint{ln, &url.URL{Scheme: "https", Host: "hooks.example.com", Path: "/relay/"}}, r)
	defer s.Close()
	if want := "https://hooks.example.com/relay" + r.Path(); s.URL() != want {
		t.Errorf("URL = %q, want %q", s.URL(), want)
	}
	local := "http://" + ln.Addr().String()
	c := client(t)
	tests := []struct {
		name, path string
		code       int
	}{
		{"proxy keeps the base path", "/relay" + r.Path(), 200},
		{"proxy strips the base path", r.Path(), 200},
		{"other path under base", "/relay/hf/guess", 404},
		{"base path lookalike", "/relayx" + r.Path(), 404},
	}
	for _, tt := range tests {
		if code, _ := send(t, c, "POST", local+tt.path, body("r1", "completed"), nil); code != tt.code {
			t.Errorf("%s: %s = %d, want %d", tt.name, tt.path, code, tt.code)
		}
	}
}

func TestServeCutsSlowClients(t *testing.T) {
	short := limits{readHeader: 100 * time.Millisecond, read: 300 * time.Millisecond, write: 300 * time.Millisecond, idle: 300 * time.Millisecond, shutdown: 2 * time.Second, maxConns: 64}
	done := body("r1", "completed")
	tests := []struct {
		name     string
		first    string // sent at once
		trickle  string // then one byte every 20ms
		forwards int
	}{
		{"slow headers", "POST {path} HTTP/1.1\r\nHost: x\r\n", strings.Repeat("X-Slow: a\r\n", 20), 0},
		{"slow body", "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n", `{"request_id":"r1","status":"completed","pad":"` + strings.Repeat("x", 150), 0},
		{"idle after a request", "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(done)) + "\r\n\r\n" + done, "", 1},
		{"silent", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			r := recv(t, Options{})
			ch := r.Expect("r1")
			ep := localEndpoint(t)
			s := serve(ep, r, short)
			defer s.Close()
			conn, err := net.Dial("tcp", ep.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				io.WriteString(conn, strings.ReplaceAll(tt.first, "{path}", r.Path()))
				for i := range len(tt.trickle) {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					if _, err := io.WriteString(conn, tt.trickle[i:i+1]); err != nil {
						return
					}
				}
			}()
			start := time.Now()
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			got, err := io.ReadAll(conn) // until the server hangs up
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("server kept the connection for 3s (read %q)", got)
			}
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("cut after %s", elapsed)
			}
			t.Logf("cut after %s, read %q", time.Since(start).Round(time.Millisecond), got)
			if n := len(drain(ch)); n != tt.forwards {
				t.Errorf("forwarded %d deliveries, want %d (response %q)", n, tt.forwards, got)
			}
		})
	}
}

// TestServeUnderIdleConnections: connections held open by someone who does
// not know the secret path (silent, or idle after a 404) never keep a real
// delivery out. The figures are in SECURITY.md; the test logs them.
func TestServeUnderIdleConnections(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		probe string // request sent first on each connection
	}{
		{"64 silent", 64, ""},
		{"64 idle after a 404", 64, "/nope"},
		{"64 idle after a 405 on the secret path", 64, "{path}"},
		{"200 silent", 200, ""}, // also checks the sweep, below
		{"300 silent, past the hard cap", 300, ""},
		{"1000 silent", 1000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			clk := newClock()
			r := recv(t, Options{Secret: testSecret, Now: clk.Now})
			ep := localEndpoint(t)
			s := serve(ep, r, defaultLimits)
			defer s.Close()
			opened, closeIdle := hftest.IdleConns(ep.Addr().String(), tt.n, strings.ReplaceAll(tt.probe, "{path}", r.Path()))
			defer closeIdle()
			if opened != tt.n {
				t.Fatalf("opened %d of %d idle connections", opened, tt.n)
			}
			time.Sleep(50 * time.Millisecond) // let the server take them all
			ch := r.Expect("r1")
			c := client(t)
			b := body("r1", "completed")
			start := time.Now()
			code, _ := send(t, c, "POST", s.URL(), b, signed(clk, "msg_1", b))
			took := time.Since(start)
			if code != 200 || len(drain(ch)) != 1 {
				t.Fatalf("delivery answered %d", code)
			}
			if took > 2*time.Second {
				t.Fatalf("delivery took %s under %d idle connections", took, tt.n)
			}
			if open := s.guard.open(); open > defaultLimits.hardConns {
				t.Fatalf("%d connections open, more than the hard cap %d", open, defaultLimits.hardConns)
			}
			t.Logf("%s: delivery answered in %s; %d connections still open", tt.name, took.Round(time.Millisecond), s.guard.open())
			if tt.n == 200 {
				// Under pressure, silent connections go after pressureHeader.
				deadline := time.Now().Add(defaultLimits.pressureHeader + time.Second)
				for s.guard.open() > 1 && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				if open := s.guard.open(); open > 1 {
					t.Fatalf("%d silent connections survived the sweep", open)
				}
			}
		})
	}
}

// TestServeCapsConnections: past the hard cap the oldest connection that
// is not mid-request makes room, so the count stays bounded and a delivery
// still gets in.
func TestServeCapsConnections(t *testing.T) {
	noLeaks(t)
	r := recv(t, Options{})
	ep := localEndpoint(t)
	l := defaultLimits
	l.maxConns, l.hardConns, l.pressureHeader = 2, 4, time.Hour // no sweeping: only the cap acts
	s := serve(ep, r, l)
	defer s.Close()
	opened, closeIdle := hftest.IdleConns(ep.Addr().String(), 10, "")
	defer closeIdle()
	if opened != 10 {
		t.Fatalf("opened %d", opened)
	}
	time.Sleep(50 * time.Millisecond)
	if open := s.guard.open(); open > 4 {
		t.Fatalf("%d open, cap 4", open)
	}
	ch := r.Expect("r1")
	code, _ := send(t, client(t), "POST", s.URL(), body("r1", "completed"), nil)
	if code != 200 || len(drain(ch)) != 1 {
		t.Fatalf("delivery answered %d", code)
	}
}

// TestWrongPathClosesConnection: a 404 or 405 answer ends its connection.
func TestWrongPathClosesConnection(t *testing.T) {
	noLeaks(t)
	r := recv(t, Options{})
	ep := localEndpoint(t)
	s := serve(ep, r, defaultLimits)
	defer s.Close()
	for _, req := range []string{"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "GET " + r.Path() + " HTTP/1.1\r\nHost: x\r\n\r\n"} {
		conn, err := net.Dial("tcp", ep.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, req)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatalf("connection kept open after %q: %v (read %q)", got, err, got)
		}
	}
}

func TestCloseCutsStragglers(t *testing.T) {
	noLeaks(t)
	r := recv(t, Options{})
	ep := localEndpoint(t)
	l := defaultLimits
	l.shutdown = 100 * time.Millisecond
	s := serve(ep, r, l)
	conn, err := net.Dial("tcp", ep.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST "+r.Path()+" HTTP/1.1\r\nHost: x\r\n") // and nothing more
	time.Sleep(50 * time.Millisecond)                                 // let the server take it
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Close took %s", elapsed)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("connection not closed by Close: %v", err)
	}
}
