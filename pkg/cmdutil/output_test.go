package cmdutil_test

import (
	"encoding/json"
	"errors"
	"github.com/hf-cli/hf/pkg/iostreams"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

func TestOutputFlagsResolve(t *testing.T) {
	tests := []struct {
		name     string
		flags    cmdutil.OutputFlags
		json     bool
		want     job.Output // Stdout compared separately
		stdout   bool
		errHas   string // non-empty: a *cmdutil.FlagError saying this
		errQuote string // the user's template, quoted in the error
	}{
		{name: "empty stays empty", want: job.Output{}},
		{name: "dir and clobber pass through", flags: cmdutil.OutputFlags{Dir: "out", Clobber: true}, want: job.Output{Dir: "out", Clobber: true}},
		{name: "valid template kept", flags: cmdutil.OutputFlags{Dir: "d", Output: "fox-{index}.{ext}"}, want: job.Output{Dir: "d", Template: tmpl("fox-{index}.{ext}")}},
		{name: "every placeholder", flags: cmdutil.OutputFlags{Output: "{date}/{model}/{id}-{index}of{count}.{ext}"},
			want: job.Output{Template: tmpl("{date}/{model}/{id}-{index}of{count}.{ext}")}},
		{name: "valid template with --json", flags: cmdutil.OutputFlags{Output: "{id}.{ext}"}, json: true, want: job.Output{Template: tmpl("{id}.{ext}")}},
		{name: "-o - goes to stdout", flags: cmdutil.OutputFlags{Output: "-", Dir: "d"}, want: job.Output{Dir: "d"}, stdout: true},
		{name: "-o - with --json", flags: cmdutil.OutputFlags{Output: "-"}, json: true, errHas: "-o - writes the file to stdout"},
		{name: "unknown placeholder", flags: cmdutil.OutputFlags{Output: "{nope}.png"}, errHas: "invalid -o template", errQuote: `"{nope}.png"`},
		{name: "unmatched brace", flags: cmdutil.OutputFlags{Output: "{id.png"}, errHas: "unmatched brace", errQuote: `"{id.png"`},
		{name: "absolute", flags: cmdutil.OutputFlags{Output: "/etc/{id}"}, errHas: "absolute"},
		{name: "escapes the directory", flags: cmdutil.OutputFlags{Output: "../{id}.{ext}"}, errHas: "outside the output directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			got, err := tt.flags.Resolve(ios, tt.json)
			if tt.errHas != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), tt.errQuote) {
					t.Fatalf("err = %T %v, want a *cmdutil.FlagError saying %q and %s", err, err, tt.errHas, tt.errQuote)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got.Stdout == out) != tt.stdout || (!tt.stdout && got.Stdout != nil) {
				t.Fatalf("Stdout = %v, want ios.Out: %v", got.Stdout, tt.stdout)
			}
			got.Stdout = nil
			if got.Dir != tt.want.Dir || got.Template.String() != tt.want.Template.String() || got.Clobber != tt.want.Clobber || got.Have != nil {
				t.Fatalf("Resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOutputFlagsRegister(t *testing.T) {
	for _, dirDefault := range []string{"", "."} {
		var o cmdutil.OutputFlags
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		o.Register(cmd, dirDefault)
		cmd.SetArgs([]string{"-o", "{id}.{ext}", "--clobber"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if o.Dir != dirDefault || o.Output != "{id}.{ext}" || !o.Clobber {
			t.Fatalf("dirDefault %q: %+v", dirDefault, o)
		}
		cmd.SetArgs([]string{"--dir", "out", "--output", "-"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if o.Dir != "out" || o.Output != "-" {
			t.Fatalf("long forms: %+v", o)
		}
	}
}

func TestPrintResult(t *testing.T) {
	res := job.Result{
		RequestID: "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", Model: "soul/standard", Status: "completed",
		Files: []journal.File{{Path: "out/a-1.png", URL: "https://x/1"}, {Path: "-", URL: "https://x/2"}, {Path: "out/a-3.png", URL: "https://x/3"}},
	}
	t.Run("paths one per line", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		cmdutil.PrintResult(ios, res, false)
		if out.String() != "out/a-1.png\nout/a-3.png\n" {
			t.Fatalf("stdout %q: want the saved paths, not -", out)
		}
		if errOut.Len() != 0 {
			t.Fatalf("stderr %q", errOut)
		}
	})
	t.Run("only stdout", func(t *testing.T) {
		ios, _, out, _ := iostreams.Test()
		cmdutil.PrintResult(ios, job.Result{RequestID: res.RequestID, Files: []journal.File{{Path: "-"}}}, false)
		if out.Len() != 0 {
			t.Fatalf("stdout %q: the output itself went there", out)
		}
	})
	t.Run("json object", func(t *testing.T) {
		ios, _, out, _ := iostreams.Test()
		cmdutil.PrintResult(ios, res, true)
		dec := json.NewDecoder(strings.NewReader(out.String()))
		var got job.Result
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("stdout %q: %v", out, err)
		}
		if strings.TrimSpace(out.String()[dec.InputOffset():]) != "" {
			t.Fatalf("more than one JSON value: %q", out)
		}
		if got.RequestID != res.RequestID || got.Status != "completed" || got.Model != res.Model || len(got.Files) != 3 || got.Files[1].Path != "-" {
			t.Fatalf("decoded %+v, want %+v", got, res)
		}
		var raw map[string]any
		_ = json.Unmarshal(out.Bytes(), &raw)
		for _, k := range []string{"request_id", "model", "status", "files"} {
			if _, ok := raw[k]; !ok {
				t.Fatalf("no %q in %s", k, out)
			}
		}
	})
	t.Run("json without a request", func(t *testing.T) {
		ios, _, out, _ := iostreams.Test()
		cmdutil.PrintResult(ios, job.Result{Files: []journal.File{{Path: "x"}}}, true)
		if out.Len() != 0 {
			t.Fatalf("stdout %q, want nothing", out)
		}
	})
}

func TestExactArgs(t *testing.T) {
	parent := &cobra.Command{Use: "hf"}
	child := &cobra.Command{Use: "status"}
	parent.AddCommand(child)
	check := cmdutil.ExactArgs(1, "status needs exactly one request ID")
	if err := check(child, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"a", "b"}} {
		err := check(child, args)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Fatalf("%q: err = %v, want a FlagError", args, err)
		}
		if want := "status needs exactly one request ID (got " + strconv.Itoa(len(args)) + " arguments)"; fe.Error() != want {
			t.Fatalf("%q: %q, want %q", args, fe.Error(), want)
		}
		if fe.Hint != "see: hf status --help" {
			t.Fatalf("hint %q", fe.Hint)
		}
	}
	if err := cmdutil.ExactArgs(0, "none")(child, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRequestIDArg(t *testing.T) {
	dir := t.TempDir()
	openJ := func(bool) (*journal.Journal, error) { return journal.Open(dir) }
	j, _ := openJ(false)
	for _, id := range []string{"3f1c0000-0000-4000-8000-000000000001", "3f2d0000-0000-4000-8000-000000000002", "3f2e0000-0000-4000-8000-000000000003"} {
		if err := j.Append(journal.Record{Event: journal.EventSubmitted, RequestID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct{ arg, want string }{
		{"d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"},
		{"D7E6C0F3-6699-4F6C-BB45-2AD7FD9158FF", "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff"},
		{"3f1c", "3f1c0000-0000-4000-8000-000000000001"},
		{"3F2D0000-", "3f2d0000-0000-4000-8000-000000000002"},
		{"3f2e", "3f2e0000-0000-4000-8000-000000000003"},
	} {
		got, err := cmdutil.RequestIDArg(tt.arg, openJ)
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.arg, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ arg, says string }{
		{"", "invalid request id"}, {"../x", "invalid request id"}, {"a/b", "invalid request id"}, {"-abc", "invalid request id"},
		{"a?b=1", "invalid request id"}, {"a b", "invalid request id"}, {"not-a-uuid", "invalid request id"}, {"é", "invalid request id"},
		{"abc", "invalid request id"}, {strings.Repeat("a", 129), "invalid request id"},
		{"d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff0", "invalid request id"},
		{"3f2", "invalid request id"}, {"3f2e0000-0000-4000-8000-000000000003x", "invalid request id"}, {"abcd", "no request in the journal starts with"},
	} {
		_, err := cmdutil.RequestIDArg(tt.arg, openJ)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%q: err = %v, want a FlagError saying %q", tt.arg, err, tt.says)
		}
	}
	var fe *cmdutil.FlagError
	if _, err := cmdutil.RequestIDArg("3f2d0000-0000-4000", openJ); err != nil {
		t.Error(err)
	}
	if _, err := cmdutil.RequestIDArg("3f2d", openJ); err != nil {
		t.Error(err)
	}
	_ = j.Append(journal.Record{Event: journal.EventSubmitted, RequestID: "3f2d0000-0000-4000-8000-00000000000f"})
	if _, err := cmdutil.RequestIDArg("3f2d", openJ); !errors.As(err, &fe) || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("3f2d with two matches: %v", err)
	}
	if _, err := cmdutil.RequestIDArg("3f1c", nil); err == nil {
		t.Error("a prefix without a journal was accepted")
	}
}

// tmpl parses a template the test knows to be valid.
func tmpl(s string) download.Template {
	t, err := download.ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestStdoutTerminal: -o - refuses a terminal stdout (binary on the
// screen), like curl, unless --to-terminal says so.
func TestStdoutTerminal(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	_, err := (&cmdutil.OutputFlags{Output: "-"}).Resolve(ios, false)
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "binary data to the terminal") || !strings.Contains(fe.Hint, "--to-terminal") {
		t.Fatalf("err = %v (hint %q), want a usage error with a hint", err, fe.Hint)
	}
	got, err := (&cmdutil.OutputFlags{Output: "-", ToTerminal: true}).Resolve(ios, false)
	if err != nil || got.Stdout != out {
		t.Fatalf("--to-terminal: %+v, %v", got, err)
	}
	ios.SetStdoutTTY(false)
	if got, err := (&cmdutil.OutputFlags{Output: "-"}).Resolve(ios, false); err != nil || got.Stdout != out {
		t.Fatalf("redirected stdout: %+v, %v", got, err)
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ dir, says string }{
		{dir, ""}, {filepath.Join(dir, "new", "deeper"), ""}, {"", ""},
		{file, "is not a directory"}, {filepath.Join(file, "sub"), "cannot be created"},
	} {
		err := cmdutil.CheckDir(tt.dir)
		if tt.says == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.dir, err)
			}
			continue
		}
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%q: %v, want a usage error saying %q", tt.dir, err, tt.says)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("CheckDir created the directory")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("CheckDir left files behind: %v", entries)
	}
}
