package tunnel

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.ngrok.com/muxado/v2"
	"golang.ngrok.com/ngrok/v2"
)

// Stream types of the ngrok agent protocol (internal/tunnel/proto in the SDK).
const (
	authReq      muxado.StreamType = 0
	bindReq      muxado.StreamType = 1
	unbindReq    muxado.StreamType = 2
	proxyReq     muxado.StreamType = 3
	heartbeatReq muxado.StreamType = 0xFFFFFFFF
)

const testToken = "2fakeTokenValue_abcdefghijklmnop"

// fakeEdge is a minimal ngrok edge: TLS, a muxado server session, and JSON
// RPCs on typed streams (Auth, Bind, Unbind), heartbeats echoed.
type fakeEdge struct {
	addr, caFile string
	url          string
	authErr      string // AuthResp.Error, e.g. containing ERR_NGROK_105
	bindErr      string // BindResp.Error

	mu       sync.Mutex
	sessions []muxado.TypedStreamSession
	auths    []string // authtokens seen
	wg       sync.WaitGroup
}

func newFakeEdge(t *testing.T, authErr, bindErr string) *fakeEdge {
	t.Helper()
	cert, caPEM := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	e := &fakeEdge{addr: ln.Addr().String(), url: "https://hf-test.ngrok.app", authErr: authErr, bindErr: bindErr}
	e.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(e.caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sess := muxado.NewTypedStreamSession(muxado.Server(c, &muxado.Config{}))
			e.mu.Lock()
			e.sessions = append(e.sessions, sess)
			e.mu.Unlock()
			e.wg.Go(func() { e.serve(sess) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, s := range e.sessions {
			s.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *fakeEdge) serve(sess muxado.TypedStreamSession) {
	for {
		st, err := sess.AcceptTypedStream()
		if err != nil {
			return
		}
		e.wg.Go(func() { e.handle(st) })
	}
}

func (e *fakeEdge) handle(st muxado.TypedStream) {
	defer st.Close()
	var resp any
	switch st.StreamType() {
	case heartbeatReq:
		_, _ = io.Copy(st, st)
		return
	case authReq:
		var req struct {
			Version []string
			Extra   struct{ Authtoken, UserAgent string }
		}
		if json.NewDecoder(st).Decode(&req) != nil {
			return
		}
		e.mu.Lock()
		e.auths = append(e.auths, req.Extra.Authtoken)
		e.mu.Unlock()
		resp = map[string]any{"Version": "3", "ClientId": "sess-1", "Error": e.authErr, "Extra": map[string]any{"Region": "eu"}}
	case bindReq:
		var req struct{ Proto string }
		if json.NewDecoder(st).Decode(&req) != nil {
			return
		}
		resp = map[string]any{"Id": "tun-1", "URL": e.url, "Proto": req.Proto, "Opts": map[string]any{}, "Error": e.bindErr, "Extra": map[string]any{"TunnelID": "tn_1"}}
	case unbindReq:
		if json.NewDecoder(st).Decode(&map[string]any{}) != nil {
			return
		}
		resp = map[string]any{"Error": ""}
	default:
		return
	}
	_ = json.NewEncoder(st).Encode(resp)
}

// proxy opens a connection through the endpoint the agent bound, as the edge
// does for a visitor: a proxy stream with a length-prefixed JSON header.
func (e *fakeEdge) proxy(t *testing.T) net.Conn {
	t.Helper()
	e.mu.Lock()
	sess := e.sessions[len(e.sessions)-1]
	e.mu.Unlock()
	st, err := sess.OpenTypedStream(proxyReq)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(map[string]any{"Id": "tun-1", "ClientAddr": "203.0.113.9:4242", "Proto": "https"})
	if err := binary.Write(st, binary.LittleEndian, int64(len(hdr))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(hdr); err != nil {
		t.Fatal(err)
	}
	return st
}

// ngrok returns a provider pointed at the edge.
func (e *fakeEdge) ngrok() Ngrok {
	return Ngrok{
		Authtoken:      testToken,
		ConnectURL:     e.addr,
		RootCAs:        e.caFile,
		ConnectTimeout: 5 * time.Second,
		AgentOptions:   []ngrok.AgentOption{ngrok.WithHeartbeatInterval(50 * time.Millisecond)},
	}
}

func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake ngrok edge"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestNgrokOpenServesAndCloses(t *testing.T) {
	noLeaks(t)
	// Nothing may reach slog.Default (the SDK warns there about old Go
	// versions unless given a logger).
	var logged strings.Builder
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	edge := newFakeEdge(t, "", "")
	ep, err := edge.ngrok().Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if logged.Len() > 0 {
		t.Errorf("the SDK logged to slog.Default: %s", logged.String())
	}
	if got := ep.URL().String(); got != edge.url {
		t.Errorf("URL = %q, want %q", got, edge.url)
	}
	edge.mu.Lock()
	if len(edge.auths) != 1 || edge.auths[0] != testToken {
		t.Errorf("authtokens seen = %q", edge.auths)
	}
	edge.mu.Unlock()

	// A visitor's bytes reach Accept, and the answer goes back.
	done := make(chan error, 1)
	go func() {
		c, err := ep.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		_, err = c.Write([]byte(strings.ToUpper(string(buf))))
		done <- err
	}()
	visitor := edge.proxy(t)
	if _, err := visitor.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(visitor, got); err != nil || string(got) != "PING" {
		t.Fatalf("visitor read %q, %v", got, err)
	}
	visitor.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if err := ep.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := ep.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ep.Accept(); err == nil {
		t.Error("Accept after Close succeeded")
	}
}

func TestNgrokFailsFastOnNgrokErrors(t *testing.T) {
	tests := []struct {
		name, authErr, bindErr, code, msg string
	}{
		{"malformed token", "The authtoken you specified does not look like a proper ngrok tunnel authtoken.\nYour authtoken: " + testToken + "\n\nERR_NGROK_105\n", "", "ERR_NGROK_105", ""},
		{"unverified account", "Usage of ngrok requires a verified account and authtoken.\n\nERR_NGROK_4018\n", "", "ERR_NGROK_4018", ""},
		{"too many sessions", "Your account is limited to 3 simultaneous ngrok agent sessions.\n\nERR_NGROK_108\n", "", "ERR_NGROK_108", ""},
		{"unknown auth code", "Your agent is too old.\nYour authtoken: " + testToken + "\n\nERR_NGROK_120\n", "", "ERR_NGROK_120", "ngrok ERR_NGROK_120: authentication failed: Your agent is too old."},
		{"url already online", "", "The endpoint 'https://hf-test.ngrok.app' is already online.\n\nERR_NGROK_334\n", "ERR_NGROK_334", ""},
		{"invalid url", "", "Invalid URL.\n\nERR_NGROK_9037\n", "ERR_NGROK_9037", ""},
	}
	noLeaks(t) // once for all: each subtest leaves the SDK's 0.5 s backoff sleeper
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			edge := newFakeEdge(t, tt.authErr, tt.bindErr)
			p := edge.ngrok()
			p.ConnectTimeout = 10 * time.Second // failing fast must not wait for it
			start := time.Now()
			ep, err := p.Open(context.Background())
			elapsed := time.Since(start)
			if err == nil {
				ep.Close()
				t.Fatal("Open succeeded")
			}
			if elapsed > 500*time.Millisecond {
				t.Errorf("Open took %s, want well under a second", elapsed)
			}
			t.Logf("Open failed after %s: %v", elapsed.Round(time.Millisecond), err)
			var ne *NgrokError
			if !errors.As(err, &ne) || ne.Code != tt.code {
				t.Fatalf("err = %#v (%v), want *NgrokError %s", err, err, tt.code)
			}
			want := cmp.Or(tt.msg, "ngrok "+tt.code+": "+ExplainNgrok(tt.code))
			if err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if ne.Err == nil || strings.Contains(ne.Err.Error(), testToken) {
				t.Errorf("wrapped error missing or leaks the token: %v", ne.Err)
			}
		})
	}
}

func TestNgrokConnectTimeout(t *testing.T) {
	noLeaks(t)
	// An "edge" that accepts and hangs up at once: every attempt fails
	// without an ngrok error code, so only the connect timeout ends Open.
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
			c.Close()
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })

	p := Ngrok{Authtoken: testToken, ConnectURL: ln.Addr().String(), ConnectTimeout: 300 * time.Millisecond}
	start := time.Now()
	ep, err := p.Open(context.Background())
	elapsed := time.Since(start)
	if err == nil {
		ep.Close()
		t.Fatal("Open succeeded")
	}
	const want = "ngrok: not connected within 300ms (check network/proxy; ngrok.connect_url)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want prefix %q", err, want)
	}
	if elapsed < 300*time.Millisecond || elapsed > 800*time.Millisecond {
		t.Errorf("Open returned after %s, want about 300ms", elapsed)
	}
	var ne *NgrokError
	if errors.As(err, &ne) {
		t.Errorf("a timeout is not an ngrok rejection: %v", ne)
	}
}

func TestNgrokOpenRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Ngrok
		want string
	}{
		{"no authtoken", Ngrok{}, "ngrok: no authtoken: set NGROK_AUTHTOKEN"},
		{"root CAs missing", Ngrok{Authtoken: "t", RootCAs: filepath.Join(dir, "missing.pem")}, "ngrok.root_cas:"},
		{"root CAs not PEM", Ngrok{Authtoken: "t", RootCAs: notPEM}, "no PEM certificate found"},
		{"proxy scheme unknown", Ngrok{Authtoken: "t", ConnectURL: "127.0.0.1:1", Proxy: "gopher://proxy:70"}, "unknown scheme: gopher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			start := time.Now()
			_, err := tt.p.Open(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
			if time.Since(start) > 200*time.Millisecond {
				t.Errorf("took %s; bad settings should fail without trying", time.Since(start))
			}
		})
	}
}

func TestNgrokRootCAsReplacesTrust(t *testing.T) {
	noLeaks(t)
	edge := newFakeEdge(t, "", "")
	other := newFakeEdge(t, "", "")
	p := edge.ngrok()
	p.RootCAs = other.caFile // trusts a different CA: every handshake fails
	p.ConnectTimeout = 300 * time.Millisecond
	_, err := p.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not connected within 300ms") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a timeout caused by certificate verification", err)
	}
}

func TestExplainNgrok(t *testing.T) {
	tests := []struct{ code, want string }{
		{"ERR_NGROK_4018", "set NGROK_AUTHTOKEN from https://dashboard.ngrok.com/get-started/your-authtoken"},
		{"4018", "account not verified"},
		{"ERR_NGROK_105", "malformed"},
		{"ERR_NGROK_107", "invalid or was revoked"},
		{"ERR_NGROK_108", "close other ngrok agents"},
		{"ERR_NGROK_313", "paid ngrok plan"},
		{"ERR_NGROK_334", "another hf or ngrok uses it; pick another ngrok.url or stop that one"},
		{"ERR_NGROK_9037", "ngrok.url is not a valid"},
		{"ERR_NGROK_1234", "ngrok error ERR_NGROK_1234"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got := ExplainNgrok(tt.code)
			if !strings.Contains(got, tt.want) || strings.Contains(got, "\n") {
				t.Errorf("ExplainNgrok(%q) = %q, want one line containing %q", tt.code, got, tt.want)
			}
		})
	}
}
