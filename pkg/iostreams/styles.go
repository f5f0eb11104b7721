package iostreams

import (
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles is the set of lipgloss styles for one output stream.
type Styles struct {
	Success, Error, Warning, Muted, Bold, ID lipgloss.Style
}

// NewStyles builds the stderr styles. The colour profile is forced rather than
// detected: ANSI 256 when colour is enabled (the caller already decided, see
// IOStreams.ColorEnabled), plain ASCII otherwise, so every style then renders
// its text unchanged.
func NewStyles(colorEnabled bool) Styles {
	r := lipgloss.NewRenderer(io.Discard)
	if colorEnabled {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	fg := func(c string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(c)) }
	return Styles{
		Success: fg("2"),
		Error:   fg("1").Bold(true),
		Warning: fg("3"),
		Muted:   fg("245"),
		Bold:    r.NewStyle().Bold(true),
		ID:      fg("6"),
	}
}

// Paint renders s line by line, so lipgloss does not pad multi-line text to
// a block.
func Paint(st lipgloss.Style, s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = st.Render(l)
	}
	return strings.Join(lines, "\n")
}
