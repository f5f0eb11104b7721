// Package batch owns hf batch's unit of work: manifests (YAML, JSON, JSON
// Lines, plain text) and the defaults laid under their jobs, each job's
// identity and Idempotency-Key, the lock file beside the manifest, the plan
// (generate, up to date, re-download, wait), sharding, and the scheduler
// that runs the plan over pkg/job's Runner with a bound on requests in
// flight, `from` dependencies and queue-full back-off. It never prints; it
// reports through Events and returns a Report.
package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
)

// Manifest formats.
const (
	FormatYAML  = "yaml"
	FormatJSON  = "json"
	FormatJSONL = "jsonl"
	FormatText  = "text"
)

// DefaultTemplate names a job's outputs "<name>-<index>.<ext>": stable
// across runs, so a lock file and a script can rely on it.
const DefaultTemplate = "{name}-{index}.{ext}"

// maxManifest bounds what is read from a manifest (stdin included).
const maxManifest = 64 << 20

// Defaults are what the command line lays under the manifest's own
// defaults: --model, --set, -o.
type Defaults struct {
	Model  string
	Input  map[string]any
	Output string
}

// Source says where a manifest comes from.
type Source struct {
	// Path is the manifest file, or "-" for Stdin.
	Path  string
	Stdin io.Reader
	// Format overrides the one the extension gives ("-" is JSON Lines).
	Format string
	// Defaults from the command line, under the file's.
	Defaults Defaults
}

// Ref is one `from` entry: the URL of Job's output number Output (1-based).
type Ref struct {
	Job    string
	Output int
}

func (r Ref) String() string {
	if r.Output == 1 {
		return r.Job
	}
	return r.Job + "#" + strconv.Itoa(r.Output)
}

// Job is one generation of a manifest, with the defaults merged in.
type Job struct {
	// Index is the 1-based position in the manifest.
	Index int
	Name  string
	Model string
	Input map[string]any
	// Output is the file name template ({name} already expanded), and tmpl
	// the same parsed.
	Output string
	tmpl   download.Template
	// From maps an input field to the job whose output URL fills it.
	From map[string]Ref
	// Line is where the job starts in the file (0 when unknown).
	Line int

	deps     []int  // indexes (0-based) of the jobs From names, sorted, unique
	identity string // set by Plan
}

// Manifest is a parsed, validated manifest.
type Manifest struct {
	// Path is the file as given ("-" for stdin); Dir is where relative
	// paths (outputs, @files, the lock) are taken from.
	Path, Dir string
	Format    string
	Jobs      []*Job
	byName    map[string]int
}

// Job returns the job called name.
func (m *Manifest) Job(name string) (*Job, bool) {
	i, ok := m.byName[name]
	if !ok {
		return nil, false
	}
	return m.Jobs[i], true
}

