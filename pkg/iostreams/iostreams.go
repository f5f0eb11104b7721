// Package iostreams owns the standard streams and what is known about them:
// TTY or not, colour, CI, the terminal width, and one lipgloss style set per
// stream. It is a leaf: renderers (pkg/ui) and commands build on it.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"sync/atomic"

	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// IOStreams holds the three standard streams plus what we know about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	// color is for stderr, outColor for stdout: each stream is styled only
	// when it is a terminal itself (hf doctor > file gets no escapes).
	color, outColor bool
	ci              bool
	// width is the terminal width forced by SetTerminalWidth (0: ask stderr).
	// width and height are forced by SetTerminalWidth/SetTerminalHeight
	// (0: ask stderr); atomic, as a live renderer reads them while a test
	// "resizes" the terminal.
	width, height atomic.Int32
}

// System returns the process's streams. Colour is on only when stderr is a
// terminal, NO_COLOR is unset or empty, and TERM is not "dumb".
func System() *IOStreams {
	s := &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
		ci:        os.Getenv("CI") != "",
	}
	s.color = colorWanted(s.stderrTTY)
	s.outColor = colorWanted(s.stdoutTTY)
	return s
}

// Test returns in-memory streams that are not terminals, without colour and
// outside CI, plus the buffers behind them.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

func colorWanted(stderrTTY bool) bool {
	return stderrTTY && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

func (s *IOStreams) SetStdinTTY(v bool)     { s.stdinTTY = v }
func (s *IOStreams) SetStdoutTTY(v bool)    { s.stdoutTTY = v }
func (s *IOStreams) SetStderrTTY(v bool)    { s.stderrTTY = v }
func (s *IOStreams) SetColorEnabled(v bool) { s.color = v }

// SetStdoutColorEnabled sets whether stdout is styled (tests).
func (s *IOStreams) SetStdoutColorEnabled(v bool) { s.outColor = v }

func (s *IOStreams) IsStdinTTY() bool   { return s.stdinTTY }
func (s *IOStreams) IsStdoutTTY() bool  { return s.stdoutTTY }
func (s *IOStreams) IsStderrTTY() bool  { return s.stderrTTY }
func (s *IOStreams) ColorEnabled() bool { return s.color }

// CanPrompt reports whether the user may be asked something: stdin and stderr
// are terminals and CI is unset.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stderrTTY && !s.ci }

// Animate reports whether spinners and progress bars may be drawn on stderr.
func (s *IOStreams) Animate() bool { return s.stderrTTY && !s.ci }

// SetTerminalWidth forces the width TerminalWidth reports (tests).
func (s *IOStreams) SetTerminalWidth(w int) { s.width.Store(int32(w)) }

// TerminalWidth is the width of the terminal behind stderr, or 80 when it is
// not a terminal or cannot say.
func (s *IOStreams) TerminalWidth() int {
	if w := s.width.Load(); w > 0 {
		return int(w)
	}
	if f, ok := s.ErrOut.(*os.File); ok && s.stderrTTY {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// TerminalSize is the width (as TerminalWidth) and height of the terminal
// behind stderr; the height is 24 when it cannot say. Both are read on
// every call, so a resize (SIGWINCH) shows at the next one.
func (s *IOStreams) TerminalSize() (width, height int) {
	width, height = s.TerminalWidth(), 24
	if h := s.height.Load(); h > 0 {
		return width, int(h)
	}
	if f, ok := s.ErrOut.(*os.File); ok && s.stderrTTY {
		if _, h, err := term.GetSize(int(f.Fd())); err == nil && h > 0 {
			height = h
		}
	}
	return width, height
}

// SetTerminalHeight forces the height TerminalSize reports (tests).
func (s *IOStreams) SetTerminalHeight(h int) { s.height.Store(int32(h)) }

// ErrStyles is the style set for stderr: coloured when ColorEnabled.
func (s *IOStreams) ErrStyles() Styles { return NewStyles(s.color) }

// OutStyles is the style set for stdout: coloured only when stdout itself
// is a terminal that wants colour (see System), whatever stderr is.
func (s *IOStreams) OutStyles() Styles { return NewStyles(s.outColor) }
