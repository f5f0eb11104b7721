package batch

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/iostreams"
)

func TestNewCmdBatchFlags(t *testing.T) {
	testenv.Isolate(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*Options) bool
	}{
		{"defaults", []string{"m.yaml"}, "", func(o *Options) bool {
			return o.File == "m.yaml" && o.Concurrency == 4 && o.Timeout == 30*time.Minute && !o.MaxCreditsSet && !o.DryRun
		}},
		{"everything", []string{"p.txt", "-m", "a/b", "-s", "k=1", "--set", "q=x", "-d", "out", "-o", "{name}.{ext}", "-j", "16",
			"--force", "--verify", "--fail-fast", "--max-credits", "12.5", "--shard", "2/3", "--json", "--via", "poll"}, "", func(o *Options) bool {
			return o.Model == "a/b" && strings.Join(o.Sets, ",") == "k=1,q=x" && o.Dir == "out" && o.Output == "{name}.{ext}" &&
				o.Concurrency == 16 && o.Force && o.Verify && o.FailFast && o.MaxCreditsSet && o.MaxCredits == 12.5 &&
				o.Shard == "2/3" && o.JSON && o.Endpoint.Via == "poll"
		}},
		{"max-credits 0 is a limit", []string{"m.yaml", "--max-credits", "0"}, "", func(o *Options) bool { return o.MaxCreditsSet }},
		{"no file", []string{}, "batch needs exactly one manifest FILE", nil},
		{"two files", []string{"a.yaml", "b.yaml"}, "batch needs exactly one manifest FILE", nil},
		{"zero concurrency", []string{"m.yaml", "-j", "0"}, "-j/--concurrency must be at least 1", nil},
		{"bad shard", []string{"m.yaml", "--shard", "0/2"}, `invalid --shard "0/2"`, nil},
		{"negative budget", []string{"m.yaml", "--max-credits", "-1"}, "--max-credits must be a number, not negative", nil},
		{"NaN budget", []string{"m.yaml", "--max-credits", "NaN"}, "--max-credits must be a number, not negative", nil},
		{"stdout output", []string{"m.yaml", "-o", "-"}, "-o - is for one output", nil},
		{"poll interval under the floor", []string{"m.yaml", "--poll-interval", "20ms"}, "below the 1s floor", nil},
		{"bad timeout", []string{"m.yaml", "--timeout", "0s"}, "--timeout must be positive", nil},
		{"expires-after", []string{"m.yaml", "--expires-after", "3h"}, "", func(o *Options) bool { return o.ExpiresAfter == 3*time.Hour }},
		{"fractional expires-after", []string{"m.yaml", "--expires-after", "3600.5s"}, "want whole seconds from 1h", nil},
		{"short expires-after", []string{"m.yaml", "--expires-after", "59m"}, "want whole seconds from 1h", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Version: "test"}
			o, err := testenv.Parse(t, f, NewCmdBatch, io.Discard, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

// The command a failed run advises must give every job the identity and
// place it had: a hint that drops -m or --set pays again for what was saved.
func TestResumeCommand(t *testing.T) {
	testenv.Isolate(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bare", []string{"m.yaml"}, "hf batch m.yaml"},
		{"identity and placement", []string{"prompts.txt", "-m", "higgsfield-ai/soul/standard", "--set", "aspect_ratio=1:1", "-s", "seed=7",
			"-d", "out", "-o", "{name}.{ext}", "--sandbox", "--expires-after", "2h"},
			"hf batch prompts.txt --model higgsfield-ai/soul/standard --set aspect_ratio=1:1 --set seed=7 -d out -o '{name}.{ext}' --expires-after 2h --sandbox"},
		{"quoted", []string{"my prompts.txt", "--set", "prompt=it's a fox", "-d", "a b"},
			`hf batch 'my prompts.txt' --set 'prompt=it'\''s a fox' -d 'a b'`},
		{"a dash-led file name stays a file", []string{"-m", "a/b", "--", "-x.txt"}, "hf batch --model a/b -- -x.txt"},
		{"shard, lock and clobber kept", []string{"m.yaml", "--shard", "2/4", "--no-lock", "--clobber"}, "hf batch m.yaml --clobber --no-lock --shard 2/4"},
		// --force again would give every saved job a new identity: the
		// forced identities are in the lock, a plain run finds them.
		{"force, budget and tuning dropped", []string{"m.yaml", "--force", "-j", "9", "--max-credits", "5", "--json", "-q", "--timeout", "1m", "--fail-fast", "--verify"}, "hf batch m.yaml"},
		{"stdin", []string{"-"}, "hf batch -"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Version: "test"}
			o, err := testenv.Parse(t, f, NewCmdBatch, io.Discard, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := resumeCommand(o); got != tt.want {
				t.Errorf("resumeCommand\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