// Error is a manifest that cannot run, located as precisely as known:
// "file:line: job NAME: reason". Nothing has been spent when it is returned.
type Error struct {
	File string
	Line int
	Job  string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Job != "" {
		fmt.Fprintf(&b, "job %s: ", e.Job)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// FormatOf gives the format a manifest path implies.
func FormatOf(path string) (string, error) {
	if path == "-" {
		return FormatJSONL, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return FormatYAML, nil
	case ".json":
		return FormatJSON, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".txt":
		return FormatText, nil
	}
	return "", fmt.Errorf("%s: unknown manifest type %q: use .yaml, .yml, .json, .jsonl or .txt (or - for JSON Lines on stdin)", path, filepath.Ext(path))
}

// rawJob is a job as written, before defaults.
type rawJob struct {
	line   int
	fields map[string]any
	lines  map[string]int // line of each field, when known
}

// Load reads, parses and validates a manifest. Every error is an *Error
// naming the file, the line when known, and the job.
func Load(src Source) (*Manifest, error) {
	format := src.Format
	if format == "" {
		f, err := FormatOf(src.Path)
		if err != nil {
			return nil, &Error{File: src.Path, Err: errors.New(strings.TrimPrefix(err.Error(), src.Path+": "))}
		}
		format = f
	}
	m := &Manifest{Path: src.Path, Format: format, Dir: "."}
	var data []byte
	var err error
	if src.Path == "-" {
		if src.Stdin == nil {
			return nil, &Error{File: "-", Err: errors.New("no standard input")}
		}
		data, err = io.ReadAll(io.LimitReader(src.Stdin, maxManifest+1))
	} else {
		m.Dir = filepath.Dir(src.Path)
		data, err = os.ReadFile(src.Path)
	}
	if err != nil {
		return nil, &Error{File: src.Path, Err: err}
	}
	if len(data) > maxManifest {
		return nil, &Error{File: src.Path, Err: fmt.Errorf("manifest is larger than %d MiB", maxManifest>>20)}
	}
	// Editors on Windows start UTF-8 files with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var defaults rawJob
	var raws []rawJob
	switch format {
	case FormatYAML:
		defaults, raws, err = parseDocument(src.Path, data)
	case FormatJSON:
		defaults, raws, err = parseJSON(src.Path, data)
	case FormatJSONL:
		raws, err = parseLines(src.Path, data)
	case FormatText:
		raws = parseText(data)
	default:
		err = &Error{File: src.Path, Err: fmt.Errorf("unknown manifest format %q", format)}
	}
	if err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, &Error{File: src.Path, Err: errors.New("no jobs")}
	}
	if err := m.build(src, defaults, raws); err != nil {
		return nil, err
	}
	return m, nil
}

// Regular expressions are compiled on first use: hf's start-up pays for
// none it does not use.
var nameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`) })

var knownFields = []string{"name", "model", "input", "output", "from"}

func (m *Manifest) build(src Source, defaults rawJob, raws []rawJob) error {
	fail := func(r rawJob, job, field string, format string, a ...any) error {
		line := r.line
		if l, ok := r.lines[field]; ok && l > 0 {
			line = l
		}
		return &Error{File: src.Path, Line: line, Job: job, Err: fmt.Errorf(format, a...)}
	}
	for k := range defaults.fields {
		if k != "model" && k != "input" && k != "output" {
			return fail(defaults, "", k, "defaults: unknown field %q (known: model, input, output)", k)
		}
	}
	defModel, err := stringField(defaults.fields, "model")
	if err != nil {
		return fail(defaults, "", "model", "defaults: %v", err)
	}
	defOutput, err := stringField(defaults.fields, "output")
	if err != nil {
		return fail(defaults, "", "output", "defaults: %v", err)
	}
	defInput, err := objectField(defaults.fields, "input")
	if err != nil {
		return fail(defaults, "", "input", "defaults: %v", err)
	}
	m.byName = make(map[string]int, len(raws))
	m.Jobs = make([]*Job, 0, len(raws))
	froms := make([]map[string]string, len(raws))
	for i, r := range raws {
		j := &Job{Index: i + 1, Line: r.line}
		name, err := stringField(r.fields, "name")
		if err != nil {
			return fail(r, fmt.Sprintf("job-%d", i+1), "name", "%v", err)
		}
		if name == "" {
			name = fmt.Sprintf("job-%d", i+1)
		} else if !nameRe().MatchString(name) {
			return fail(r, name, "name", "invalid name: use up to 100 letters, digits or ._- (starting with a letter or digit)")
		}
		j.Name = name
		for k := range r.fields {
			if !slices.Contains(knownFields, k) {
				return fail(r, name, k, "unknown field %q (known: %s)", k, strings.Join(knownFields, ", "))
			}
		}
		if prev, dup := m.byName[name]; dup {
			return fail(r, name, "name", "duplicate name (also job %d)", prev+1)
		}
		m.byName[name] = i
		if j.Model, err = stringField(r.fields, "model"); err != nil {
			return fail(r, name, "model", "%v", err)
		}
		j.Model = firstNonEmpty(j.Model, defModel, src.Defaults.Model)
		if j.Model == "" {
			return fail(r, name, "model", "no model: set model in the job or in defaults, or pass --model")
		}
		if err := higgsfield.ValidModel(j.Model); err != nil {
			return fail(r, name, "model", "%v", err)
		}
		input, err := objectField(r.fields, "input")
		if err != nil {
			return fail(r, name, "input", "%v", err)
		}
		// Lower layers first: command line, file defaults, the job.
		j.Input = map[string]any{}
		maps.Copy(j.Input, src.Defaults.Input)
		maps.Copy(j.Input, defInput)
		maps.Copy(j.Input, input)
		if len(j.Input) == 0 {
			return fail(r, name, "input", "no input: give the job an input (e.g. a prompt)")
		}
		out, err := stringField(r.fields, "output")
		if err != nil {
			return fail(r, name, "output", "%v", err)
		}
		tmpl := firstNonEmpty(out, defOutput, src.Defaults.Output, DefaultTemplate)
		if strings.ContainsFunc(tmpl, unicode.IsControl) {
			// A newline in a path would split it in two on stdout and in
			// GITHUB_OUTPUT.
			return fail(r, name, "output", "output template %q has a control character (a newline, a tab, ...)", tmpl)
		}
		j.Output = strings.ReplaceAll(tmpl, "{name}", name)
		if j.tmpl, err = download.ParseTemplate(j.Output); err != nil {
			return fail(r, name, "output", "%v", err)
		}
		if froms[i], err = fromField(r.fields); err != nil {
			return fail(r, name, "from", "%v", err)
		}
		m.Jobs = append(m.Jobs, j)
	}
	// from: every name known, no cycle.
	for i, j := range m.Jobs {
		if len(froms[i]) == 0 {
			continue
		}
		j.From = make(map[string]Ref, len(froms[i]))
		for _, field := range slices.Sorted(maps.Keys(froms[i])) {
			ref, err := parseRef(froms[i][field])
			if err != nil {
				return fail(raws[i], j.Name, "from", "from.%s: %v", field, err)
			}
			d, ok := m.byName[ref.Job]
			if !ok {
				return fail(raws[i], j.Name, "from", "from.%s names unknown job %q", field, ref.Job)
			}
			if d == i {
				return fail(raws[i], j.Name, "from", "from.%s names the job itself", field)
			}
			j.From[field] = ref
			if !slices.Contains(j.deps, d) {
				j.deps = append(j.deps, d)
			}
		}
		slices.Sort(j.deps)
	}
	if cycle := m.cycle(); cycle != nil {
		first := m.Jobs[cycle[0]]
		names := make([]string, len(cycle))
		for k, c := range cycle {
			names[k] = m.Jobs[c].Name
		}
		return fail(raws[cycle[0]], first.Name, "from", "from makes a cycle: %s -> %s", strings.Join(names, " -> "), first.Name)
	}
	// Two jobs writing the same file would overwrite each other.
	seen := map[string]string{}
	for i, j := range m.Jobs {
		if strings.Contains(j.Output, "{id}") {
			continue
		}
		p, _ := j.tmpl.Render(download.Vars{Model: j.Model, Index: 1, Count: 1, Ext: "ext"})
		if other, dup := seen[p]; dup {
			return fail(raws[i], j.Name, "output", "writes the same file as job %s (%s): give one of them another output", other, p)
		}
		seen[p] = j.Name
	}
	return nil
}

// cycle returns the indexes of a dependency cycle, or nil.
func (m *Manifest) cycle() []int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(m.Jobs))
	var stack []int
	var found []int
	var visit func(int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range m.Jobs[i].deps {
			switch color[d] {
			case grey:
				at := slices.Index(stack, d)
				found = slices.Clone(stack[at:])
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range m.Jobs {
		if color[i] == white && visit(i) {
			return found
		}
	}
	return nil
}

func parseRef(s string) (Ref, error) {
	name, idx, hasIdx := strings.Cut(strings.TrimSpace(s), "#")
	r := Ref{Job: name, Output: 1}
	if name == "" {
		return r, errors.New("empty job name")
	}
	if hasIdx {
		n, err := strconv.Atoi(idx)
		if err != nil || n < 1 {
			return r, fmt.Errorf("%q: want NAME or NAME#N with N from 1", s)
		}
		r.Output = n
	}
	return r, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func stringField(f map[string]any, key string) (string, error) {
	v, ok := f[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, got %s", key, kindOf(v))
	}
	return s, nil
}

func objectField(f map[string]any, key string) (map[string]any, error) {
	v, ok := f[key]
	if !ok || v == nil {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object, got %s", key, kindOf(v))
	}
	return o, nil
}

func fromField(f map[string]any) (map[string]string, error) {
	o, err := objectField(f, "from")
	if err != nil || o == nil {
		return nil, err
	}
	out := make(map[string]string, len(o))
	for k, v := range o {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("from.%s: want a job name, got %s", k, kindOf(v))
		}
		out[k] = s
	}
	return out, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// parseDocument reads a YAML manifest: {defaults, jobs: [...]}, or a bare
// list of jobs. Numbers stay as written (json.Number).
func parseDocument(file string, data []byte) (rawJob, []rawJob, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return rawJob{}, nil, yamlError(file, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		if err != nil {
			return rawJob{}, nil, yamlError(file, err)
		}
		return rawJob{}, nil, &Error{File: file, Line: more.Line, Err: errors.New("more than one YAML document: put every job in one jobs list")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return rawJob{}, nil, &Error{File: file, Err: errors.New("no jobs")}
	}
	y := &yamlReader{file: file}
	root := doc.Content[0]
	var defaults rawJob
	var list *yaml.Node
	switch root.Kind {
	case yaml.SequenceNode:
		list = root
	case yaml.MappingNode:
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], deref(root.Content[i+1])
			switch k.Value {
			case "defaults":
				if v.Kind != yaml.MappingNode {
					return rawJob{}, nil, &Error{File: file, Line: v.Line, Err: errors.New("defaults: want a mapping")}
				}
				d, err := y.rawOf(v)
				if err != nil {
					return rawJob{}, nil, err
				}
				defaults = d
			case "jobs":
				if v.Kind != yaml.SequenceNode {
					return rawJob{}, nil, &Error{File: file, Line: v.Line, Err: errors.New("jobs: want a list")}
				}
				list = v
			default:
				return rawJob{}, nil, &Error{File: file, Line: k.Line, Err: fmt.Errorf("unknown top-level field %q (known: defaults, jobs)", k.Value)}
			}
		}
		if list == nil {
			return rawJob{}, nil, &Error{File: file, Line: root.Line, Err: errors.New("no jobs: the manifest needs a jobs list")}
		}
	default:
		return rawJob{}, nil, &Error{File: file, Line: root.Line, Err: errors.New("want a mapping with defaults and jobs, or a list of jobs")}
	}
	raws := make([]rawJob, 0, len(list.Content))
	for i, n := range list.Content {
		if d := deref(n); d == nil || d.Kind != yaml.MappingNode {
			return rawJob{}, nil, &Error{File: file, Line: n.Line, Job: fmt.Sprintf("job-%d", i+1), Err: errors.New("want a mapping of name, model, input, output, from")}
		}
		r, err := y.rawOf(n)
		if err != nil {
			return rawJob{}, nil, err
		}
		raws = append(raws, r)
	}
	return defaults, raws, nil
}

var (
	yamlLineRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`) })
	parserErrRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^did not find expected (<document start>|node content|key|'-' indicator|',' or)`)
	})
	typeErrorRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^line (\d+): (.*)$`) })
)

