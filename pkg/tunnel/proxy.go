package tunnel

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"

	"golang.org/x/net/http/httpproxy"
	"golang.org/x/net/proxy"

	"github.com/hf-cli/hf/pkg/redact"
)

// proxyFor returns the proxy URL for the agent connection to connectAddr:
// explicit if set, else from the environment (HTTPS_PROXY, then ALL_PROXY),
// honouring NO_PROXY. Empty means a direct connection.
func proxyFor(explicit, connectAddr string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	env := cmp.Or(os.Getenv("HTTPS_PROXY"), os.Getenv("https_proxy"), os.Getenv("ALL_PROXY"), os.Getenv("all_proxy"))
	if env == "" {
		return "", nil
	}
	cfg := httpproxy.Config{HTTPSProxy: env, NoProxy: cmp.Or(os.Getenv("NO_PROXY"), os.Getenv("no_proxy"))}
	u, err := cfg.ProxyFunc()(&url.URL{Scheme: "https", Host: connectAddr})
	if err != nil {
		return "", fmt.Errorf("proxy from environment: %w", err)
	}
	if u == nil {
		return "", nil
	}
	return u.String(), nil
}

var registerOnce sync.Once

// registerProxyDialers teaches golang.org/x/net/proxy (which the ngrok SDK
// uses for its proxy URL, and which knows only socks5) the http and https
// schemes: an HTTP CONNECT proxy, reached in clear or over TLS.
func registerProxyDialers() {
	registerOnce.Do(func() {
		for _, scheme := range []string{"http", "https"} {
			proxy.RegisterDialerType(scheme, func(u *url.URL, forward proxy.Dialer) (proxy.Dialer, error) {
				return &connectDialer{proxy: u, forward: forward}, nil
			})
		}
	})
}

// connectDialer dials through an HTTP CONNECT proxy, sending
// Proxy-Authorization: Basic when the proxy URL has userinfo.
type connectDialer struct {
	proxy   *url.URL
	forward proxy.Dialer
}

func (d *connectDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d *connectDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	proxyAddr := d.proxy.Host
	if d.proxy.Port() == "" {
		proxyAddr = net.JoinHostPort(d.proxy.Hostname(), map[string]string{"http": "80", "https": "443"}[d.proxy.Scheme])
	}
	var conn net.Conn
	var err error
	if cd, ok := d.forward.(proxy.ContextDialer); ok {
		conn, err = cd.DialContext(ctx, "tcp", proxyAddr)
	} else {
		conn, err = d.forward.Dial("tcp", proxyAddr)
	}
	if err != nil {
		return nil, fmt.Errorf("dialing proxy %s: %w", redact.Of(d.proxy), err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	conn, err = d.connect(conn, addr)
	if !stop() { // ctx ended during the handshake, which closed conn
		if err == nil {
			_ = conn.Close()
		}
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", redact.Of(d.proxy), err)
	}
	return conn, nil
}

// connect asks the proxy on conn for a tunnel to addr; it closes conn on
// failure.
func (d *connectDialer) connect(conn net.Conn, addr string) (net.Conn, error) {
	if d.proxy.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: d.proxy.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if u := d.proxy.User; u != nil {
		pw, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	}
	if err := req.Write(conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	// A CONNECT response's body is the tunnel itself: never read or close it.
	if resp.StatusCode != http.StatusOK {
		_ = conn.Close()
		return nil, fmt.Errorf("CONNECT %s: %s", addr, resp.Status)
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn keeps bytes the proxy sent right after its response.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
