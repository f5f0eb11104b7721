// Package ngroktest owns an in-process fake of the ngrok edge, for tests
// that run the real ngrok agent (golang.ngrok.com/ngrok/v2) offline: TLS
// with its own CA, a muxado session per agent connection, the Auth, Bind and
// Unbind RPCs, heartbeats, and an HTTP front on loopback whose connections
// reach the bound endpoint the way visitors' do. Knobs reject the session or
// the bind with an ngrok error, drop every session (a network failure), and
// refuse reconnects.
package ngroktest

import (
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
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.ngrok.com/muxado/v2"
)

// Stream types of the ngrok agent protocol (internal/tunnel/proto in the SDK).
const (
	authReq      muxado.StreamType = 0
	bindReq      muxado.StreamType = 1
	unbindReq    muxado.StreamType = 2
	proxyReq     muxado.StreamType = 3
	heartbeatReq muxado.StreamType = 0xFFFFFFFF
)

// Options configure an Edge.
type Options struct {
	// Dir receives the CA certificate file (required).
	Dir string
	// AuthErr is the Auth RPC's error, e.g. a message ending in ERR_NGROK_105.
	AuthErr string
	// BindErr is the Bind RPC's error, e.g. one ending in ERR_NGROK_334.
	BindErr string
	// URL is the endpoint URL the edge assigns; empty means the HTTP front's
	// URL, so that requests to it reach the agent.
	URL string
}

// Edge is a running fake edge. Addr is the agent connect address, CAFile
// the PEM file to trust for it, URL the endpoint URL it assigns, and
// FrontURL the loopback HTTP address visitors use.
type Edge struct {
	Addr, CAFile, URL, FrontURL string

	authErr, bindErr string
	ln, front        net.Listener

	mu       sync.Mutex
	sessions []*agentSession
	auths    []string
	binds    int
	refuse   bool
	closed   bool
	wg       sync.WaitGroup
}

type agentSession struct {
	sess  muxado.TypedStreamSession
	conn  net.Conn
	bound bool
}

// Start runs an edge on two loopback listeners.
func Start(o Options) (*Edge, error) {
	cert, caPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	e := &Edge{authErr: o.AuthErr, bindErr: o.BindErr, CAFile: filepath.Join(o.Dir, "ngrok-edge-ca.pem")}
	if err := os.WriteFile(e.CAFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	if e.ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}); err != nil {
		return nil, err
	}
	if e.front, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		e.ln.Close()
		return nil, err
	}
	e.Addr = e.ln.Addr().String()
	e.FrontURL = "http://" + e.front.Addr().String()
	e.URL = o.URL
	if e.URL == "" {
		e.URL = e.FrontURL
	}
	e.wg.Go(e.acceptAgents)
	e.wg.Go(e.acceptVisitors)
	return e, nil
}

// Close stops the edge and waits for its goroutines.
func (e *Edge) Close() {
	e.mu.Lock()
	e.closed = true
	for _, s := range e.sessions {
		s.sess.Close()
	}
	e.mu.Unlock()
	e.ln.Close()
	e.front.Close()
	e.wg.Wait()
}

// Auths returns the authtokens agents presented, one per Auth RPC.
func (e *Edge) Auths() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.auths...)
}

// Binds returns how many Bind RPCs succeeded (a reconnect rebinds).
func (e *Edge) Binds() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.binds
}

// Drop closes every agent connection at once, as a network failure does;
// the agent notices and reconnects.
func (e *Edge) Drop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		s.bound = false
		s.conn.Close()
	}
}

// Refuse makes the edge hang up on new agent connections (true) or serve
// them again (false).
func (e *Edge) Refuse(refuse bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refuse = refuse
}

func (e *Edge) acceptAgents() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		if e.refuse || e.closed {
			e.mu.Unlock()
			c.Close()
			continue
		}
		s := &agentSession{sess: muxado.NewTypedStreamSession(muxado.Server(c, &muxado.Config{})), conn: c}
		e.sessions = append(e.sessions, s)
		e.mu.Unlock()
		e.wg.Go(func() { e.serve(s) })
	}
}

func (e *Edge) serve(s *agentSession) {
	defer s.sess.Close()
	for {
		st, err := s.sess.AcceptTypedStream()
		if err != nil {
			return
		}
		e.wg.Go(func() { e.handle(s, st) })
	}
}

func (e *Edge) handle(s *agentSession, st muxado.TypedStream) {
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
		if e.bindErr == "" {
			e.mu.Lock()
			e.binds++
			s.bound = true
			e.mu.Unlock()
		}
		resp = map[string]any{"Id": "tun-1", "URL": e.URL, "Proto": req.Proto, "Opts": map[string]any{}, "Error": e.bindErr, "Extra": map[string]any{"TunnelID": "tn_1"}}
	case unbindReq:
		if json.NewDecoder(st).Decode(&map[string]any{}) != nil {
			return
		}
		e.mu.Lock()
		s.bound = false
		e.mu.Unlock()
		resp = map[string]any{"Error": ""}
	default:
		return
	}
	_ = json.NewEncoder(st).Encode(resp)
}

// ErrOffline is Visit's error while no agent has the endpoint bound.
var ErrOffline = errors.New("ngroktest: the endpoint is offline (ERR_NGROK_3200)")

// Visit opens a connection to the bound endpoint, as the edge does for a
// visitor: a proxy stream with a length-prefixed JSON header, on the newest
// session that has the endpoint bound.
func (e *Edge) Visit() (net.Conn, error) {
	e.mu.Lock()
	var s *agentSession
	for i := len(e.sessions) - 1; i >= 0; i-- {
		if e.sessions[i].bound {
			s = e.sessions[i]
			break
		}
	}
	e.mu.Unlock()
	if s == nil {
		return nil, ErrOffline
	}
	st, err := s.sess.OpenTypedStream(proxyReq)
	if err != nil {
		return nil, err
	}
	hdr, _ := json.Marshal(map[string]any{"Id": "tun-1", "ClientAddr": "203.0.113.9:4242", "Proto": "https"})
	if err := binary.Write(st, binary.LittleEndian, int64(len(hdr))); err != nil {
		st.Close()
		return nil, err
	}
	if _, err := st.Write(hdr); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// acceptVisitors pipes each connection to the front into a Visit, or
// answers 404 with ERR_NGROK_3200 when the endpoint is offline, as ngrok's
// edge does.
func (e *Edge) acceptVisitors() {
	for {
		c, err := e.front.Accept()
		if err != nil {
			return
		}
		e.wg.Go(func() {
			defer c.Close()
			up, err := e.Visit()
			if err != nil {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				const page = "The endpoint is offline.\n"
				fmt.Fprintf(c, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nNgrok-Error-Code: ERR_NGROK_3200\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(page), page)
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(up, c)
				close(done)
			}()
			_, _ = io.Copy(c, up)
			c.Close()
			up.Close()
			<-done
		})
	}
}

func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
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
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
