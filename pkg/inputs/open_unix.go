//go:build unix

package inputs

import (
	"os"
	"syscall"
)

// openRead opens path for reading without blocking on a FIFO or device
// that was put in the file's place after its check (O_NONBLOCK changes
// nothing for a regular file); the caller checks what it opened with Stat.
func openRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
