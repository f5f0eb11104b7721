package generate

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hf-cli/hf/pkg/cmdutil"
)

// Fuzz seeds: the f.Add calls below plus testdata/fuzz/<FuzzName>/. Plain
// `go test` runs them all; scripts/fuzz.sh runs the fuzzers for a while.

var fuzzSetSeeds = []string{
	"batch_size=4", "strength=0.75", "n=-2", "enhance=true", "seed=null",
	`tags=[1,"a",true]`, `style={"id":"x","w":2}`, `seed="42"`, "seed=9007199254740993",
	"prompt=a red fox", "aspect_ratio=16:9", "image_url=https://x.example.com/a.png?w=1&h=2",
	"a=b=c", "empty=", "  spaced  =v", "s=True", "s=[1,", "=value", "   =value", "novalue", "",
	"n=1 2", "o={} ]", "x= 5 ", "big=1e400", "u=\"\\ud800\"", "p=\xff\xfe", "k\xff=v", "k=\"\xff\"",
	"motions=[{\"id\":\"m1\",\"strength\":0.5}]", "prompt=line one\nline two", "\u00a0k\u3000=v",
}

// FuzzParseSet parses one --set value.
//
// Invariants: no panic; it fails exactly when there is no '=' or the key
// is blank, with a one-line error; otherwise the key is the text before
// the first '=', trimmed, and the value is the JSON reading of the rest
// when that is one valid JSON value (numbers kept as written), else the
// rest as a string; the value marshals to JSON and reads back the same.
func FuzzParseSet(f *testing.F) {
	for _, s := range fuzzSetSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, val, err := ParseSet(s)
		before, raw, found := strings.Cut(s, "=")
		wantKey := strings.TrimSpace(before)
		if !found || wantKey == "" {
			if err == nil {
				t.Fatalf("ParseSet(%q) = %q, %#v; want an error", s, key, val)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, "key=value") {
				t.Fatalf("error %q is not one line naming key=value", msg)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseSet(%q): %v", s, err)
		}
		if key != wantKey {
			t.Fatalf("key %q, want %q", key, wantKey)
		}

		if want, ok := fuzzJSONValue(raw); ok {
			if !reflect.DeepEqual(val, want) {
				t.Fatalf("value %#v, want the JSON value %#v", val, want)
			}
		} else if val != raw {
			t.Fatalf("value %#v, want the raw string %q", val, raw)
		}
		fuzzRoundTrip(t, map[string]any{key: val})
	})
}

// FuzzBuildParams merges a fuzzed --input (stdin), --prompt and --set
// list (NUL-separated, as argv can hold no NUL).
//
// Invariants: no panic; errors are *cmdutil.FlagError (usage, exit 2) on
// one line; on success the body is non-empty, each --set key holds the
// last value given for it, --prompt holds "prompt" unless a --set
// overrides it, the other --input fields are kept as given, and the whole
// body marshals to JSON and reads back the same.
func FuzzBuildParams(f *testing.F) {
	f.Add(`{"prompt":"piped","batch_size":2,"style":{"id":"s"}}`, true, "a fox", true, "batch_size=4\x00seed=7\x00prompt=from set")
	f.Add(``, false, "a fox", true, "")
	f.Add(``, false, "", false, "image_url=https://x/a.png\x00duration=5\x00n=1\x00n=3")
	f.Add(`{}`, true, "", false, "")
	f.Add(`null`, true, "x", true, "")
	f.Add(`[{"prompt":"x"}]`, true, "x", true, "")
	f.Add(`{"seed":9007199254740993} {}`, true, "", false, "")
	f.Add(`{"prompt":"x"}`, true, "", false, "=v")
	f.Add(`{"a":1,"a":2}`, true, "", false, "b=[1,2")
	f.Fuzz(func(t *testing.T, stdin string, useStdin bool, prompt string, promptSet bool, setList string) {
		var sets []string
		if setList != "" {
			sets = strings.Split(setList, "\x00")
		}
		input := ""
		if useStdin {
			input = "-"
		}
		params, err := BuildParams(strings.NewReader(stdin), input, prompt, promptSet, sets)
		if err != nil {
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a usage error", err, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		if len(params) == 0 {
			t.Fatal("empty body accepted")
		}

		want := map[string]any{}
		if useStdin {
			if err := cmdutil.DecodeJSON([]byte(stdin), &want); err != nil || want == nil {
				t.Fatalf("--input %q is not a JSON object (%v) but was accepted", stdin, err)
			}
		}
		if promptSet {
			want["prompt"] = prompt
		}
		for _, s := range sets {
			k, v, err := ParseSet(s)
			if err != nil {
				t.Fatalf("--set %q was accepted by BuildParams but not by ParseSet: %v", s, err)
			}
			want[k] = v
		}
		if !reflect.DeepEqual(params, want) {
			t.Fatalf("body %#v, want %#v", params, want)
		}
		fuzzRoundTrip(t, params)
	})
}

// fuzzJSONValue reads raw as exactly one JSON value with numbers kept as
// written, by another route than decodeJSON: json.Valid, then Unmarshal.
func fuzzJSONValue(raw string) (any, bool) {
	if !json.Valid([]byte(raw)) {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// fuzzRoundTrip checks that body marshals and reads back as itself. JSON
// cannot carry invalid UTF-8 (Marshal substitutes U+FFFD), so the exact
// comparison needs valid strings.
func fuzzRoundTrip(t *testing.T, body map[string]any) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("json.Marshal(%#v): %v", body, err)
	}
	if !fuzzValidUTF8(body) {
		return
	}
	var back map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("reading back %s: %v", data, err)
	}
	if !reflect.DeepEqual(back, body) {
		t.Fatalf("round trip: %#v became %#v (%s)", body, back, data)
	}
}

func fuzzValidUTF8(v any) bool {
	switch v := v.(type) {
	case string:
		return utf8.ValidString(v)
	case []any:
		for _, e := range v {
			if !fuzzValidUTF8(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range v {
			if !utf8.ValidString(k) || !fuzzValidUTF8(e) {
				return false
			}
		}
	}
	return true
}
