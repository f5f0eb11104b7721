package download

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// Matches reports whether path is a regular file of exactly size bytes
// whose sha256 is sum: an output saved earlier and still intact.
func Matches(path string, size int64, sum string) bool {
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() || info.Size() != size || sum == "" {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == sum
}
