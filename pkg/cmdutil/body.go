package cmdutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/inputs"
)

// BodyFlags are the request-body flags of generate and estimate: --input,
// --prompt and --set.
type BodyFlags struct {
	Prompt    string
	PromptSet bool
	Sets      []string
	Input     string
}

// Register adds the flags to cmd.
func (b *BodyFlags) Register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&b.Prompt, "prompt", "p", "", "the prompt (sets the \"prompt\" field, exactly as typed)")
	fl.StringArrayVarP(&b.Sets, "set", "s", nil, "set a body field: key=value (value parsed as JSON when valid; @FILE uploads FILE, @@ escapes @)")
	fl.StringVarP(&b.Input, "input", "i", "", "read the JSON body from FILE, or - for stdin (@FILE in *_url, *_urls and *images fields uploads FILE)")
}

// Changed records which flags were given (call from RunE).
func (b *BodyFlags) Changed(cmd *cobra.Command) { b.PromptSet = cmd.Flags().Changed("prompt") }

// Body is a request body in its three parts, before files are uploaded:
// the --input object (its relative @paths resolve against InputDir), the
// --set fields, and the prompt, which is never a file and is sent as typed.
type Body struct {
	Input     map[string]any
	InputDir  string
	Sets      map[string]any
	Prompt    string
	PromptSet bool
}

// Parse reads --input (from stdin for "-") and parses every --set. A body
// with nothing in it is a usage error.
func (b *BodyFlags) Parse(stdin io.Reader) (*Body, error) {
	body := &Body{Sets: map[string]any{}, Prompt: b.Prompt, PromptSet: b.PromptSet}
	if b.Input != "" {
		var data []byte
		var err error
		if b.Input == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
		} else {
			data, err = os.ReadFile(b.Input)
			if abs, aerr := filepath.Abs(b.Input); aerr == nil {
				body.InputDir = filepath.Dir(abs)
			}
		}
		if err != nil {
			return nil, FlagErrorf("--input: %v", err)
		}
		if err := DecodeJSON(data, &body.Input); err != nil || body.Input == nil {
			return nil, FlagErrorf("--input %s: want a JSON object (%v)", b.Input, oneLineErr(err))
		}
	}
	for _, s := range b.Sets {
		key, val, err := ParseSet(s)
		if err != nil {
			return nil, &FlagError{Err: err}
		}
		body.Sets[key] = val
	}
	if len(body.Input) == 0 && len(body.Sets) == 0 && !body.PromptSet {
		return nil, FlagErrorf("nothing to generate: pass --prompt, --set key=value or --input FILE")
	}
	return body, nil
}

// Merge is the body as sent: --input, then the prompt, then each --set.
// File references are left as written.
func (b *Body) Merge() map[string]any {
	return merge(b.Input, b.Prompt, b.PromptSet, b.Sets)
}

func merge(input map[string]any, prompt string, promptSet bool, sets map[string]any) map[string]any {
	out := map[string]any{}
	maps.Copy(out, input)
	if promptSet {
		out["prompt"] = prompt
	}
	maps.Copy(out, sets)
	return out
}

// Scan checks every file the body references, uploading nothing: a missing
// or unsupported file is an *inputs.FileError (exit 2).
func (b *Body) Scan() ([]inputs.Ref, error) {
	a, err := inputs.Scan(b.Input, inputs.JSONFields, b.InputDir)
	if err != nil {
		return nil, inputError("--input", err)
	}
	s, err := inputs.Scan(b.Sets, inputs.SetFlags, "")
	if err != nil {
		return nil, inputError("--set", err)
	}
	return append(a, s...), nil
}

// Preview is the body with each file replaced by a placeholder URL, and
// the files it would upload.
func (b *Body) Preview() (map[string]any, []inputs.Ref, error) {
	in, a, err := inputs.Preview(b.Input, inputs.JSONFields, b.InputDir)
	if err != nil {
		return nil, nil, inputError("--input", err)
	}
	sets, s, err := inputs.Preview(b.Sets, inputs.SetFlags, "")
	if err != nil {
		return nil, nil, inputError("--set", err)
	}
	return merge(in, b.Prompt, b.PromptSet, sets), append(a, s...), nil
}

// Resolve uploads the files the body references (each content once) and
// returns the body as sent, with their public URLs.
func (b *Body) Resolve(ctx context.Context, r *inputs.Resolver) (map[string]any, []inputs.Ref, error) {
	in, a, err := r.Resolve(ctx, b.Input, inputs.JSONFields, b.InputDir)
	if err != nil {
		return nil, nil, inputError("--input", err)
	}
	sets, s, err := r.Resolve(ctx, b.Sets, inputs.SetFlags, "")
	if err != nil {
		return nil, nil, inputError("--set", err)
	}
	return merge(in, b.Prompt, b.PromptSet, sets), append(a, s...), nil
}

// inputError names the flag in a file error's field.
func inputError(flag string, err error) error {
	var fe *inputs.FileError
	if errors.As(err, &fe) && !strings.HasPrefix(fe.Field, "--") {
		fe.Field = flag + " " + fe.Field
	}
	return err
}

func oneLineErr(err error) string {
	if err == nil {
		return "got null"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// ParseSet parses one --set key=value. The value is JSON when it parses as
// JSON, else the raw string.
func ParseSet(s string) (string, any, error) {
	key, raw, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", nil, fmt.Errorf("invalid --set %q: want key=value", s)
	}
	var v any
	if err := DecodeJSON([]byte(raw), &v); err == nil {
		return key, v, nil
	}
	return key, raw, nil
}

// DecodeJSON decodes exactly one JSON value, keeping numbers as written
// (a seed above 2^53 must not be rounded).
func DecodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
