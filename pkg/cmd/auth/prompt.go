package auth

import (
	"context"

	"golang.org/x/term"
)

// readPassword reads a line without echo from the terminal fd, and gives up
// when ctx ends (Ctrl-C: hf's signal handler cancels the context, so the
// terminal never delivers the interrupt to the read). The terminal's state
// is put back either way, so an interrupted prompt never leaves the
// user's shell without echo.
func readPassword(ctx context.Context, fd int) ([]byte, error) {
	saved, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-ctx.Done():
		// The read goroutine stays blocked until the process exits, which
		// it is about to.
		_ = term.Restore(fd, saved)
		return nil, context.Cause(ctx)
	}
}
