package generate

import (
	"encoding/json"
	"errors"
	"github.com/hf-cli/hf/pkg/iostreams"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
)

// isolate keeps the user's config and environment out of a test.
func isolate(t *testing.T) { testenv.Isolate(t) }

// parse runs `hf generate args...` with a runF that captures the options.
func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	return testenv.Parse(t, testenv.Factory(ios, "test"), NewCmdGenerate, ios.ErrOut, args...)
}

func TestNewCmdGenerateFlags(t *testing.T) {
	const model = "higgsfield-ai/soul/standard"
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *Options)
	}{
		{name: "defaults", args: []string{model, "--prompt", "a fox"}, check: func(t *testing.T, o *Options) {
			if o.Model != model || o.Body.Prompt != "a fox" || !o.Body.PromptSet {
				t.Fatalf("model/prompt: %+v", o)
			}
			if o.Out.Dir != "." || o.Out.Output != "" || o.Out.Clobber {
				t.Fatalf("output flags: %+v", o.Out)
			}
			if o.Timeout != 30*time.Minute || o.PollInterval != 0 {
				t.Fatalf("timeout %s poll %s", o.Timeout, o.PollInterval)
			}
			if o.Body.Sets != nil || o.Body.Input != "" || o.JSON || o.Quiet || o.NoWait || o.Sandbox {
				t.Fatalf("unexpected options: %+v", o)
			}
			if o.IO == nil || o.Engine == nil {
				t.Fatal("dependencies not injected")
			}
		}},
		{name: "no --prompt", args: []string{model, "--set", "image_url=https://x"}, check: func(t *testing.T, o *Options) {
			if o.Body.PromptSet || o.Body.Prompt != "" {
				t.Fatalf("PromptSet %v Prompt %q", o.Body.PromptSet, o.Body.Prompt)
			}
		}},
		{name: "repeatable --set keeps commas", args: []string{model, "-s", "a=1", "--set", "b=x,y", "-s", "c={\"k\":[1,2]}"}, check: func(t *testing.T, o *Options) {
			want := []string{"a=1", "b=x,y", `c={"k":[1,2]}`}
			if !reflect.DeepEqual(o.Body.Sets, want) {
				t.Fatalf("Sets = %q, want %q", o.Body.Sets, want)
			}
		}},
		{name: "model after flags", args: []string{"-p", "x", model}, check: func(t *testing.T, o *Options) {
			if o.Model != model {
				t.Fatalf("Model %q", o.Model)
			}
		}},
		{name: "every flag", args: []string{model, "-i", "body.json", "-d", "out", "-o", "{id}.{ext}", "--clobber", "--json", "-q",
			"--no-wait", "--timeout", "90s", "--poll-interval", "3s"}, check: func(t *testing.T, o *Options) {
			if o.Body.Input != "body.json" || o.Out.Dir != "out" || o.Out.Output != "{id}.{ext}" || !o.Out.Clobber {
				t.Fatalf("input/output: %+v", o)
			}
			if !o.JSON || !o.Quiet || !o.NoWait {
				t.Fatalf("bools: %+v", o)
			}
			if o.Timeout != 90*time.Second || o.PollInterval != 3*time.Second {
				t.Fatalf("timeout %s poll %s", o.Timeout, o.PollInterval)
			}
		}},
		{name: "long forms", args: []string{model, "--input", "-", "--dir", "d", "--output", "-", "--quiet"}, check: func(t *testing.T, o *Options) {
			if o.Body.Input != "-" || o.Out.Dir != "d" || o.Out.Output != "-" || !o.Quiet {
				t.Fatalf("%+v", o)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			o, err := parse(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestNewCmdGenerateTimeoutFromConfig(t *testing.T) {
	const model = "higgsfield-ai/soul/standard"
	tests := []struct {
		name, env string
		args      []string
		want      time.Duration
		wantErr   bool
	}{
		{name: "HF_TIMEOUT", env: "5m", args: []string{model, "-p", "x"}, want: 5 * time.Minute},
		{name: "HF_TIMEOUT bare seconds", env: "45", args: []string{model, "-p", "x"}, want: 45 * time.Second},
		{name: "flag beats HF_TIMEOUT", env: "5m", args: []string{model, "-p", "x", "--timeout", "1m"}, want: time.Minute},
		{name: "bad HF_TIMEOUT", env: "soon", args: []string{model, "-p", "x"}, wantErr: true},
		{name: "bad HF_TIMEOUT ignored when the flag is given", env: "soon", args: []string{model, "-p", "x", "--timeout", "1m"}, want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("HF_TIMEOUT", tt.env)
			o, err := parse(t, tt.args...)
			if tt.wantErr {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), "generate.timeout") {
					t.Fatalf("err = %v, want a FlagError naming generate.timeout", err)
				}
				return
			}
			if err != nil || o.Timeout != tt.want {
				t.Fatalf("timeout %v err %v, want %s", o, err, tt.want)
			}
		})
	}
}

func TestNewCmdGenerateUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		flagErr  bool // a *cmdutil.FlagError (cobra's own flag errors are typed by root)
		contains string
	}{
		{name: "no model", args: []string{"--prompt", "x"}, flagErr: true, contains: "MODEL"},
		{name: "two models", args: []string{"a/b", "c/d", "--prompt", "x"}, flagErr: true, contains: "got 2"},
		{name: "model with ..", args: []string{"../estimate", "-p", "x"}, flagErr: true, contains: "invalid model"},
		{name: "model with a space", args: []string{"soul standard", "-p", "x"}, flagErr: true, contains: "invalid model"},
		{name: "model that is a URL", args: []string{"https://evil.example.com/x", "-p", "x"}, flagErr: true, contains: "invalid model"},
		{name: "zero timeout", args: []string{"a/b", "-p", "x", "--timeout", "0s"}, flagErr: true, contains: "--timeout"},
		{name: "negative timeout", args: []string{"a/b", "-p", "x", "--timeout", "-5m"}, flagErr: true, contains: "--timeout"},
		{name: "unparsable timeout", args: []string{"a/b", "-p", "x", "--timeout", "soon"}, contains: "--timeout"},
		{name: "negative poll interval", args: []string{"a/b", "-p", "x", "--poll-interval", "-1s"}, flagErr: true, contains: "--poll-interval"},
		{name: "unknown flag", args: []string{"a/b", "--frobnicate"}, contains: "frobnicate"},
		{name: "empty prompt", args: []string{"a/b", "-p", ""}, flagErr: true, contains: "--prompt is empty"},
		{name: "blank prompt", args: []string{"a/b", "-p", " \t"}, flagErr: true, contains: "--prompt is empty"},
		{name: "poll interval under the floor", args: []string{"a/b", "-p", "x", "--poll-interval", "20ms"}, flagErr: true, contains: "below the 1s floor"},
		{name: "poll interval 1ns", args: []string{"a/b", "-p", "x", "--poll-interval", "1ns"}, flagErr: true, contains: "below the 1s floor"},
		{name: "no-wait in the sandbox", args: []string{"a/b", "-p", "x", "--no-wait", "--sandbox"}, flagErr: true, contains: "--no-wait has no use with --sandbox"},
		{name: "no-wait with -o -", args: []string{"a/b", "-p", "x", "--no-wait", "-o", "-"}, flagErr: true, contains: "--no-wait downloads nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			_, err := parse(t, tt.args...)
			if err == nil {
				t.Fatal("want an error")
			}
			var fe *cmdutil.FlagError
			if tt.flagErr && !errors.As(err, &fe) {
				t.Fatalf("err = %T %v, want *cmdutil.FlagError", err, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("err %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func TestParseSet(t *testing.T) {
	tests := []struct {
		in      string
		key     string
		val     any
		wantErr bool
	}{
		{in: "batch_size=4", key: "batch_size", val: float64(4)},
		{in: "strength=0.75", key: "strength", val: 0.75},
		{in: "n=-2", key: "n", val: float64(-2)},
		{in: "enhance=true", key: "enhance", val: true},
		{in: "enhance=false", key: "enhance", val: false},
		{in: "seed=null", key: "seed", val: nil},
		{in: "tags=[1,\"a\",true]", key: "tags", val: []any{float64(1), "a", true}},
		{in: `style={"id":"x","w":2}`, key: "style", val: map[string]any{"id": "x", "w": float64(2)}},
		{in: `seed="42"`, key: "seed", val: "42"},
		{in: "prompt=a red fox", key: "prompt", val: "a red fox"},
		{in: "aspect_ratio=16:9", key: "aspect_ratio", val: "16:9"},
		{in: "image_url=https://x.example.com/a.png?w=1&h=2", key: "image_url", val: "https://x.example.com/a.png?w=1&h=2"},
		{in: "a=b=c", key: "a", val: "b=c"},
		{in: "empty=", key: "empty", val: ""},
		{in: "  spaced  =v", key: "spaced", val: "v"},
		{in: "s=True", key: "s", val: "True"},
		{in: "s=[1,", key: "s", val: "[1,"},
		{in: "=value", wantErr: true},
		{in: "   =value", wantErr: true},
		{in: "novalue", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, v, err := ParseSet(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSet(%q) = %q, %v; want an error", tt.in, k, v)
				}
				if !strings.Contains(err.Error(), "key=value") {
					t.Fatalf("error %q does not show the expected form", err)
				}
				return
			}
			if err != nil || k != tt.key || !sameJSON(t, v, tt.val) {
				t.Fatalf("ParseSet(%q) = %q, %#v, %v; want %q, %#v", tt.in, k, v, err, tt.key, tt.val)
			}
		})
	}
}

func TestParseSetKeepsLargeIntegers(t *testing.T) {
	_, v, err := ParseSet("seed=9007199254740993")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"seed": v})
	if string(body) != `{"seed":9007199254740993}` {
		t.Fatalf("body %s", body)
	}
}

func TestBuildParams(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	obj := file("obj.json", `{"prompt":"from file","batch_size":2,"style":{"id":"s"}}`)
	empty := file("empty.json", `{}`)
	array := file("array.json", `[{"prompt":"x"}]`)
	null := file("null.json", `null`)
	number := file("number.json", `42`)
	broken := file("broken.json", `{"prompt":`)

	tests := []struct {
		name      string
		stdin     string
		input     string
		prompt    string
		promptSet bool
		sets      []string
		want      map[string]any
		errHas    string
	}{
		{name: "prompt only", prompt: "a fox", promptSet: true, want: map[string]any{"prompt": "a fox"}},
		{name: "prompt and sets", prompt: "a fox", promptSet: true, sets: []string{"batch_size=2", "enhance=true", "aspect_ratio=16:9"},
			want: map[string]any{"prompt": "a fox", "batch_size": float64(2), "enhance": true, "aspect_ratio": "16:9"}},
		{name: "sets only", sets: []string{"image_url=https://x/a.png", "duration=5"}, want: map[string]any{"image_url": "https://x/a.png", "duration": float64(5)}},
		{name: "later --set wins", sets: []string{"n=1", "n=3"}, want: map[string]any{"n": float64(3)}},
		{name: "--set beats --prompt", prompt: "p", promptSet: true, sets: []string{"prompt=from set"}, want: map[string]any{"prompt": "from set"}},
		{name: "input file", input: obj, want: map[string]any{"prompt": "from file", "batch_size": float64(2), "style": map[string]any{"id": "s"}}},
		{name: "--set overrides --input", input: obj, sets: []string{"batch_size=4", "seed=7"},
			want: map[string]any{"prompt": "from file", "batch_size": float64(4), "style": map[string]any{"id": "s"}, "seed": float64(7)}},
		{name: "--prompt overrides --input", input: obj, prompt: "from flag", promptSet: true,
			want: map[string]any{"prompt": "from flag", "batch_size": float64(2), "style": map[string]any{"id": "s"}}},
		{name: "input from stdin", stdin: `{"prompt":"piped","n":1}`, input: "-", want: map[string]any{"prompt": "piped", "n": float64(1)}},
		{name: "stdin and sets", stdin: `{"prompt":"piped"}`, input: "-", sets: []string{"prompt=set"}, want: map[string]any{"prompt": "set"}},
		{name: "empty object plus prompt", input: empty, prompt: "x", promptSet: true, want: map[string]any{"prompt": "x"}},
		{name: "nothing given", errHas: "nothing to generate"},
		{name: "empty object alone", input: empty, errHas: "nothing to generate"},
		{name: "input is an array", input: array, errHas: "JSON object"},
		{name: "input is null", input: null, errHas: "JSON object"},
		{name: "input is a number", input: number, errHas: "JSON object"},
		{name: "input is broken", input: broken, errHas: "JSON object"},
		{name: "stdin not JSON", stdin: "prompt=x", input: "-", errHas: "JSON object"},
		{name: "stdin empty", stdin: "", input: "-", errHas: "JSON object"},
		{name: "missing file", input: filepath.Join(dir, "nope.json"), errHas: "--input"},
		{name: "bad --set", prompt: "x", promptSet: true, sets: []string{"=v"}, errHas: "key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildParams(strings.NewReader(tt.stdin), tt.input, tt.prompt, tt.promptSet, tt.sets)
			if tt.errHas != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) {
					t.Fatalf("got %v, %v; want a *cmdutil.FlagError", got, err)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %q does not mention %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error on several lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, got, tt.want) {
				t.Fatalf("BuildParams = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// sameJSON compares values as they would be sent: json.Number(4) and 4 are
// the same body field, "4" is not.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
