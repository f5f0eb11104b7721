package download

import (
	"errors"
	"io"
	"sync/atomic"
)

// The copy pipeline: this goroutine reads the body into large chunks, a
// second writes them, a third hashes what was written, so that the network,
// the disk and sha256 work at once. Peak memory is chunkCount chunks per
// transfer.
const (
	chunkSize  = 1 << 20
	chunkCount = 4
)

// writeError is a failure to write (a local file error: not worth a retry).
type writeError struct{ error }

func (e writeError) Unwrap() error { return e.error }

// copyBody copies body to t.w and t.hash, counting t.written, until EOF or
// an error. tick is called after every read that returned bytes. Reading
// more than the size cap allows stops with errTooLarge before the excess
// is written.
func (t *transfer) copyBody(body io.Reader, tick func()) error {
	budget := t.maxBytes() - t.written
	free := make(chan []byte, chunkCount)
	for range chunkCount {
		free <- nil // allocated on first use: a small output needs one
	}
	toWrite := make(chan []byte, chunkCount)
	toHash := make(chan []byte, chunkCount)
	hashed := make(chan struct{})
	var werr error
	var failed atomic.Bool
	var inflight atomic.Int32 // chunks handed to the writer and not yet written

	go func() { // writer
		defer close(toHash)
		for b := range toWrite {
			if werr != nil {
				inflight.Add(-1)
				free <- b[:0]
				continue
			}
			n, err := t.w.Write(b)
			inflight.Add(-1)
			if err == nil && n < len(b) {
				err = io.ErrShortWrite
			}
			if n > 0 {
				t.written += int64(n)
				t.progress()
				toHash <- b[:n]
			} else {
				free <- b[:0]
			}
			if err != nil {
				werr = err
				failed.Store(true)
			}
		}
	}()
	go func() { // hasher
		defer close(hashed)
		for b := range toHash {
			t.hash.Write(b)
			free <- b[:0]
		}
	}()

	var read int64
	var rerr error
	for rerr == nil && !failed.Load() {
		buf := <-free
		if buf == nil {
			buf = make([]byte, chunkSize)
		}
		buf = buf[:cap(buf)]
		// Fill the chunk while the writer is busy anyway; hand it over at
		// once when the writer is idle, so that a slow host's bytes reach
		// the part (and survive a kill) without waiting for a full chunk.
		n := 0
		for n < len(buf) && rerr == nil && (n == 0 || inflight.Load() > 0) {
			var m int
			m, rerr = body.Read(buf[n:])
			if m > 0 {
				n += m
				tick()
			}
		}
		if int64(n) > budget-read {
			n, rerr = int(max(budget-read, 0)), errTooLarge
		}
		read += int64(n)
		if n > 0 {
			inflight.Add(1)
			toWrite <- buf[:n]
		} else {
			free <- buf[:0]
		}
	}
	close(toWrite)
	<-hashed
	switch {
	case werr != nil:
		return writeError{werr}
	case errors.Is(rerr, io.EOF):
		return nil
	}
	return rerr
}
