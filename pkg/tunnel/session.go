package tunnel

import (
	"context"
	"errors"
	"sync/atomic"

	"golang.ngrok.com/ngrok/v2"
)

// SessionEvent is a change of a provider's session with its edge, after the
// endpoint opened. Up is false when the session dropped or an attempt to
// reconnect failed (Err says why), true when it is back and the endpoint is
// bound again.
type SessionEvent struct {
	Up  bool
	Err error
}

// sessionLife is what the event handler needs to know about the endpoint:
// whether Open returned it, and whether it is being closed.
type sessionLife struct {
	opened, closing atomic.Bool
}

// report passes the SDK's connect and disconnect events to OnSession while
// the endpoint is open.
func (n Ngrok) report(life *sessionLife, ev ngrok.Event) {
	if n.OnSession == nil || !life.opened.Load() || life.closing.Load() {
		return
	}
	switch ev := ev.(type) {
	case *ngrok.EventAgentConnectSucceeded:
		n.OnSession(SessionEvent{Up: true})
	case *ngrok.EventAgentDisconnected:
		err := ev.Error
		if errors.Is(err, context.Canceled) {
			return // the session context ended: hf is closing it
		}
		if err == nil {
			err = errors.New("the ngrok session ended")
		}
		n.OnSession(SessionEvent{Err: n.redact(err)})
	}
}
