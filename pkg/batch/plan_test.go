package batch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

// In the sandbox a recorded request dies with the fake API of its run: a
// job whose files are missing, or whose wait was cut, is generated anew
// (the next attempt's key), not re-downloaded or waited for.
func TestPlanEphemeralGeneratesRecordedRequestsAnew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.txt")
	if err := os.WriteFile(path, []byte("a fox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const sum = "0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		name       string
		locked     LockedJob
		ephemeral  bool
		want       Action
		wantReason string
		attempt    int
	}{
		{"missing files, real API", LockedJob{Attempt: 1, RequestID: "r1", Status: higgsfield.StatusCompleted,
			Files: []LockedFile{{Path: "job-1.png", Bytes: 1, SHA256: sum, URL: "http://127.0.0.1:1/x.png", ExpiresAt: "2999-01-01T00:00:00Z"}}}, false, Redownload, "1 of 1 files missing", 1},
		{"missing files, sandbox", LockedJob{Attempt: 1, RequestID: "r1", Status: higgsfield.StatusCompleted,
			Files: []LockedFile{{Path: "job-1.png", Bytes: 1, SHA256: sum, URL: "http://127.0.0.1:1/x.png", ExpiresAt: "2999-01-01T00:00:00Z"}}}, true, Generate, "sandbox", 2},
		{"not downloaded, sandbox", LockedJob{Attempt: 1, RequestID: "r1", Status: higgsfield.StatusCompleted}, true, Generate, "sandbox", 2},
		{"pending, real API", LockedJob{Attempt: 3, RequestID: "r1", Status: higgsfield.StatusQueued}, false, Wait, "request queued", 3},
		{"pending, sandbox", LockedJob{Attempt: 3, RequestID: "r1", Status: higgsfield.StatusQueued}, true, Generate, "sandbox", 4},
		{"never answered, sandbox: same key", LockedJob{Attempt: 1}, true, Generate, "not submitted yet", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(Source{Path: path, Defaults: Defaults{Model: "higgsfield-ai/soul/standard"}})
			if err != nil {
				t.Fatal(err)
			}
			lock, _ := OpenLock("")
			first, err := NewPlan(m, PlanOptions{Lock: lock})
			if err != nil {
				t.Fatal(err)
			}
			l := tt.locked
			l.Name, l.Model, l.Identity = "job-1", "higgsfield-ai/soul/standard", first.Steps[0].Locked.Identity
			lock.Put(l)
			p, err := NewPlan(m, PlanOptions{Lock: lock, Ephemeral: tt.ephemeral})
			if err != nil {
				t.Fatal(err)
			}
			s := p.Steps[0]
			if s.Action != tt.want || !strings.Contains(s.Reason, tt.wantReason) || s.Locked.Attempt != tt.attempt {
				t.Errorf("got %s (%s) attempt %d, want %s (%s) attempt %d", s.Action, s.Reason, s.Locked.Attempt, tt.want, tt.wantReason, tt.attempt)
			}
			if tt.ephemeral && s.Action == Generate && tt.attempt > tt.locked.Attempt && s.Locked.RequestID != "" {
				t.Errorf("the dead request %s is still recorded", s.Locked.RequestID)
			}
		})
	}
}
