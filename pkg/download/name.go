package download

import (
	"fmt"
	"mime"
	"net/url"
	"path"
	"path/filepath"
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

// Render expands template with v and returns a cleaned path relative to the
// output directory. Placeholders are {id}, {index}, {count}, {ext}, {model}
// and {date} (YYYYMMDD, local time). Subdirectories are allowed; absolute
// paths and paths that leave the directory are errors. When Count > 1 and
// the template has no {index}, "-{index}" is inserted before the last
// extension so that outputs never collide.
func Render(template string, v Vars) (string, error) {
	if template == "" {
		return "", fmt.Errorf("output template is empty")
	}
	if isAbs(template) {
		return "", fmt.Errorf("output template %q is absolute; it must be relative to the output directory", template)
	}
	expanded := template // errors quote the user's template, not this one
	if v.Count > 1 && !strings.Contains(template, "{index}") {
		expanded = withIndex(template)
	}
	now := v.Now
	if now.IsZero() {
		now = time.Now()
	}
	values := map[string]string{
		"id":    safeName(v.ID),
		"model": safeName(v.Model),
		"index": strconv.Itoa(v.Index),
		"count": strconv.Itoa(v.Count),
		"ext":   safeExt(v.Ext),
		"date":  now.Format("20060102"),
	}
	var b strings.Builder
	for rest := expanded; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:open])
		end := strings.IndexByte(rest[open:], '}')
		if rest[open] == '}' || end < 0 {
			return "", fmt.Errorf("output template %q has an unmatched brace", template)
		}
		name := rest[open+1 : open+end]
		val, ok := values[name]
		if !ok {
			return "", fmt.Errorf("output template %q has unknown placeholder {%s} (known: {id} {index} {count} {ext} {model} {date})", template, name)
		}
		b.WriteString(val)
		rest = rest[open+end+1:]
	}
	out := b.String()
	if out == "" {
		return "", fmt.Errorf("output template %q gives an empty name", template)
	}
	clean := filepath.Clean(filepath.FromSlash(out))
	if isAbs(out) || !filepath.IsLocal(clean) || clean == "." {
		return "", fmt.Errorf("output template %q gives %q, which is outside the output directory", template, out)
	}
	return clean, nil
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

// extByType is preferred over mime.ExtensionsByType, whose answers depend on
// the system's mime tables.
var extByType = map[string]string{
	"image/png":          "png",
	"image/jpeg":         "jpg",
	"image/jpg":          "jpg",
	"image/pjpeg":        "jpg",
	"image/webp":         "webp",
	"image/gif":          "gif",
	"image/avif":         "avif",
	"image/heic":         "heic",
	"image/heif":         "heif",
	"image/bmp":          "bmp",
	"image/tiff":         "tiff",
	"image/svg+xml":      "svg",
	"video/mp4":          "mp4",
	"video/quicktime":    "mov",
	"video/webm":         "webm",
	"video/x-matroska":   "mkv",
	"audio/mpeg":         "mp3",
	"audio/mp3":          "mp3",
	"audio/wav":          "wav",
	"audio/x-wav":        "wav",
	"audio/wave":         "wav",
	"audio/ogg":          "ogg",
	"audio/aac":          "aac",
	"audio/mp4":          "m4a",
	"audio/flac":         "flac",
	"application/zip":    "zip",
	"application/json":   "json",
	"application/pdf":    "pdf",
	"text/plain":         "txt",
	"model/gltf-binary":  "glb",
	"model/gltf+json":    "gltf",
	"model/obj":          "obj",
	"model/stl":          "stl",
	"model/vnd.usdz+zip": "usdz",
}

// ExtFor chooses an extension for an output: from its Content-Type, else
// from the URL path's extension, else "bin".
func ExtFor(contentType, rawURL string) string {
	if ext := extForType(contentType); ext != "" {
		return ext
	}
	if ext := extForURL(rawURL); ext != "" {
		return ext
	}
	return "bin"
}

// extForType maps a media type to an extension, or "" if it says nothing
// useful (empty, unparsable, generic binary, unknown).
func extForType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "application/octet-stream" || mt == "binary/octet-stream" {
		return ""
	}
	if ext, ok := extByType[mt]; ok {
		return ext
	}
	exts, _ := mime.ExtensionsByType(mt)
	for _, e := range exts {
		if ext, ok := validExt(e); ok {
			return ext
		}
	}
	return ""
}

func extForURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	ext, _ := validExt(path.Ext(u.Path))
	return ext
}