func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineRe().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		// yaml/v3 gives a parser error the 0-based line of its context,
		// a scanner error a 1-based one.
		if line > 0 && parserErrRe().MatchString(m[2]) {
			line++
		}
		return &Error{File: file, Line: line, Err: errors.New(m[2])}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
		if m := typeErrorRe().FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return &Error{File: file, Line: line, Err: errors.New(m[2])}
		}
	}
	return &Error{File: file, Err: err}
}

// maxAliasValues bounds the values YAML aliases may expand to in one
// manifest: a few nested anchors ("billion laughs") would otherwise make
// gigabytes out of a few hundred bytes.
const maxAliasValues = 1 << 20

// yamlReader turns YAML nodes into JSON values, counting what aliases
// expand to.
type yamlReader struct {
	file     string
	inAlias  int // aliases being expanded
	expanded int // values made under an alias
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// isMerge reports a "<<" merge key (YAML 1.1, as yaml.v3 decodes it).
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!!merge" || k.ShortTag() == "!!merge")
}

// fields returns the key/value pairs of mapping n, merge keys ("<<: *base"
// or "<<: [*a, *b]") laid under its own keys, with each key's line.
func (y *yamlReader) fields(n *yaml.Node) (keys []*yaml.Node, vals []*yaml.Node, err error) {
	own := map[string]bool{}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			merged = append(merged, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, nil, &Error{File: y.file, Line: k.Line, Err: errors.New("keys must be strings")}
		}
		if own[k.Value] {
			return nil, nil, &Error{File: y.file, Line: k.Line, Err: fmt.Errorf("duplicate key %q", k.Value)}
		}
		own[k.Value] = true
		keys, vals = append(keys, k), append(vals, v)
	}
	// Earlier merges win over later ones, own keys over both.
	for _, m := range merged {
		srcs := []*yaml.Node{deref(m)}
		if srcs[0] != nil && srcs[0].Kind == yaml.SequenceNode {
			srcs = srcs[0].Content
		}
		for _, src := range srcs {
			line := src.Line
			src = deref(src)
			if src == nil || src.Kind != yaml.MappingNode {
				return nil, nil, &Error{File: y.file, Line: line, Err: errors.New("<< merges a mapping (or a list of mappings) only")}
			}
			y.inAlias++
			ks, vs, err := y.fields(src)
			y.inAlias--
			if err != nil {
				return nil, nil, err
			}
			for i, k := range ks {
				if !own[k.Value] {
					own[k.Value] = true
					keys, vals = append(keys, k), append(vals, vs[i])
				}
			}
		}
	}
	return keys, vals, nil
}

