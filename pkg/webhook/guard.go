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
//   - A full house (hard connections open) does not lock newcomers out:
//     the oldest connection that has not sent a request within minAge, or
//     sits idle between requests, is closed to make room; failing that,
//     Accept waits for a connection to end (honest requests take
//     milliseconds).
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
	freed chan struct{} // a connection went away
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
		freed:          make(chan struct{}, 1),
		stop:           make(chan struct{}), done: make(chan struct{}),
	}
	if g.pressureHeader <= 0 {
		g.pressureHeader = time.Second
	}
	go g.sweeper()
	return g
}

// Accept takes the next connection once there is room for it: fewer than
// hard open, or one open for minAge or more without a request in progress,
// which is closed to make room. Meanwhile newcomers wait in the kernel's
// backlog; honest requests finish in milliseconds, silent ones are swept.
func (g *guard) Accept() (net.Conn, error) {
	for {
		g.mu.Lock()
		room := len(g.conns) < g.hard || g.shedOldestLocked(time.Now().Add(-minAge))
		g.mu.Unlock()
		if room {
			break
		}
		select {
		case <-g.freed:
		case <-time.After(minAge / 2):
		case <-g.stop:
			return nil, net.ErrClosed
		}
	}
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.conns[c] = &connInfo{state: http.StateNew, since: time.Now()}
	g.mu.Unlock()
	return c, nil
}

// minAge is how long a connection is left alone before it may be closed to
// make room for another: a client gets this long to send its request.
const minAge = 100 * time.Millisecond

// removeLocked forgets c and wakes an Accept waiting for room.
func (g *guard) removeLocked(c net.Conn) {
	if _, ok := g.conns[c]; !ok {
		return
	}
	delete(g.conns, c)
	select {
	case g.freed <- struct{}{}:
	default:
	}
}

// state follows http.Server's ConnState hook.
func (g *guard) state(c net.Conn, st http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		g.removeLocked(c)
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
// request, if it has been in its state since before cutoff, and reports
// whether there was one.
func (g *guard) shedOldestLocked(cutoff time.Time) bool {
	var victim net.Conn
	var oldest time.Time
	for c, ci := range g.conns {
		if ci.state == http.StateActive || !ci.since.Before(cutoff) {
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
	g.removeLocked(victim) // the hook's StateClosed then finds nothing
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
						g.removeLocked(c)
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
