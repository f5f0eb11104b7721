package root

import (
	"bytes"
	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/iostreams"
	"os"
	"path/filepath"
	"testing"
)

// TestCompletionsInSync fails when completions/ drifts from `hf completion`.
// Regenerate with: HF_UPDATE_COMPLETIONS=1 go test ./pkg/cmd/root -run TestCompletionsInSync
func TestCompletionsInSync(t *testing.T) {
	for _, c := range []struct{ shell, file string }{
		{"bash", "hf.bash"}, {"zsh", "hf.zsh"}, {"fish", "hf.fish"}, {"powershell", "hf.ps1"},
	} {
		t.Run(c.shell, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			cmd := NewCmdRoot(testenv.Factory(ios, "test"))
			cmd.SetArgs([]string{"completion", c.shell})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "..", "..", "completions", c.file)
			if os.Getenv("HF_UPDATE_COMPLETIONS") != "" {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (regenerate with HF_UPDATE_COMPLETIONS=1)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("completions/%s is out of date: run HF_UPDATE_COMPLETIONS=1 go test ./pkg/cmd/root -run TestCompletionsInSync", c.file)
			}
		})
	}
}
