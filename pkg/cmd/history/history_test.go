package history

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/hf-cli/hf/pkg/iostreams"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/journal"
)

// now is the clock of every test here.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// isolate gives the test its own empty journal directory and returns it.
func isolate(t *testing.T) string {
	t.Helper()
	_, state := testenv.Isolate(t)
	dir, err := journal.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, state) {
		t.Fatalf("journal dir %s is not under XDG_STATE_HOME", dir)
	}
	return dir
}

// exec runs `hf history args...` with the clock fixed at now. With capture,
// runF only records the options.
func exec(t *testing.T, capture bool, args ...string) (o *Options, stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	var got *Options
	cmd := NewCmdHistory(testenv.Factory(ios, "test"), func(opts *Options) error {
		got = opts
		if capture {
			return nil
		}
		opts.Now = func() time.Time { return now }
		return historyRun(context.Background(), opts)
	})
	cmd.SetArgs(args)
	cmd.SetOut(errOut)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.Execute()
	if err != nil && got != nil && capture {
		t.Fatalf("runF was called despite %v", err)
	}
	return got, out.String(), errOut.String(), err
}

func TestNewCmdHistoryFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantJSON  bool
		wantLimit int
		errHas    string // non-empty: a *cmdutil.FlagError saying this
	}{
		{name: "defaults"},
		{name: "--json", args: []string{"--json"}, wantJSON: true},
		{name: "--limit", args: []string{"--limit", "3"}, wantLimit: 3},
		{name: "-n", args: []string{"-n", "1", "--json"}, wantLimit: 1, wantJSON: true},
		{name: "zero means all", args: []string{"-n", "0"}},
		{name: "negative limit", args: []string{"--limit", "-1"}, errHas: "--limit must be 0 (all) or more"},
		{name: "an argument", args: []string{"abc"}, errHas: "history takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			o, _, _, err := exec(t, true, tt.args...)
			if tt.errHas != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %T %v, want a *cmdutil.FlagError saying %q", err, err, tt.errHas)
				}
				if o != nil {
					t.Fatal("runF called despite the usage error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o == nil || o.JSON != tt.wantJSON || o.Limit != tt.wantLimit {
				t.Fatalf("options %+v, want JSON %v Limit %d", o, tt.wantJSON, tt.wantLimit)
			}
			if o.IO == nil || o.Journal == nil || o.Now == nil {
				t.Fatal("dependencies not injected")
			}
		})
	}
}

