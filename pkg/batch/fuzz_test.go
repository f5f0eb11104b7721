package batch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: no manifest makes Load panic; it gives jobs or an *Error.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"defaults: {model: a/b}\njobs:\n  - name: a\n    input: {prompt: x}\n    from: {u: b}\n  - name: b\n    input: {prompt: y}\n",
		"- {model: a/b, input: {prompt: x, seed: 1e3}}\n- &x {model: a/b, input: {prompt: y}}\n- *x\n",
		`{"jobs": [{"name": "a", "model": "a/b", "input": {"prompt": "p", "images": ["@x.png"]}}]}`,
		"{\"model\": \"a/b\", \"input\": {\"prompt\": \"x\"}}\n{\"from\": {\"image_url\": \"job-1#2\"}}\n",
		"one\ntwo\n\n",
	} {
		for _, ext := range []string{".yaml", ".json", ".jsonl", ".txt"} {
			f.Add(s, ext)
		}
	}
	f.Fuzz(func(t *testing.T, data, ext string) {
		switch ext {
		case ".yaml", ".json", ".jsonl", ".txt":
		default:
			return
		}
		p := filepath.Join(t.TempDir(), "m"+ext)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(Source{Path: p, Defaults: Defaults{Model: "d/m"}})
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v is a %T, want *Error", err, err)
			}
			return
		}
		if len(m.Jobs) == 0 {
			t.Fatal("no jobs and no error")
		}
		seen := map[string]bool{}
		for _, j := range m.Jobs {
			if seen[j.Name] || j.Model == "" || len(j.Input) == 0 {
				t.Fatalf("job %+v", j)
			}
			seen[j.Name] = true
		}
		n := 0
		for k := 1; k <= 3; k++ {
			n += len(m.Shard(k, 3))
		}
		if n != len(m.Jobs) {
			t.Fatalf("3 shards hold %d jobs of %d", n, len(m.Jobs))
		}
		if _, err := NewPlan(m, PlanOptions{}); err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("plan error %v is a %T", err, err)
			}
		}
	})
}
