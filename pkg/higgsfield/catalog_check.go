package higgsfield

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// CatalogWarnings says where a request strays from the built-in catalog: a
// model it does not list, fields it does not document for the model, and
// values outside a field's listed ones. The catalog is a guide, not a gate:
// these are warnings (one line each), and the request is sent as given.
func CatalogWarnings(model string, params map[string]any) []string {
	m, ok := CatalogModel(model)
	if !ok {
		return []string{fmt.Sprintf("%s is not in hf's catalog (dated %s); sending anyway (hf models lists the known ids)", model, CatalogDate)}
	}
	var unknown, out []string
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p, ok := m.Param(k)
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if w := p.valueWarning(params[k]); w != "" {
			out = append(out, fmt.Sprintf("%s=%s is not one of %s listed for %s (hf models show %s); sent as given", k, w, p.shownValues(), model, model))
		}
	}
	if len(unknown) > 0 {
		out = append([]string{fmt.Sprintf("%s not documented for %s (hf models show %s); sent as given", strings.Join(unknown, ", "), model, model)}, out...)
	}
	return out
}

// valueWarning is v as JSON when p lists its values and v is none of them
// (as sent: the string "5" is not the number 5), else "".
func (p Param) valueWarning(v any) string {
	if len(p.Values) == 0 || v == nil {
		return ""
	}
	switch v.(type) {
	case string, bool, float64, json.Number, int, int64:
	default:
		return "" // arrays and objects: not a listed scalar
	}
	got, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	for _, want := range p.Values {
		if string(got) == p.asJSON(want) {
			return ""
		}
	}
	return string(got)
}

// asJSON is an allowed value as the API takes it: quoted for strings.
func (p Param) asJSON(v string) string {
	switch p.Type {
	case "integer", "number", "boolean":
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (p Param) shownValues() string {
	shown := make([]string, len(p.Values))
	for i, v := range p.Values {
		shown[i] = p.asJSON(v)
	}
	return strings.Join(shown, ", ")
}
