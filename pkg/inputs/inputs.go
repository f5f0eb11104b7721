// Package inputs owns @file references in request bodies: finding them
// (--set values, or the *_url, *_urls and *images fields of JSON bodies),
// checking the files (present, readable, a type the API takes, detected from
// the content), uploading each distinct content once (with a cache of public
// URLs shared by hf processes for 50 minutes), and substituting the public
// URLs. "@@" escapes a literal "@".
package inputs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Mode says which strings of a body are file references.
type Mode int

const (
	// SetFlags: every string value, or array element, that starts with "@"
	// is a file (values of --set key=value). Inside an object value the
	// field names decide, as in JSONFields.
	SetFlags Mode = iota + 1
	// JSONFields: only strings in fields whose name ends in _url, _urls or
	// images (at any depth; array elements included) are files (--input
	// JSON, batch manifests).
	JSONFields
)

func (m Mode) String() string {
	switch m {
	case SetFlags:
		return "--set"
	case JSONFields:
		return "JSON fields"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Supported lists the content types the API takes for uploads, as the
// issue and the reference name them (image/jpg and audio/x-wav are the same
// types under other names).
var Supported = []string{"image/jpeg", "image/png", "image/webp", "image/gif", "audio/wav", "video/mp4"}

// Ref is one file reference found in a body. Field is where it is
// ("image_url", "image_urls[1]", "refs.images[0]"), Path the file as
// written after "@"; ContentType is detected from the content, SHA256 is
// the hex digest of the whole file.
type Ref struct {
	Field, Path, ContentType string
	Size                     int64
	SHA256                   string
}

// FileError is a file reference that cannot be sent: missing, unreadable,
// empty, a directory, or of a type the API does not take.
type FileError struct {
	Field, Path string
	// Reason says what is wrong ("does not exist", "is text/plain", ...).
	Reason string
	// Supported is the list of types the API takes (nil when the type is
	// not the problem).
	Supported []string
}

func (e *FileError) Error() string {
	where := ""
	if e.Field != "" {
		where = " (in " + e.Field + ")"
	}
	if len(e.Supported) == 0 {
		return fmt.Sprintf("file %q%s %s", e.Path, where, e.Reason)
	}
	return fmt.Sprintf("file %q%s %s (types the API takes: %s)", e.Path, where, e.Reason, strings.Join(e.Supported, ", "))
}

// IsFileField reports whether a JSON field of this name takes file
// references in JSONFields mode.
func IsFileField(name string) bool {
	return strings.HasSuffix(name, "_url") || strings.HasSuffix(name, "_urls") || strings.HasSuffix(name, "images")
}

// found is a reference with the file it resolved to.
type found struct {
	Ref
	abs string
}

// Scan finds the file references of body and checks each file without
// uploading anything: it exists, is a readable regular file, is not empty,
// and its content sniffs as a supported type. Relative paths resolve
// against baseDir ("" is the working directory); "~/" is the home
// directory. Refs come in a stable order (fields sorted by name). The first
// bad file is returned as a *FileError.
func Scan(body map[string]any, mode Mode, baseDir string) ([]Ref, error) {
	fs, err := scan(body, mode, baseDir)
	refs := make([]Ref, len(fs))
	for i, f := range fs {
		refs[i] = f.Ref
	}
	return refs, err
}

func scan(body map[string]any, mode Mode, baseDir string) ([]found, error) {
	if mode != SetFlags && mode != JSONFields {
		return nil, fmt.Errorf("inputs: unknown mode %d", mode)
	}
	var out []found
	checked := map[string]found{} // abs path → result, so a file named twice is read once
	_, err := transform(body, mode, func(field, path string) (any, error) {
		abs, err := resolvePath(path, baseDir)
		if err != nil {
			return nil, &FileError{Field: field, Path: path, Reason: err.Error(), Supported: Supported}
		}
		f, ok := checked[abs]
		if !ok {
			if f, err = check(abs); err != nil {
				var fe *FileError
				if errors.As(err, &fe) {
					fe.Field, fe.Path = field, path
				}
				return nil, err
			}
			checked[abs] = f
		}
		f.Field, f.Path = field, path
		out = append(out, f)
		return nil, nil
	})
	return out, err
}

func resolvePath(p, baseDir string) (string, error) {
	if p == "" {
		return "", errors.New(`has no name: write @FILE (or "@@" for a literal "@")`)
	}
	if rest, ok := strings.CutPrefix(p, "~"+string(filepath.Separator)); ok || p == "~" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", errors.New("is under ~ but there is no home directory")
		}
		p = filepath.Join(home, rest)
	}
	if !filepath.IsAbs(p) {
		base := baseDir
		if base == "" {
			wd, err := os.Getwd()
			if err != nil {
				return "", fmt.Errorf("is relative and the working directory is unknown: %v", err)
			}
			base = wd
		}
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p), nil
}

