package root

import (
	"strings"
	"testing"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// TestInstant: only commands that print what hf already knows skip the
// signal handling; every command that talks to the API or waits keeps it.
func TestInstant(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--help"}, true},
		{[]string{"-h"}, true},
		{[]string{"--version"}, true},
		{[]string{"help", "generate"}, true},
		{[]string{"frobnicate"}, true},
		{[]string{"version"}, true},
		{[]string{"completion", "bash"}, true},
		{[]string{"__complete", "generate", ""}, true},
		{[]string{"history"}, true},
		{[]string{"history", "--json", "-n", "3"}, true},
		{[]string{"--debug", "history"}, true},
		{[]string{"--api-key", "k:s", "history"}, true},
		{[]string{"generate", "higgsfield-ai/soul/standard", "--prompt", "x"}, false},
		{[]string{"generate", "--help"}, false},
		{[]string{"--api-key", "history", "generate", "m"}, false},
		{[]string{"--base-url=http://x", "wait", "id"}, false},
		{[]string{"wait", "id"}, false},
		{[]string{"download", "id"}, false},
		{[]string{"status", "id"}, false},
		{[]string{"cancel", "id"}, false},
		{[]string{"doctor"}, false},
		{[]string{"listen", "--forward-to", "http://127.0.0.1:3000/hook"}, false},
		{[]string{"webhook", "send", "http://127.0.0.1:3000/hook", "--status", "completed"}, false},
		{[]string{"webhook", "replay", "delivery.json", "--to", "http://127.0.0.1:3000/hook"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			if got := instant(NewCmdRoot(testenv.Factory(ios, "test")), tt.args); got != tt.want {
				t.Fatalf("instant(%q) = %v, want %v", tt.args, got, tt.want)
			}
		})
	}
}