func (y *yamlReader) rawOf(n *yaml.Node) (rawJob, error) {
	r := rawJob{line: n.Line, fields: map[string]any{}, lines: map[string]int{}}
	n = deref(n)
	keys, vals, err := y.fields(n)
	if err != nil {
		return r, err
	}
	for i, k := range keys {
		v, err := y.valueOf(vals[i])
		if err != nil {
			return r, err
		}
		r.fields[k.Value] = v
		r.lines[k.Value] = k.Line
	}
	return r, nil
}

// valueOf turns a YAML node into the JSON value it stands for.
func (y *yamlReader) valueOf(n *yaml.Node) (any, error) {
	if y.inAlias > 0 {
		if y.expanded++; y.expanded > maxAliasValues {
			return nil, &Error{File: y.file, Line: n.Line, Err: fmt.Errorf("YAML aliases expand to more than %d values", maxAliasValues)}
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, &Error{File: y.file, Line: n.Line, Err: errors.New("unknown alias")}
		}
		y.inAlias++
		defer func() { y.inAlias-- }()
		return y.valueOf(n.Alias)
	case yaml.MappingNode:
		keys, vals, err := y.fields(n)
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(keys))
		for i, k := range keys {
			v, err := y.valueOf(vals[i])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := y.valueOf(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, &Error{File: y.file, Line: n.Line, Err: err}
			}
			return b, nil
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, &Error{File: y.file, Line: n.Line, Err: err}
			}
			// Keep the number as written when it is JSON (a seed above
			// 2^53 must not be rounded); YAML-only spellings go through float.
			if json.Valid([]byte(n.Value)) {
				return json.Number(n.Value), nil
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, &Error{File: y.file, Line: n.Line, Err: fmt.Errorf("%s is not a JSON number", n.Value)}
			}
			if f == float64(int64(f)) {
				return json.Number(strconv.FormatInt(int64(f), 10)), nil
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
		}
		return n.Value, nil
	}
	return nil, &Error{File: y.file, Line: n.Line, Err: fmt.Errorf("unsupported YAML node")}
}

