package batch

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFormats(t *testing.T) {
	tests := []struct {
		name, file, content string
		defaults            Defaults
		want                []string // name model output per job, and input JSON
	}{
		{"yaml with defaults", "m.yaml", `
defaults:
  model: a/b/c
  input: {aspect_ratio: "16:9", seed: 1}
  output: "{name}-{index}.{ext}"
jobs:
  - name: hero
    input: {prompt: "a lighthouse", seed: 12345678901234567890}
  - name: vid
    model: x/y/z
    input: {prompt: "waves"}
    from: {image_url: "hero#2"}
  - input: {prompt: third}
`, Defaults{}, []string{
			`hero a/b/c hero-{index}.{ext} {"aspect_ratio":"16:9","prompt":"a lighthouse","seed":12345678901234567890}`,
			`vid x/y/z vid-{index}.{ext} {"aspect_ratio":"16:9","prompt":"waves","seed":1} image_url=hero#2`,
			`job-3 a/b/c job-3-{index}.{ext} {"aspect_ratio":"16:9","prompt":"third","seed":1}`,
		}},
		{"json", "m.json", `{"jobs": [{"name": "a", "model": "m/n", "input": {"prompt": "p\u00e9\/", "n": 1.5, "seed": 12345678901234567890}}]}`, Defaults{},
			[]string{`a m/n a-{index}.{ext} {"n":1.5,"prompt":"pé/","seed":12345678901234567890}`}},
		{"json list with tabs", "m.json", "[\n\t{\"model\": \"m/n\",\n\t \"input\": {\"prompt\": \"p\"}}\n]", Defaults{},
			[]string{`job-1 m/n job-1-{index}.{ext} {"prompt":"p"}`}},
		{"jsonl with command-line defaults under the job", "m.jsonl", "{\"input\": {\"prompt\": \"one\"}}\n\n{\"name\": \"two\", \"model\": \"q/r\", \"input\": {\"prompt\": \"two\", \"k\": 2}}\n",
			Defaults{Model: "d/e", Input: map[string]any{"k": "cli"}, Output: "out/{name}.{ext}"},
			[]string{`job-1 d/e out/job-1.{ext} {"k":"cli","prompt":"one"}`, `two q/r out/two.{ext} {"k":2,"prompt":"two"}`}},
		{"yaml merge keys and aliases", "m.yaml", `
defaults: &d
  model: a/b
  input: &in {aspect_ratio: "1:1", seed: 1}
jobs:
  - name: one
    input: {<<: *in, prompt: p, seed: 2}
  - <<: *d
    name: two
    input: {<<: [*in], prompt: q}
`, Defaults{}, []string{
			`one a/b one-{index}.{ext} {"aspect_ratio":"1:1","prompt":"p","seed":2}`,
			`two a/b two-{index}.{ext} {"aspect_ratio":"1:1","prompt":"q","seed":1}`,
		}},
		{"byte order marks and CRLF", "m.yaml", "\xef\xbb\xbfjobs:\r\n  - model: m/n\r\n    input: {prompt: p}\r\n", Defaults{},
			[]string{`job-1 m/n job-1-{index}.{ext} {"prompt":"p"}`}},
		{"json with a byte order mark", "m.json", "\xef\xbb\xbf{\"jobs\": [{\"model\": \"m/n\", \"input\": {\"prompt\": \"p\"}}]}", Defaults{},
			[]string{`job-1 m/n job-1-{index}.{ext} {"prompt":"p"}`}},
		{"jsonl with a byte order mark and CRLF", "m.jsonl", "\xef\xbb\xbf{\"model\": \"m/n\", \"input\": {\"prompt\": \"p\"}}\r\n", Defaults{},
			[]string{`job-1 m/n job-1-{index}.{ext} {"prompt":"p"}`}},
		{"text with a byte order mark and CRLF", "p.txt", "\xef\xbb\xbfa fox\r\n", Defaults{Model: "m/x"},
			[]string{`job-1 m/x job-1-{index}.{ext} {"prompt":"a fox"}`}},
		{"text comments", "p.txt", "# a comment\na red fox\n  # indented comment\n\\#1 fox\na # mid-line is the prompt's\n\\\\# stays\n", Defaults{Model: "m/x"},
			[]string{`job-1 m/x job-1-{index}.{ext} {"prompt":"a red fox"}`, `job-2 m/x job-2-{index}.{ext} {"prompt":"#1 fox"}`,
				`job-3 m/x job-3-{index}.{ext} {"prompt":"a # mid-line is the prompt's"}`, `job-4 m/x job-4-{index}.{ext} {"prompt":"\\\\# stays"}`}},
		{"text", "p.txt", "a fox\n\n  a hare  \n", Defaults{Model: "m/x"},
			[]string{`job-1 m/x job-1-{index}.{ext} {"prompt":"a fox"}`, `job-2 m/x job-2-{index}.{ext} {"prompt":"a hare"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(Source{Path: write(t, tt.file, tt.content), Defaults: tt.defaults})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Jobs) != len(tt.want) {
				t.Fatalf("%d jobs, want %d", len(m.Jobs), len(tt.want))
			}
			for i, j := range m.Jobs {
				in, _ := jsonString(j.Input)
				got := j.Name + " " + j.Model + " " + j.Output + " " + in
				for f, r := range j.From {
					got += " " + f + "=" + r.String()
				}
				if got != tt.want[i] {
					t.Errorf("job %d:\n got %s\nwant %s", i+1, got, tt.want[i])
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                string // the error, after the file name
	}{
		{"missing model", "m.yaml", "jobs:\n  - name: a\n    input: {prompt: x}\n", ":2: job a: no model"},
		{"duplicate name", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    input: {prompt: x}\n  - name: a\n    input: {prompt: y}\n", ":5: job a: duplicate name (also job 1)"},
		{"unknown from", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    input: {prompt: x}\n    from: {image_url: nope}\n", `:5: job a: from.image_url names unknown job "nope"`},
		{"cycle", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    input: {prompt: x}\n    from: {u: b}\n  - name: b\n    input: {prompt: y}\n    from: {u: a}\n", ":5: job a: from makes a cycle: a -> b -> a"},
		{"self", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    input: {prompt: x}\n    from: {u: a}\n", ":5: job a: from.u names the job itself"},
		{"bad yaml", "m.yaml", "jobs:\n  - name: [a\n", ":2:"},
		{"unknown field", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    promt: x\n", `:4: job a: unknown field "promt"`},
		{"jsonl not json", "m.jsonl", "{\"model\": \"a/b\", \"input\": {\"prompt\": \"x\"}}\n{nope\n", ":2: job job-2: not JSON"},
		{"jsonl missing model", "m.jsonl", "{\"model\": \"a/b\", \"input\": {\"prompt\": \"x\"}}\n\n{\"input\": {\"prompt\": \"y\"}}\n", ":3: job job-2: no model"},
		{"text without model", "p.txt", "one\ntwo\n", ":1: job job-1: no model"},
		{"same output file", "m.yaml", "defaults: {model: a/b, output: same.png}\njobs:\n  - input: {prompt: x}\n  - input: {prompt: y}\n", ":4: job job-2: writes the same file as job job-1"},
		{"bad name", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: ../x\n    input: {prompt: x}\n", ":3: job ../x: invalid name"},
		{"no jobs", "m.yaml", "defaults: {model: a/b}\n", ":1: no jobs"},
		{"duplicate key", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    input: {prompt: x, prompt: y}\n", `:4: duplicate key "prompt"`},
		{"tab", "m.yaml", "jobs:\n  - name: a\n\tinput: x\n", ":2: found a tab"},
		{"bad extension", "m.toml", "", ": unknown manifest type"},
		{"json duplicate name", "m.json", "{\"jobs\": [\n {\"name\": \"a\", \"model\": \"a/b\", \"input\": {\"prompt\": \"x\"}},\n {\"name\": \"a\",\n  \"model\": \"a/b\", \"input\": {\"prompt\": \"y\"}}]}", ":3: job a: duplicate name (also job 1)"},
		{"json duplicate key", "m.json", "{\"jobs\": [\n {\"name\": \"a\",\n \"name\": \"b\"}]}", `:3: duplicate key "name"`},
		{"json syntax", "m.json", "{\"jobs\": [\n {\"name\": \"a\",\n \"input\": {\"prompt\": x}}]}", ":3: not JSON: invalid character 'x'"},
		{"json unknown from", "m.json", "{\"defaults\": {\"model\": \"a/b\"},\n \"jobs\": [\n {\"name\": \"a\", \"input\": {\"prompt\": \"x\"}},\n\n {\"input\": {\"prompt\": \"y\"},\n  \"from\": {\"image_url\": \"zz\"}}]}", `:6: job job-2: from.image_url names unknown job "zz"`},
		{"json trailing", "m.json", "[{\"model\": \"a/b\", \"input\": {\"prompt\": \"x\"}}]\n[]", ":2: more after the JSON value"},
		{"yaml two documents", "m.yaml", "jobs:\n- model: a/b\n  input: {prompt: x}\n---\njobs: []\n", ":4: more than one YAML document"},
		{"billion laughs", "m.yaml", laughs(), `:5: YAML aliases expand to more than`},
		{"newline in output", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    input: {prompt: x}\n    output: \"a\\nb-{index}.{ext}\"\n", `:5: job a: output template "a\nb-{index}.{ext}" has a control character`},
		{"merge of a scalar", "m.yaml", "defaults: {model: a/b}\njobs:\n  - name: a\n    input: {<<: x, prompt: y}\n", `:4: << merges a mapping`},
		{"input not object", "m.yaml", "defaults: {model: a/b}\njobs:\n  - input: [1]\n", ":3: job job-1: input: want an object, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.file, tt.content)
			_, err := Load(Source{Path: path})
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if got := strings.TrimPrefix(err.Error(), path); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error %q, want it to start with %q", got, tt.want)
			}
		})
	}
}

func TestShardCoversEveryJobOnceAndKeepsFromTogether(t *testing.T) {
	var b strings.Builder
	b.WriteString("defaults: {model: a/b}\njobs:\n")
	for i := range 23 {
		b.WriteString("  - name: j" + strconv.Itoa(i) + "\n    input: {prompt: p}\n")
		if i%5 == 1 {
			b.WriteString("    from: {image_url: j" + strconv.Itoa(i-1) + "}\n")
		}
	}
	m, err := Load(Source{Path: write(t, "m.yaml", b.String())})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 5; n++ {
		seen := map[int]int{}
		for k := 1; k <= n; k++ {
			part := m.Shard(k, n)
			for _, i := range part {
				seen[i] = k
			}
			if n > 1 && (len(part) < 23/n-2 || len(part) > 23/n+3) {
				t.Errorf("shard %d/%d has %d jobs: unbalanced", k, n, len(part))
			}
		}
		if len(seen) != 23 {
			t.Fatalf("n=%d: %d jobs covered, want 23", n, len(seen))
		}
		for i, j := range m.Jobs {
			for _, d := range j.deps {
				if seen[d] != seen[i] {
					t.Errorf("n=%d: %s and its dependency in shards %d and %d", n, j.Name, seen[i], seen[d])
				}
			}
		}
	}
	for _, bad := range []string{"0/2", "3/2", "1", "a/b", "1/0"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}

// laughs is a "billion laughs" manifest: 10 levels of 10 aliases each,
// under 1 KiB of YAML for 10^10 strings.
func laughs() string {
	var b strings.Builder
	b.WriteString("defaults: {model: a/b}\njobs:\n  - input:\n      prompt: x\n      l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("      l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " [")
		for k := range 10 {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// A large JSON manifest loads in time linear in its size: finding each
// job's line once counted the newlines from the top of the file for every
// token (20,000 jobs took 30 s).
func TestLoadLargeJSONIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a 2.6 MB manifest")
	}
	var b strings.Builder
	b.WriteString("{\"jobs\": [\n")
	const n = 20000
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(` {"name": "j` + strconv.Itoa(i) + `",` + "\n" + `  "model": "a/b", "input": {"prompt": "p", "seed": ` + strconv.Itoa(i) + `}}`)
	}
	b.WriteString("\n]}\n")
	path := write(t, "m.json", b.String())
	start := time.Now()
	m, err := Load(Source{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("loading %d jobs took %v", n, took)
	}
	if len(m.Jobs) != n || m.Jobs[n-1].Line != 2*n {
		t.Fatalf("%d jobs, the last on line %d; want %d on line %d", len(m.Jobs), m.Jobs[n-1].Line, n, 2*n)
	}
}
