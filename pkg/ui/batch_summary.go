package ui

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"

	"github.com/hf-cli/hf/pkg/batch"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// summaryRows caps the table: past it, only jobs that need attention are
// listed and the rest counted.
const summaryRows = 40

// BatchSummary draws the end-of-run table on a terminal (job, state, time,
// files, credits) and the one-line summary under it. width is the
// terminal's (0: unknown): a wider table is narrowed to it, its cells
// wrapped, rather than wrapped by the terminal line by line.
func BatchSummary(w io.Writer, st iostreams.Styles, rep *batch.Report, width int) {
	jobs := rep.Jobs
	hidden := 0
	if len(jobs) > summaryRows {
		var keep []*batch.Outcome
		for _, o := range jobs {
			if o.State != batch.StateUpToDate && o.State != batch.StateGenerated && len(keep) < summaryRows {
				keep = append(keep, o)
			}
		}
		hidden = len(jobs) - len(keep)
		jobs = keep
	}
	credits := false
	for _, o := range jobs {
		credits = credits || o.Credits != nil
	}
	headers := []string{"job", "state", "time", "files"}
	if credits {
		headers = append(headers, "credits")
	}
	t := table.New().Border(lipgloss.NormalBorder()).BorderStyle(st.Muted).Headers(headers...)
	for _, o := range jobs {
		files := strconv.Itoa(len(o.Files))
		if len(o.Files) == 1 {
			files = o.Files[0].Path
		}
		took := "-"
		if o.Seconds > 0 {
			took = (time.Duration(o.Seconds * float64(time.Second))).Round(100 * time.Millisecond).String()
		}
		row := []string{o.Name, string(o.State), took, files}
		if credits {
			c := "-"
			if o.Credits != nil {
				c = strconv.FormatFloat(*o.Credits, 'f', -1, 64)
			}
			row = append(row, c)
		}
		t.Row(row...)
	}
	t.StyleFunc(func(row, col int) lipgloss.Style {
		s := lipgloss.NewStyle().Padding(0, 1)
		if row == table.HeaderRow {
			return s.Inherit(st.Bold)
		}
		if col == 1 && row >= 0 && row < len(jobs) {
			switch o := jobs[row]; {
			case o.State.Succeeded():
				return s.Inherit(st.Success)
			case o.State == batch.StateNotRun:
				return s.Inherit(st.Muted)
			default:
				return s.Inherit(st.Error)
			}
		}
		return s
	})
	if len(jobs) > 0 {
		out := t.Render()
		if width > 0 && lipgloss.Width(out) > width {
			out = t.Width(width).Render()
		}
		fmt.Fprintln(w, out)
	}
	line := BatchSummaryLine(rep.Summary)
	if hidden > 0 {
		line += fmt.Sprintf(" (%d saved jobs not listed)", hidden)
	}
	fmt.Fprintln(w, line)
}
