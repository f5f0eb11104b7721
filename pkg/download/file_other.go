//go:build !unix

package download

import "os"

// openNoFollow opens (creating) a .part file for reading and writing.
// Creating a symlink needs privileges on Windows, so a plain open is used.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o666)
}

// syncDir is a no-op: directories cannot be synced here.
func syncDir(string) {}
