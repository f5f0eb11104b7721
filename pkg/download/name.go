package download

import (
	"fmt"
	"mime"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTemplate names outputs "<request id>-<index>.<ext>".
const DefaultTemplate = "{id}-{index}.{ext}"

// Vars fill an output-name template. ID and Model come from the API or the
// user and are sanitized before use, so they can never add a path element.
type Vars struct {
	ID, Model string
	// Index is the 1-based position of the output, Count how many there are.
	Index, Count int
	// Ext is the extension without a dot; Fetch fills it from the response.
	Ext string
	// Now is the clock for {date}; zero means time.Now().
	Now time.Time
}

// Template is a parsed output-name template. The zero value stands for
// DefaultTemplate; IsZero tells it apart from one the user wrote. Parse it
// once (ParseTemplate) where the user gives it, and carry it from there.
type Template struct {
	raw string
	// plain is the template as written, indexed the same with "-{index}"
	// inserted, for several outputs sharing a template without {index}.
	plain, indexed []segment
	hasIndex       bool
	literal        bool // no placeholder at all
}

// segment is literal text, or a placeholder when name is set.
type segment struct{ text, name string }

// Default is DefaultTemplate, parsed.
var Default = func() Template {
	t, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		panic(err)
	}
	return t
}()

var placeholders = map[string]bool{"id": true, "model": true, "index": true, "count": true, "ext": true, "date": true}

// ParseTemplate checks an output-name template once: its placeholders are
// {id}, {index}, {count}, {ext}, {model} and {date} (YYYYMMDD, local
// time); subdirectories are allowed; an absolute template, or one that
// leaves the output directory, is an error. Errors quote the template and
// fit on one line.
func ParseTemplate(template string) (Template, error) {
	if template == "" {
		return Template{}, fmt.Errorf("output template is empty")
	}
	if isAbs(template) {
		return Template{}, fmt.Errorf("output template %q is absolute; it must be relative to the output directory", template)
	}
	t := Template{raw: template, hasIndex: strings.Contains(template, "{index}")}
	var err error
	if t.plain, err = parseSegments(template, template); err != nil {
		return Template{}, err
	}
	if t.indexed, err = parseSegments(withIndex(template), template); err != nil {
		return Template{}, err
	}
	t.literal = !slices.ContainsFunc(t.plain, func(s segment) bool { return s.name != "" })
	// Placeholders are sanitized, so a sample shows whether the literal
	// text leaves the directory.
	sample := Vars{ID: "id", Model: "m", Index: 1, Count: 1, Ext: "png", Now: time.Unix(0, 0)}
	if _, err := t.render(sample); err != nil {
		return Template{}, err
	}
	return t, nil
}

