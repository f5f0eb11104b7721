//go:build !unix

package listen

import "testing"

func mkfifo(t *testing.T, path string) {
	t.Skip("no named pipes here")
}
