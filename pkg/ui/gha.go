package ui

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hf-cli/hf/pkg/job"
)

// GHAJob is one generation as GitHub Actions is told about it.
type GHAJob struct {
	Name      string
	State     string // generated, up_to_date, failed, ...
	RequestID string
	Paths     []string
	Seconds   float64
	Error     string
}

// GitHubActions writes what a workflow step can use, when hf runs inside
// one: with GITHUB_OUTPUT set, the outputs "paths" (one per line, heredoc
// syntax) and "request-ids" (space-separated); with GITHUB_STEP_SUMMARY
// set, a Markdown table of the jobs; with GITHUB_ACTIONS=true, an ::error::
// annotation per failed job on errOut. getenv is os.Getenv in production.
func GitHubActions(getenv func(string) string, errOut io.Writer, title string, jobs []GHAJob) error {
	var errs []string
	if p := getenv("GITHUB_OUTPUT"); p != "" {
		var paths, ids []string
		for _, j := range jobs {
			paths = append(paths, j.Paths...)
			if j.RequestID != "" {
				ids = append(ids, j.RequestID)
			}
		}
		var b strings.Builder
		body := strings.Join(paths, "\n")
		delim := heredocDelimiter(body)
		fmt.Fprintf(&b, "paths<<%s\n", delim)
		if body != "" {
			b.WriteString(body + "\n")
		}
		fmt.Fprintf(&b, "%s\nrequest-ids=%s\n", delim, strings.Join(ids, " "))
		if err := appendFile(p, b.String()); err != nil {
			errs = append(errs, "GITHUB_OUTPUT: "+err.Error())
		}
	}
	if p := getenv("GITHUB_STEP_SUMMARY"); p != "" {
		if err := appendFile(p, stepSummary(title, jobs)); err != nil {
			errs = append(errs, "GITHUB_STEP_SUMMARY: "+err.Error())
		}
	}
	if getenv("GITHUB_ACTIONS") == "true" {
		for _, j := range jobs {
			if j.Error == "" {
				continue
			}
			t := title
			if j.Name != "" && !strings.HasSuffix(title, " "+j.Name) { // hf generate MODEL: MODEL said once
				t += ": " + j.Name
			}
			fmt.Fprintf(errOut, "::error title=%s::%s\n", escapeProperty(t), escapeData(j.Error))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("writing GitHub Actions outputs: %s", strings.Join(errs, "; "))
	}
	return nil
}

// GHAResult describes one generation (hf generate) for GitHubActions.
func GHAResult(res job.Result, err error) GHAJob {
	j := GHAJob{Name: res.RequestID, State: res.Status, RequestID: res.RequestID}
	if j.Name == "" {
		j.Name = res.Model
	}
	for _, f := range res.Files {
		if f.Path != "-" {
			j.Paths = append(j.Paths, f.Path)
		}
	}
	if err != nil {
		j.Error = err.Error()
		if j.State == "" || j.State == "completed" {
			j.State = "failed"
		}
	}
	return j
}

func stepSummary(title string, jobs []GHAJob) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n| job | state | time | files | request |\n|---|---|---|---|---|\n", mdCell(title))
	for _, j := range jobs {
		took := "-"
		if j.Seconds > 0 {
			took = (time.Duration(j.Seconds * float64(time.Second))).Round(100 * time.Millisecond).String()
		}
		files := make([]string, len(j.Paths))
		for i, p := range j.Paths {
			files[i] = "`" + strings.ReplaceAll(p, "`", "'") + "`"
		}
		state := j.State
		if j.Error != "" {
			state += ": " + j.Error
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(j.Name), mdCell(state), took, mdCell(strings.Join(files, "<br>")), mdCell(j.RequestID))
	}
	b.WriteString("\n")
	return b.String()
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", " ")
}

// heredocDelimiter picks a delimiter that occurs in no line of body.
func heredocDelimiter(body string) string {
	for {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		d := "HF_EOF_" + hex.EncodeToString(b)
		if !strings.Contains(body, d) {
			return d
		}
	}
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// escapeData and escapeProperty follow the workflow-command encoding of
// actions/toolkit.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