// parseLines reads JSON Lines: one job object per non-empty line.
func parseLines(file string, data []byte) ([]rawJob, error) {
	var raws []rawJob
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxManifest)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		if err == nil && dec.More() {
			err = errors.New("more than one JSON value on the line")
		}
		if err != nil {
			return nil, &Error{File: file, Line: line, Job: fmt.Sprintf("job-%d", len(raws)+1), Err: fmt.Errorf("not JSON: %v", err)}
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, &Error{File: file, Line: line, Job: fmt.Sprintf("job-%d", len(raws)+1), Err: fmt.Errorf("want a JSON object, got %s", kindOf(v))}
		}
		raws = append(raws, rawJob{line: line, fields: obj})
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: file, Err: err}
	}
	return raws, nil
}

// parseText reads one prompt per line. Blank lines and lines whose first
// non-blank character is # are skipped; a leading \# stands for a prompt
// that starts with #.
func parseText(data []byte) []rawJob {
	var raws []rawJob
	for i, l := range strings.Split(string(data), "\n") {
		p := strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, `\#`) {
			p = p[1:]
		}
		raws = append(raws, rawJob{line: i + 1, fields: map[string]any{"input": map[string]any{"prompt": p}}})
	}
	return raws
}

// parseJSON reads a JSON manifest, of the same shape as a YAML one, with
// encoding/json (numbers as written); a second pass over its tokens gives
// each job and field its line and refuses duplicate keys.
func parseJSON(file string, data []byte) (rawJob, []rawJob, error) {
	line := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = fmt.Errorf("more after the JSON value")
			return rawJob{}, nil, &Error{File: file, Line: line(dec.InputOffset()), Err: err}
		}
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return rawJob{}, nil, &Error{File: file, Line: line(se.Offset), Err: fmt.Errorf("not JSON: %v", se)}
		}
		return rawJob{}, nil, &Error{File: file, Line: line(dec.InputOffset()), Err: fmt.Errorf("not JSON: %v", err)}
	}
	lines, err := jsonLines(file, data)
	if err != nil {
		return rawJob{}, nil, err
	}
	var defaults rawJob
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			switch k {
			case "defaults":
				d, ok := x[k].(map[string]any)
				if !ok {
					return rawJob{}, nil, &Error{File: file, Line: lines.at("defaults"), Err: errors.New("defaults: want an object")}
				}
				defaults = rawJob{line: lines.at("defaults"), fields: d, lines: lines.fields("defaults")}
			case "jobs":
				l, ok := x[k].([]any)
				if !ok {
					return rawJob{}, nil, &Error{File: file, Line: lines.at("jobs"), Err: errors.New("jobs: want a list")}
				}
				list = l
			default:
				return rawJob{}, nil, &Error{File: file, Line: lines.at(k), Err: fmt.Errorf("unknown top-level field %q (known: defaults, jobs)", k)}
			}
		}
		if list == nil {
			return rawJob{}, nil, &Error{File: file, Line: 1, Err: errors.New("no jobs: the manifest needs a jobs list")}
		}
	default:
		return rawJob{}, nil, &Error{File: file, Line: 1, Err: errors.New("want an object with defaults and jobs, or a list of jobs")}
	}
	prefix := ""
	if _, ok := v.(map[string]any); ok {
		prefix = "jobs/"
	}
	raws := make([]rawJob, 0, len(list))
	for i, e := range list {
		at := prefix + strconv.Itoa(i)
		obj, ok := e.(map[string]any)
		if !ok {
			return rawJob{}, nil, &Error{File: file, Line: lines.at(at), Job: fmt.Sprintf("job-%d", i+1), Err: errors.New("want an object of name, model, input, output, from")}
		}
		raws = append(raws, rawJob{line: lines.at(at), fields: obj, lines: lines.fields(at)})
	}
	return defaults, raws, nil
}

