package root

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestExitCodesMatchTheREADME: the rows of `hf help exit-codes` are the
// README's "Exit codes" table word for word (backticks aside), in order,
// and the topic prints each of them.
func TestExitCodesMatchTheREADME(t *testing.T) {
	data, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Exit codes\n")
	if !ok {
		t.Fatal("README has no ## Exit codes section")
	}
	row := regexp.MustCompile(`^\| (\d+) \| (.+) \|$`)
	var readme [][2]string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		if m := row.FindStringSubmatch(line); m != nil {
			readme = append(readme, [2]string{m[1], strings.ReplaceAll(m[2], "`", "")})
		}
	}
	if len(readme) != len(exitCodeRows) {
		t.Fatalf("README has %d rows, hf help exit-codes %d:\n%q\n%q", len(readme), len(exitCodeRows), readme, exitCodeRows)
	}
	for i := range readme {
		if readme[i] != exitCodeRows[i] {
			t.Errorf("row %d: README %q, help %q", i, readme[i], exitCodeRows[i])
		}
	}
	// The printed topic, unwrapped, holds each row as "CODE MEANING".
	help := strings.Join(strings.Fields(exitCodesTopic().Long), " ")
	for _, r := range readme {
		if !strings.Contains(help, r[0]+" "+r[1]) {
			t.Errorf("hf help exit-codes lacks %q", r[0]+" "+r[1])
		}
	}
	// And the paragraphs the README gives after the table.
	for _, p := range []string{"hf listen exits 0 after --max-deliveries", "hf batch exits 0 when every job is saved or up to date"} {
		if !strings.Contains(help, p) || !strings.Contains(strings.ReplaceAll(section, "`", ""), p) {
			t.Errorf("%q not in both", p)
		}
	}
}
