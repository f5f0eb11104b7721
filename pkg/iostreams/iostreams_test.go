package iostreams

import (
	"strings"
	"testing"
)

func TestColorWanted(t *testing.T) {
	tests := []struct {
		name, noColor, term string
		tty, want           bool
	}{
		{"terminal", "", "xterm-256color", true, true},
		{"NO_COLOR", "1", "xterm-256color", true, false},
		{"NO_COLOR any value", "false", "xterm", true, false},
		{"dumb", "", "dumb", true, false},
		{"not a terminal", "", "xterm", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			t.Setenv("TERM", tt.term)
			if got := colorWanted(tt.tty); got != tt.want {
				t.Errorf("colorWanted(%v) = %v, want %v", tt.tty, got, tt.want)
			}
		})
	}
	t.Setenv("NO_COLOR", "1")
	if System().ColorEnabled() {
		t.Error("System() enables colour with NO_COLOR set")
	}
}

func TestPromptAndAnimate(t *testing.T) {
	tests := []struct {
		ci                   string
		stdin, stderr        bool
		wantPrompt, wantAnim bool
	}{
		{"", true, true, true, true},
		{"true", true, true, false, false},
		{"", false, true, false, true},
		{"", true, false, false, false},
	}
	for _, tt := range tests {
		t.Setenv("CI", tt.ci)
		s := System()
		s.SetStdinTTY(tt.stdin)
		s.SetStderrTTY(tt.stderr)
		if s.CanPrompt() != tt.wantPrompt || s.Animate() != tt.wantAnim {
			t.Errorf("CI=%q stdin=%v stderr=%v: CanPrompt=%v Animate=%v, want %v %v",
				tt.ci, tt.stdin, tt.stderr, s.CanPrompt(), s.Animate(), tt.wantPrompt, tt.wantAnim)
		}
	}
}

func TestTestStreams(t *testing.T) {
	t.Setenv("CI", "true")
	s, _, _, _ := Test()
	if s.IsStdinTTY() || s.IsStdoutTTY() || s.IsStderrTTY() || s.ColorEnabled() || s.CanPrompt() {
		t.Error("Test() streams should be non-TTY without colour")
	}
	s.SetStdinTTY(true)
	s.SetStderrTTY(true)
	if !s.CanPrompt() || !s.Animate() {
		t.Error("Test() streams should ignore the CI environment")
	}
}

func TestTerminalWidth(t *testing.T) {
	s, _, _, _ := Test()
	if w := s.TerminalWidth(); w != 80 {
		t.Errorf("width of a non-terminal = %d, want 80", w)
	}
	s.SetStderrTTY(true) // a buffer claiming to be a terminal still cannot say its size
	if w := s.TerminalWidth(); w != 80 {
		t.Errorf("width of a buffer = %d, want 80", w)
	}
	s.SetTerminalWidth(132)
	if w := s.TerminalWidth(); w != 132 {
		t.Errorf("forced width = %d, want 132", w)
	}
}

func TestStylesFollowColour(t *testing.T) {
	s, _, _, _ := Test()
	if got := s.ErrStyles().Error.Render("x") + s.OutStyles().Success.Render("y"); got != "xy" {
		t.Errorf("styles without colour render %q, want plain text", got)
	}
	s.SetColorEnabled(true)
	if got := s.ErrStyles().Error.Render("x"); got == "x" || !strings.Contains(got, "\x1b[") {
		t.Errorf("stderr styles with colour render %q, want ANSI codes", got)
	}
}

// TestStylesPerStream: stdout is styled only when it is a terminal itself;
// stderr on a terminal does not colour a redirected stdout (hf doctor > f).
func TestStylesPerStream(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	s := System()
	s.color, s.outColor = colorWanted(true), colorWanted(false) // stderr a terminal, stdout a file
	if got := s.OutStyles().Success.Render("y"); got != "y" {
		t.Errorf("stdout styles render %q with stdout redirected, want plain text", got)
	}
	if got := s.ErrStyles().Success.Render("y"); !strings.Contains(got, "\x1b[") {
		t.Errorf("stderr styles render %q on a terminal, want ANSI codes", got)
	}
	s.SetStdoutColorEnabled(true)
	if got := s.OutStyles().Success.Render("y"); !strings.Contains(got, "\x1b[") {
		t.Errorf("stdout styles render %q on a terminal, want ANSI codes", got)
	}
}
