package webhook

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// guard keeps the receiver reachable for real deliveries however many
// connections others hold open. It replaces a plain connection limit, under
// which 64 silent connections (no secret needed) starved the receiver:
//
//   - Accept never blocks on a full house: a new connection is always taken,
//     and when hard connections are open, the oldest one that has not sent a
//     request yet, or sits idle between requests, is closed to make room
//     (the newcomer itself if every other one is mid-request).
//   - Under pressure (soft or more open), connections idle between requests
//     are closed at once and connections that have not finished their
//     request headers within pressureHeader are closed, checked every
//     pressureHeader/4.
//   - Answers to a wrong path or method close their connection (the
//     receiver sets Connection: close), so probing costs no slot.
//
// A delivery on the secret path sends its request as soon as it connects,
// so it gets in within about pressureHeader even under a flood.
type guard struct {
	net.Listener
	soft, hard     int
	pressureHeader time.Duration

	mu    sync.Mutex
	conns map[net.Conn]*connInfo
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type connInfo struct {
	state http.ConnState
	since time.Time // of the current state
}

func newGuard(ln net.Listener, l limits) *guard {
	g := &guard{
		Listener: ln, soft: max(l.maxConns, 1), hard: max(l.hardConns, l.maxConns, 1),
		pressureHeader: l.pressureHeader,
		conns:          map[net.Conn]*connInfo{},
		stop:           make(chan struct{}), done: make(chan struct{}),
	}
	if g.pressureHeader <= 0 {
		g.pressureHeader = time.Second
	}
	go g.sweeper()
	return g
}

// Accept takes the next connection, making room for it when the house is full.
func (g *guard) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		g.mu.Lock()
		if len(g.conns) >= g.hard && !g.shedOldestLocked() {
			g.mu.Unlock()
			_ = c.Close()
			continue
		}
		g.conns[c] = &connInfo{state: http.StateNew, since: time.Now()}
		g.mu.Unlock()
		return c, nil
	}
}

// state follows http.Server's ConnState hook.
func (g *guard) state(c net.Conn, st http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(g.conns, c)
		return
	}
	ci, ok := g.conns[c]
	if !ok {
		return
	}
	if ci.state != st {
		ci.state, ci.since = st, time.Now()
	}
	if st == http.StateIdle && len(g.conns) >= g.soft {
		_ = c.Close()
	}
}

// shedOldestLocked closes the oldest connection not in the middle of a
// request and reports whether there was one.
func (g *guard) shedOldestLocked() bool {
	var victim net.Conn
	var oldest time.Time
	for c, ci := range g.conns {
		if ci.state == http.StateActive {
			continue
		}
		if victim == nil || ci.since.Before(oldest) {
			victim, oldest = c, ci.since
		}
	}
	if victim == nil {
		return false
	}
	_ = victim.Close()
	delete(g.conns, victim) // the hook's StateClosed finds nothing: fine
	return true
}

// sweeper closes, under pressure, connections idle or slow to send headers.
func (g *guard) sweeper() {
	defer close(g.done)
	t := time.NewTicker(g.pressureHeader / 4)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			g.mu.Lock()
			if len(g.conns) >= g.soft {
				for c, ci := range g.conns {
					if ci.state == http.StateIdle || (ci.state == http.StateNew && now.Sub(ci.since) >= g.pressureHeader) {
						_ = c.Close()
						delete(g.conns, c)
					}
				}
			}
			g.mu.Unlock()
		}
	}
}

// open returns how many connections are open.
func (g *guard) open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Close closes the listener and stops the sweeper.
func (g *guard) Close() error {
	err := g.Listener.Close()
	g.once.Do(func() { close(g.stop); <-g.done })
	return err
}
