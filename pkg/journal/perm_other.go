//go:build !unix

package journal

import "io/fs"

// restrict does nothing: Unix permission bits do not apply here, and the
// user's profile directories are private already.
func restrict(string, fs.FileMode) error { return nil }
