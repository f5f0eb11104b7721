package ui

import "github.com/hf-cli/hf/pkg/iostreams"

// FormatError renders an error for stderr: the short reason first, then the
// hint muted on the next line when there is one. No trailing newline.
func FormatError(st iostreams.Styles, reason, hint string) string {
	s := iostreams.Paint(st.Error, "error: "+reason)
	if hint != "" {
		s += "\n" + iostreams.Paint(st.Muted, hint)
	}
	return s
}
