//go:build unix

package download

import (
	"os"
	"syscall"
)

// openNoFollow opens (creating) a .part file for reading and writing, and
// fails rather than follow a symlink planted at its path.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o666)
}

// syncDir makes a rename in dir durable. Best effort: some file systems
// cannot sync a directory, and the file itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
