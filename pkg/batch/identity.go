package batch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// FileRef is one local file an input names (@path), known by content.
type FileRef struct {
	Field  string `json:"field"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256"`
}

// Files finds and uploads the local files (@path) a job's input names. The
// command wires pkg/inputs behind it; without one, inputs are sent as
// written.
type Files interface {
	// Scan lists the files input names, relative to baseDir, reading each
	// for its sha256: an unreadable file is an error.
	Scan(input map[string]any, baseDir string) ([]FileRef, error)
	// Resolve returns a copy of input with every reference replaced by the
	// URL of its upload.
	Resolve(ctx context.Context, input map[string]any, baseDir string) (map[string]any, error)
}

// identityVersion changes when what goes into an identity changes.
const identityVersion = 1

// identity is what a job's identity hashes.
type identity struct {
	V            int               `json:"v"`
	Name         string            `json:"name"`
	Model        string            `json:"model"`
	Input        map[string]any    `json:"input"`
	Files        []FileRef         `json:"files,omitempty"`
	From         map[string]string `json:"from,omitempty"`
	ExpiresAfter int64             `json:"expires_after,omitempty"`
	Nonce        string            `json:"nonce,omitempty"`
}

// computeIdentity hashes a job: name, model, input (local files by
// content, from fields by the identity of the job they name), the
// retention asked for and the nonce of a --force.
func computeIdentity(j *Job, files []FileRef, depIdentity func(name string) string, expiresAfter int64, nonce string) string {
	in := maps.Clone(j.Input)
	if len(files) > 0 {
		// A local file counts by its content, not by where it is.
		sums := make(map[string]string, len(files))
		for _, f := range files {
			sums["@"+f.Path] = "@sha256:" + f.SHA256
		}
		in = byContent(in, sums).(map[string]any)
	}
	from := map[string]string{}
	for field, ref := range j.From {
		delete(in, field) // its value is the dependency's URL, known later
		from[field] = depIdentity(ref.Job) + "#" + strconv.Itoa(ref.Output)
	}
	files = slices.Clone(files)
	for i := range files {
		files[i].Path = "" // content, not place, is what counts
	}
	slices.SortFunc(files, func(a, b FileRef) int {
		if a.Field < b.Field {
			return -1
		} else if a.Field > b.Field {
			return 1
		}
		return 0
	})
	data, err := json.Marshal(identity{V: identityVersion, Name: j.Name, Model: j.Model, Input: in, Files: files, From: from, ExpiresAfter: expiresAfter, Nonce: nonce})
	if err != nil { // manifests hold JSON values only
		panic(fmt.Sprintf("batch: encoding identity: %v", err))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// byContent returns v with every string found in sums replaced.
func byContent(v any, sums map[string]string) any {
	switch x := v.(type) {
	case string:
		if s, ok := sums[x]; ok {
			return s
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = byContent(e, sums)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = byContent(e, sums)
		}
		return out
	}
	return v
}

// IdempotencyKey is the key of a job's attempt: the same identity and
// attempt always give the same key, so a re-run anywhere picks the request
// up without a second charge, and a new attempt is a new request.
func IdempotencyKey(identity string, attempt int) string {
	return "hf-batch-" + identity[:48] + "-" + strconv.Itoa(attempt)
}