// jsonPositions maps a slash-joined path ("jobs/3", "jobs/3/model") to the
// line its value or key is on, and a path to the lines of its direct keys.
type jsonPositions struct {
	lines    map[string]int
	children map[string]map[string]int
}

func (p jsonPositions) at(path string) int { return p.lines[path] }

// fields returns the lines of the direct keys under path.
func (p jsonPositions) fields(path string) map[string]int {
	if c := p.children[path]; c != nil {
		return c
	}
	return map[string]int{}
}

func (p jsonPositions) set(parent, name string, line int) {
	path := name
	if parent != "" {
		path = parent + "/" + name
	}
	if _, ok := p.lines[path]; !ok {
		p.lines[path] = line
	}
	c := p.children[parent]
	if c == nil {
		c = map[string]int{}
		p.children[parent] = c
	}
	if _, ok := c[name]; !ok {
		c[name] = line
	}
}

// lineCounter gives the line of an offset, counting newlines from the last
// offset asked (offsets only grow while tokens are read): linear in the
// size of the file, not quadratic.
type lineCounter struct {
	data       []byte
	off, lines int
}

func (c *lineCounter) at(off int64) int {
	o := min(max(int(off), 0), len(c.data))
	if o < c.off {
		c.off, c.lines = 0, 0
	}
	c.lines += bytes.Count(c.data[c.off:o], []byte("\n"))
	c.off = o
	return 1 + c.lines
}

