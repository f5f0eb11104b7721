// Package ui owns everything hf shows a person: the standard streams and what
// is known about them (TTY or not, colour, CI), the lipgloss styles for stderr,
// error formatting, and the renderers that draw job events on stderr: a pretty
// one with a spinner and progress bars on a terminal, plain greppable lines
// with a heartbeat otherwise. stdout carries data only and is never written here.
package ui

import (
	"bytes"
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// IOStreams holds the three standard streams plus what we know about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	color                          bool
	ci                             bool
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

func (s *IOStreams) IsStdinTTY() bool   { return s.stdinTTY }
func (s *IOStreams) IsStdoutTTY() bool  { return s.stdoutTTY }
func (s *IOStreams) IsStderrTTY() bool  { return s.stderrTTY }
func (s *IOStreams) ColorEnabled() bool { return s.color }

// CanPrompt reports whether the user may be asked something: stdin and stderr
// are terminals and CI is unset.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stderrTTY && !s.ci }

// Animate reports whether spinners and progress bars may be drawn on stderr.
func (s *IOStreams) Animate() bool { return s.stderrTTY && !s.ci }
