package auth

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the controlling side and the
// terminal a prompt reads from.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no pseudo-terminals:", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skip("unlockpt:", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skip("ptsname:", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("open pts:", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func echoOn(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// Ctrl-C at the hidden prompt ends it at once (it used to wait for Enter,
// and a second Ctrl-C exited with the terminal's echo off) and puts the
// echo back.
func TestReadPasswordInterrupted(t *testing.T) {
	_, pts := openPTY(t)
	if !echoOn(t, pts) {
		t.Skip("the new terminal has no echo to begin with")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	errInterrupt := errors.New("interrupt")
	done := make(chan error, 1)
	go func() {
		_, err := readPassword(ctx, int(pts.Fd()))
		done <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for echoOn(t, pts) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if echoOn(t, pts) {
		t.Fatal("the prompt did not turn the echo off")
	}
	cancel(errInterrupt)
	select {
	case err := <-done:
		if !errors.Is(err, errInterrupt) {
			t.Fatalf("err = %v, want the context's cause", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the prompt ignored the interrupt")
	}
	if !echoOn(t, pts) {
		t.Fatal("the echo was left off")
	}
}

// A key typed at the prompt is read without being echoed.
func TestReadPasswordReads(t *testing.T) {
	ptm, pts := openPTY(t)
	done := make(chan string, 1)
	go func() {
		b, _ := readPassword(context.Background(), int(pts.Fd()))
		done <- string(b)
	}()
	deadline := time.Now().Add(2 * time.Second)
	for echoOn(t, pts) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ptm.Write([]byte("id:s3cret\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got != "id:s3cret" {
			t.Fatalf("read %q", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no line read")
	}
	if !echoOn(t, pts) {
		t.Fatal("the echo was left off")
	}
}