func TestHistoryEmpty(t *testing.T) {
	isolate(t)
	_, out, errOut, err := exec(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" || errOut != "hf: no requests recorded yet\n" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}

	_, out, errOut, err = exec(t, false, "--json")
	if err != nil {
		t.Fatal(err)
	}
	// Scripts get a JSON array even when there is nothing.
	if strings.TrimSpace(out) != "[]" || errOut != "" {
		t.Fatalf("--json: stdout %q stderr %q, want []", out, errOut)
	}
}

const (
	idOld = "11111111-1111-4111-8111-111111111111"
	idMid = "22222222-2222-4222-8222-222222222222"
	idNew = "33333333-3333-4333-8333-333333333333"
)

// seed journals three requests, appended out of submission order, with
// later status and download records.
func seed(t *testing.T, dir string) {
	t.Helper()
	j, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []journal.Record{
		{Time: now.Add(-10 * time.Minute), Event: journal.EventSubmitted, RequestID: idMid, Model: "kling/v2",
			Prompt: "a very long prompt about a lighthouse at dawn,\nwith waves crashing on the rocks below"},
		{Time: now.Add(-3 * 24 * time.Hour), Event: journal.EventSubmitted, RequestID: idOld, Model: "soul/standard"},
		{Time: now.Add(-30 * time.Second), Event: journal.EventSubmitted, RequestID: idNew, Model: "soul/standard", Prompt: "a red fox"},
		{Time: now.Add(-20 * time.Second), Event: journal.EventStatus, RequestID: idNew, Status: "in_progress"},
		{Time: now.Add(-70 * time.Hour), Event: journal.EventStatus, RequestID: idOld, Status: "completed"},
		{Time: now.Add(-70 * time.Hour), Event: journal.EventDownloaded, RequestID: idOld,
			Files: []journal.File{{Path: "/tmp/a-1.png"}, {Path: "/tmp/a-2.png"}}},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHistoryTable(t *testing.T) {
	header := []string{"REQUEST", "MODEL", "STATUS", "SUBMITTED", "FILES", "PROMPT"}
	all := [][]string{
		{idNew, "soul/standard", "in_progress", "just now", "0", "a red fox\n"},
		{idMid, "kling/v2", "unknown", "10m ago", "0", "a very long prompt about a lighthouse a…\n"},
		{idOld, "soul/standard", "completed", "3d ago", "2", "\n"},
	}
	tests := []struct {
		name string
		args []string
		want [][]string
	}{
		{name: "all", want: all},
		{name: "limit 0 is all", args: []string{"-n", "0"}, want: all},
		{name: "limit 2", args: []string{"--limit", "2"}, want: all[:2]},
		{name: "limit 1", args: []string{"-n", "1"}, want: all[:1]},
		{name: "limit above count", args: []string{"-n", "10"}, want: all},
		{name: "pending", args: []string{"--pending"}, want: all[:2]},
		{name: "pending, limit 1", args: []string{"--pending", "-n", "1"}, want: all[:1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed(t, isolate(t))
			_, out, errOut, err := exec(t, false, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if errOut != "" {
				t.Fatalf("stderr %q", errOut)
			}
			lines := strings.SplitAfter(strings.TrimSuffix(out, "\n"), "\n")
			lines[len(lines)-1] += "\n"
			if len(lines) != len(tt.want)+1 {
				t.Fatalf("stdout:\n%s\nwant a header and %d rows", out, len(tt.want))
			}
			if got := strings.Fields(lines[0]); strings.Join(got, "|") != strings.Join(header, "|") {
				t.Fatalf("header %q", lines[0])
			}
			for i, want := range tt.want {
				line := lines[i+1]
				// Columns start where the header's do; SUBMITTED has spaces.
				for c, name := range header {
					if at := strings.Index(lines[0], name); !strings.HasPrefix(line[at:], want[c]) {
						t.Fatalf("row %d column %s: %q, want %q\n%s", i, name, line[at:], want[c], out)
					}
				}
			}
		})
	}
}

func TestHistoryJSON(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "all", args: []string{"--json"}, want: []string{idNew, idMid, idOld}},
		{name: "limit", args: []string{"--json", "-n", "2"}, want: []string{idNew, idMid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed(t, isolate(t))
			_, out, _, err := exec(t, false, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("stdout %q: %v", out, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d entries, want %d: %s", len(got), len(tt.want), out)
			}
			for i, e := range got {
				if e["request_id"] != tt.want[i] {
					t.Fatalf("entry %d is %v, want %s (newest first)", i, e["request_id"], tt.want[i])
				}
			}
			first := got[0]
			if first["model"] != "soul/standard" || first["status"] != "in_progress" || first["submitted_at"] != now.Add(-30*time.Second).Format(time.RFC3339) {
				t.Fatalf("newest entry %v", first)
			}
			if len(tt.want) == 3 {
				files, _ := got[2]["files"].([]any)
				if len(files) != 2 || got[2]["status"] != "completed" {
					t.Fatalf("oldest entry %v, want completed with 2 files", got[2])
				}
			}
		})
	}
}

func TestAgo(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Hour, "just now"}, // a clock that went back
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1m ago"},
		{90 * time.Second, "1m ago"},
		{59*time.Minute + 59*time.Second, "59m ago"},
		{time.Hour, "1h ago"},
		{23 * time.Hour, "23h ago"},
		{47*time.Hour + 59*time.Minute, "47h ago"},
		{48 * time.Hour, "2d ago"},
		{71 * time.Hour, "2d ago"},
		{72 * time.Hour, "3d ago"},
		{400 * 24 * time.Hour, "400d ago"},
	}
	for _, tt := range tests {
		if got := ago(tt.d); got != tt.want {
			t.Errorf("ago(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