func lastSegment(path string) string { return path[strings.LastIndex(path, "/")+1:] }

// jsonLines walks data's tokens down to the fields of each job, recording
// lines and refusing a key given twice in one object.
func jsonLines(file string, data []byte) (jsonPositions, error) {
	lc := &lineCounter{data: data}
	line := lc.at
	// The line a value starts on: after the blanks, commas and colons
	// before it.
	valueLine := func(start int64) int {
		rest := data[min(int(start), len(data)):]
		return line(start + int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n,:"))))
	}
	type frame struct {
		obj   bool
		key   string // the pending key of an object
		index int    // the next index of an array
		path  string
		seen  map[string]bool
	}
	pos := jsonPositions{lines: map[string]int{}, children: map[string]map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	// child is the path of the value about to start in the top frame.
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		var name string
		if f.obj {
			name = f.key
		} else {
			name = strconv.Itoa(f.index)
			f.index++
		}
		if f.path == "" {
			return name
		}
		return f.path + "/" + name
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return pos, nil
		}
		if err != nil {
			return jsonPositions{}, &Error{File: file, Line: line(dec.InputOffset()), Err: fmt.Errorf("not JSON: %v", err)}
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key == "" {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k, _ := tok.(string)
			if top.seen[k] {
				return jsonPositions{}, &Error{File: file, Line: line(dec.InputOffset()), Err: fmt.Errorf("duplicate key %q", k)}
			}
			top.seen[k] = true
			top.key = k
			if len(stack) <= 3 {
				pos.set(top.path, k, valueLine(start))
			}
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack = stack[:len(stack)-1]
			continue
		}
		parent := ""
		if top != nil {
			parent = top.path
		}
		path := child()
		if top != nil && top.obj {
			top.key = ""
		}
		if _, ok := pos.lines[path]; !ok && len(stack) <= 2 {
			pos.set(parent, lastSegment(path), valueLine(start))
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{obj: d == '{', path: path, seen: map[string]bool{}})
		}
	}
}
