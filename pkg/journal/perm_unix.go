//go:build unix

package journal

import (
	"io/fs"
	"os"
	"syscall"
)

// restrict sets path's permissions to perm if they differ and the current
// user owns it; it never touches someone else's file or directory.
func restrict(path string, perm fs.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() == perm || !ok || int(st.Uid) != os.Getuid() {
		return nil
	}
	return os.Chmod(path, perm)
}
