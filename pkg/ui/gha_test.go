package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGitHubActions(t *testing.T) {
	dir := t.TempDir()
	out, sum := filepath.Join(dir, "out"), filepath.Join(dir, "sum")
	if err := os.WriteFile(out, []byte("earlier=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_OUTPUT": out, "GITHUB_STEP_SUMMARY": sum, "GITHUB_ACTIONS": "true"}
	var errOut bytes.Buffer
	jobs := []GHAJob{
		{Name: "hero", State: "generated", RequestID: "id-1", Paths: []string{"a b.png", "c.png"}, Seconds: 1.5},
		{Name: "vid|x", State: "failed", RequestID: "id-2", Error: "50% failed:\nreally"},
		{Name: "skip", State: "skipped", Error: "skipped: job vid did not succeed"},
	}
	if err := GitHubActions(func(k string) string { return env[k] }, &errOut, "hf batch", jobs); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 6 || lines[0] != "earlier=1" || !strings.HasPrefix(lines[1], "paths<<HF_EOF_") ||
		lines[2] != "a b.png" || lines[3] != "c.png" || lines[4] != strings.TrimPrefix(lines[1], "paths<<") || lines[5] != "request-ids=id-1 id-2" {
		t.Errorf("GITHUB_OUTPUT:\n%s", data)
	}
	data, _ = os.ReadFile(sum)
	for _, want := range []string{"### hf batch", "| job | state | time | files | request |", "| hero | generated | 1.5s | `a b.png`<br>`c.png` | id-1 |", `| vid\|x | failed: 50% failed: really |`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("summary lacks %q:\n%s", want, data)
		}
	}
	wantErr := "::error title=hf batch%3A vid|x::50%25 failed:%0Areally\n::error title=hf batch%3A skip::skipped: job vid did not succeed\n"
	if errOut.String() != wantErr {
		t.Errorf("annotations:\n%q\nwant\n%q", errOut.String(), wantErr)
	}
	// hf generate MODEL whose request has no id names the model once.
	errOut.Reset()
	one := []GHAJob{{Name: "higgsfield-ai/soul/standard", State: "failed", Error: "API answered 422: bad"}}
	if err := GitHubActions(func(k string) string { return env[k] }, &errOut, "hf generate higgsfield-ai/soul/standard", one); err != nil {
		t.Fatal(err)
	}
	if want := "::error title=hf generate higgsfield-ai/soul/standard::API answered 422: bad\n"; errOut.String() != want {
		t.Errorf("annotation %q, want %q", errOut.String(), want)
	}
	// Outside Actions: nothing.
	errOut.Reset()
	if err := GitHubActions(func(string) string { return "" }, &errOut, "hf batch", jobs); err != nil || errOut.Len() > 0 {
		t.Errorf("outside Actions: %v, %q", err, errOut.String())
	}
}