// check opens abs, sniffs its type and hashes it.
func check(abs string) (found, error) {
	fail := func(reason string) (found, error) {
		return found{}, &FileError{Path: abs, Reason: reason, Supported: Supported}
	}
	openErr := func(err error) (found, error) {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fail("does not exist")
		case errors.Is(err, fs.ErrPermission):
			return fail("is not readable (permission denied)")
		}
		return fail("cannot be opened: " + unwrapPath(err))
	}
	// Stat before opening: opening a FIFO would block until a writer comes.
	info, err := os.Stat(abs)
	if err != nil {
		return openErr(err)
	}
	switch {
	case info.IsDir():
		return fail("is a directory")
	case !info.Mode().IsRegular():
		return fail("is not a regular file")
	case info.Size() == 0:
		return fail("is empty")
	}
	f, err := openRead(abs) // a FIFO swapped in after the Stat must not block
	if err != nil {
		return openErr(err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		return fail("is not a regular file")
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fail("cannot be read: " + unwrapPath(err))
	}
	ct := Detect(head[:n])
	if !slices.Contains(Supported, ct) {
		return fail("is " + describe(ct) + ", not a type the API takes")
	}
	h := sha256.New()
	h.Write(head[:n])
	size, err := io.Copy(h, f)
	if err != nil {
		return fail("cannot be read: " + unwrapPath(err))
	}
	return found{Ref: Ref{ContentType: ct, Size: int64(n) + size, SHA256: hex.EncodeToString(h.Sum(nil))}, abs: abs}, nil
}

func unwrapPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func describe(ct string) string {
	if ct == "application/octet-stream" {
		return "of an unknown type"
	}
	ct, _, _ = strings.Cut(ct, ";")
	return ct
}

// Detect returns the content type of a file from its first bytes (up to
// 512), by content sniffing, with the API's names (audio/wav, not
// audio/wave).
func Detect(head []byte) string {
	ct := http.DetectContentType(head)
	switch ct {
	case "audio/wave", "audio/x-wav", "audio/vnd.wave":
		return "audio/wav"
	case "image/jpg":
		return "image/jpeg"
	}
	return ct
}

// transform walks body and returns a copy in which "@@…" strings are
// unescaped and each file reference is replaced by what sub returns.
// Object keys are visited in sorted order.
func transform(body map[string]any, mode Mode, sub func(field, path string) (any, error)) (map[string]any, error) {
	out := make(map[string]any, len(body))
	for _, k := range sortedKeys(body) {
		v, err := walk(body[k], k, mode == SetFlags || IsFileField(k), sub)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func walk(v any, field string, files bool, sub func(field, path string) (any, error)) (any, error) {
	switch x := v.(type) {
	case string:
		switch {
		case strings.HasPrefix(x, "@@"):
			return x[1:], nil
		case files && strings.HasPrefix(x, "@"):
			r, err := sub(field, x[1:])
			if err != nil || r == nil {
				return x, err
			}
			return r, nil
		}
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			w, err := walk(e, field+"["+strconv.Itoa(i)+"]", files, sub)
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			w, err := walk(x[k], field+"."+k, IsFileField(k), sub)
			if err != nil {
				return nil, err
			}
			out[k] = w
		}
		return out, nil
	}
	return v, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Unescape returns a copy of body with "@@" strings unescaped and file
// references left as written: what a body without uploads looks like.
func Unescape(body map[string]any, mode Mode) map[string]any {
	out, _ := transform(body, mode, func(string, string) (any, error) { return nil, nil })
	return out
}

// Placeholder is the URL Preview puts where a file's public URL will be:
// a valid URL under the reserved .invalid domain, naming the file.
func Placeholder(r Ref) string {
	return "https://upload.invalid/" + r.SHA256[:12] + "/" + url.PathEscape(filepath.Base(r.Path))
}

// Preview returns a copy of body with each file reference replaced by its
// Placeholder and "@@" unescaped, and the references; it reads the files
// but uploads nothing (for --dry-run and estimates).
func Preview(body map[string]any, mode Mode, baseDir string) (map[string]any, []Ref, error) {
	found, err := scan(body, mode, baseDir)
	if err != nil {
		return nil, nil, err
	}
	refs := make([]Ref, len(found))
	for i, f := range found {
		refs[i] = f.Ref
	}
	i := 0
	out, err := transform(body, mode, func(_, _ string) (any, error) {
		u := Placeholder(found[i].Ref)
		i++
		return u, nil
	})
	return out, refs, err
}
