package tunnel

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

// connectProxy is a tiny HTTP CONNECT proxy; with auth set it demands
// Proxy-Authorization: Basic auth.
type connectProxy struct {
	addr    string
	mu      sync.Mutex
	targets []string
}

func newConnectProxy(t *testing.T, user, pass string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				if u, pw, ok := proxyBasicAuth(req); user != "" && (!ok || u != user || pw != pass) {
					io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
					return
				}
				track(up)
				defer up.Close()
				p.mu.Lock()
				p.targets = append(p.targets, req.Host)
				p.mu.Unlock()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go func() { io.Copy(up, br); up.Close() }()
				io.Copy(c, up)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func proxyBasicAuth(r *http.Request) (string, string, bool) {
	r2 := &http.Request{Header: http.Header{"Authorization": r.Header["Proxy-Authorization"]}}
	return r2.BasicAuth()
}

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); io.Copy(c, c) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func TestConnectDialer(t *testing.T) {
	registerProxyDialers()
	tests := []struct {
		name       string
		user, pass string // what the proxy demands
		userinfo   string // what the proxy URL carries
		err        string
	}{
		{"open proxy", "", "", "", ""},
		{"basic auth", "alice", "s3cret:x", "alice:s3cret%3Ax@", ""},
		{"no credentials", "alice", "s3cret", "", "407 Proxy Authentication Required"},
		{"wrong password", "alice", "s3cret", "alice:nope@", "407"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			target := echoServer(t)
			px := newConnectProxy(t, tt.user, tt.pass)
			u, _ := url.Parse("http://" + tt.userinfo + px.addr)
			d, err := proxy.FromURL(u, proxy.Direct)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := d.(proxy.ContextDialer).DialContext(context.Background(), "tcp", target)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "nope") || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error leaks the proxy password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "ping")
			buf := make([]byte, 4)
			if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("echo = %q, %v", buf, err)
			}
			if got := px.seen(); len(got) != 1 || got[0] != target {
				t.Errorf("CONNECT targets = %q, want %q", got, target)
			}
		})
	}
}

func TestConnectDialerHonoursContext(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a proxy that never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := &connectDialer{proxy: &url.URL{Scheme: "http", Host: ln.Addr().String()}, forward: proxy.Direct}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.DialContext(ctx, "tcp", "example.com:443")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

func TestProxyFor(t *testing.T) {
	const connect = "connect.ngrok-agent.com:443"
	tests := []struct {
		name     string
		explicit string
		env      map[string]string
		want     string
	}{
		{"none", "", nil, ""},
		{"explicit wins", "socks5://127.0.0.1:1080", map[string]string{"HTTPS_PROXY": "http://env:3128"}, "socks5://127.0.0.1:1080"},
		{"HTTPS_PROXY", "", map[string]string{"HTTPS_PROXY": "http://env:3128"}, "http://env:3128"},
		{"https_proxy", "", map[string]string{"https_proxy": "http://lower:3128"}, "http://lower:3128"},
		{"ALL_PROXY fallback", "", map[string]string{"ALL_PROXY": "socks5://all:1080"}, "socks5://all:1080"},
		{"no scheme means http", "", map[string]string{"HTTPS_PROXY": "env:3128"}, "http://env:3128"},
		{"NO_PROXY excludes the connect host", "", map[string]string{"HTTPS_PROXY": "http://env:3128", "NO_PROXY": ".ngrok-agent.com"}, ""},
		{"NO_PROXY for others", "", map[string]string{"HTTPS_PROXY": "http://env:3128", "NO_PROXY": "example.com"}, "http://env:3128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"} {
				t.Setenv(k, tt.env[k])
			}
			got, err := proxyFor(tt.explicit, connect)
			if err != nil || got != tt.want {
				t.Fatalf("proxyFor = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNgrokThroughConnectProxy(t *testing.T) {
	noLeaks(t)
	edge := newFakeEdge(t, "", "")
	px := newConnectProxy(t, "hf", "pw")
	p := edgeNgrok(edge)
	p.Proxy = "http://hf:pw@" + px.addr
	ep, err := p.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	if got := px.seen(); len(got) != 1 || got[0] != edge.Addr {
		t.Errorf("proxy saw CONNECT %q, want %q", got, edge.Addr)
	}
}
