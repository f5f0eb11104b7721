package download

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackEvery is how many bytes are written between two calls to
// writeback.
const writebackEvery = 8 << 20

// writeback starts writing [off, off+n) of f to disk, and with wait also
// waits until it is written. Best effort: the final fsync is what makes
// the bytes durable; this only leaves it less to do.
func writeback(f *os.File, off, n int64, wait bool) {
	flags := unix.SYNC_FILE_RANGE_WRITE
	if wait {
		flags |= unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	}
	_ = unix.SyncFileRange(int(f.Fd()), off, n, flags)
}
