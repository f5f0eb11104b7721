package cmdutil

import (
	"os/signal"
	"syscall"
)

// streamToStdout prepares the process for an output streamed to stdout
// (-o -): a reader that stops early (`| head -c 100`) closes the pipe, and
// Go's default for a write to a closed stdout is death by SIGPIPE (exit
// 141, not in hf's table, nothing said, nothing journaled). Ignored, the
// write fails with EPIPE instead and the download ends as a download
// error: exit 7, and hf download ID saves the output.
func streamToStdout() { signal.Ignore(syscall.SIGPIPE) }
