//go:build !unix

package download

import (
	"io/fs"
	"os"
)

// openNoFollow opens (creating) a .part file for reading and writing.
// Creating a symlink needs privileges on Windows, so a plain open is used.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o666)
}

// syncDir is a no-op: directories cannot be synced here.
func syncDir(string) {}

// linkCount is 1: the link count is not available here.
func linkCount(fs.FileInfo) uint64 { return 1 }

// tryLock always succeeds: there is no flock here, so two processes
// saving the same output into one directory at once are not kept apart.
func tryLock(*os.File) (bool, error) { return true, nil }