func parseSegments(expanded, template string) ([]segment, error) {
	var out []segment
	for rest := expanded; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			out = append(out, segment{text: rest})
			break
		}
		if open > 0 {
			out = append(out, segment{text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if rest[open] == '}' || end < 0 {
			return nil, fmt.Errorf("output template %q has an unmatched brace", template)
		}
		name := rest[open+1 : open+end]
		if !placeholders[name] {
			return nil, fmt.Errorf("output template %q has unknown placeholder {%s} (known: {id} {index} {count} {ext} {model} {date})", template, name)
		}
		out = append(out, segment{name: name})
		rest = rest[open+end+1:]
	}
	return out, nil
}

// IsZero reports a template nobody gave (it renders as DefaultTemplate).
func (t Template) IsZero() bool { return t.raw == "" }

// String is the template as written ("" for the zero Template).
func (t Template) String() string { return t.raw }

// Exact reports whether the path rendered with v is the template exactly as
// written: no placeholder, and no "-{index}" inserted for several outputs.
// Only then did the user name that very file.
func (t Template) Exact(v Vars) bool {
	return !t.IsZero() && t.literal && (v.Count <= 1 || t.hasIndex)
}

// Render expands the template with v and returns a cleaned path relative
// to the output directory. When Count > 1 and the template has no {index},
// "-{index}" is inserted before the last extension so that outputs never
// collide. A result that is empty or leaves the directory is an error.
func (t Template) Render(v Vars) (string, error) {
	if t.IsZero() {
		t = Default
	}
	return t.render(v)
}

func (t Template) render(v Vars) (string, error) {
	segs := t.plain
	if v.Count > 1 && !t.hasIndex {
		segs = t.indexed
	}
	now := v.Now
	if now.IsZero() {
		now = time.Now()
	}
	var b strings.Builder
	for _, s := range segs {
		switch s.name {
		case "":
			b.WriteString(s.text)
		case "id":
			b.WriteString(safeName(v.ID))
		case "model":
			b.WriteString(safeName(v.Model))
		case "index":
			b.WriteString(strconv.Itoa(v.Index))
		case "count":
			b.WriteString(strconv.Itoa(v.Count))
		case "ext":
			b.WriteString(safeExt(v.Ext))
		case "date":
			b.WriteString(now.Format("20060102"))
		}
	}
	out := b.String()
	if out == "" {
		return "", fmt.Errorf("output template %q gives an empty name", t.raw)
	}
	clean := filepath.Clean(filepath.FromSlash(out))
	if isAbs(out) || !filepath.IsLocal(clean) || clean == "." {
		return "", fmt.Errorf("output template %q gives %q, which is outside the output directory", t.raw, out)
	}
	return clean, nil
}

// Render parses template and expands it with v (see ParseTemplate and
// Template.Render): for a template used once.
func Render(template string, v Vars) (string, error) {
	t, err := ParseTemplate(template)
	if err != nil {
		return "", err
	}
	return t.Render(v)
}

// withIndex inserts "-{index}" before the extension of the template's last
// path element ("out.{ext}" → "out-{index}.{ext}", "out" → "out-{index}").
func withIndex(template string) string {
	base := strings.LastIndexAny(template, `/\`) + 1
	dot := strings.LastIndexByte(template[base:], '.')
	if dot <= 0 {
		return template + "-{index}"
	}
	at := base + dot
	return template[:at] + "-{index}" + template[at:]
}

// isAbs reports an absolute path or a drive prefix on any OS, so that a
// template means the same everywhere.
func isAbs(p string) bool {
	drive := len(p) >= 2 && p[1] == ':' && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z')
	return drive || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) ||
		filepath.IsAbs(p) || filepath.VolumeName(p) != ""
}

// safeName keeps [A-Za-z0-9._-] and turns every other rune into '_'. A
// result made only of dots ("." or "..") becomes underscores too.
func safeName(s string) string {
	out := []rune(s)
	for i, r := range out {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			out[i] = '_'
		}
	}
	name := string(out)
	if strings.Trim(name, ".") == "" {
		name = strings.Repeat("_", len(name))
	}
	return name
}

// safeExt returns ext (without a leading dot, lower-cased) if it is
// [a-z0-9]{1,10}, else "bin".
func safeExt(ext string) string {
	if e, ok := validExt(ext); ok {
		return e
	}
	return "bin"
}

func validExt(ext string) (string, bool) {
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	if len(ext) == 0 || len(ext) > 10 {
		return "", false
	}
	for _, r := range ext {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", false
		}
	}
	return ext, true
}

// extByType is the only source of extensions: a fixed table of the media
// types outputs come in (the system's mime tables vary by machine and map
// types such as application/x-desktop to extensions a desktop runs).
var extByType = map[string]string{
	"image/png":                    "png",
	"image/apng":                   "png",
	"image/jpeg":                   "jpg",
	"image/jpg":                    "jpg",
	"image/pjpeg":                  "jpg",
	"image/webp":                   "webp",
	"image/gif":                    "gif",
	"image/avif":                   "avif",
	"image/heic":                   "heic",
	"image/heif":                   "heif",
	"image/bmp":                    "bmp",
	"image/tiff":                   "tiff",
	"video/mp4":                    "mp4",
	"video/quicktime":              "mov",
	"video/webm":                   "webm",
	"audio/mpeg":                   "mp3",
	"audio/mp3":                    "mp3",
	"audio/wav":                    "wav",
	"audio/x-wav":                  "wav",
	"audio/wave":                   "wav",
	"audio/vnd.wave":               "wav",
	"audio/ogg":                    "ogg",
	"audio/flac":                   "flac",
	"audio/x-flac":                 "flac",
	"audio/aac":                    "aac",
	"audio/x-aac":                  "aac",
	"audio/mp4":                    "m4a",
	"audio/x-m4a":                  "m4a",
	"application/zip":              "zip",
	"application/x-zip-compressed": "zip",
	"model/gltf-binary":            "glb",
	"model/gltf+json":              "gltf",
	"model/obj":                    "obj",
	"model/vnd.usdz+zip":           "usdz",
	"model/vnd.pixar.usd":          "usdz",
	"model/ply":                    "ply",
	"application/ply":              "ply",
	"model/fbx":                    "fbx",
	"model/vnd.fbx":                "fbx",
	"application/fbx":              "fbx",
	"application/vnd.autodesk.fbx": "fbx",
	"text/jsx":                     "jsx",
	"application/x-extendscript":   "jsx",
}

// knownExt holds the extensions of extByType: the only ones a URL may supply.
var knownExt = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range extByType {
		m[e] = true
	}
	return m
}()

// ExtFor chooses an extension for an output: from its Content-Type, else
// from the URL path's extension when it is one of the table's, else "bin".
func ExtFor(contentType, rawURL string) string {
	if ext := extForType(contentType); ext != "" {
		return ext
	}
	if ext := extForURL(rawURL); ext != "" {
		return ext
	}
	return "bin"
}

// extForType maps a media type to an extension by the fixed table, or ""
// if it says nothing useful (empty, unparsable, generic binary, unknown).
func extForType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return extByType[mt]
}

func extForURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	if ext, ok := validExt(path.Ext(u.Path)); ok && knownExt[ext] {
		return ext
	}
	return ""
}
