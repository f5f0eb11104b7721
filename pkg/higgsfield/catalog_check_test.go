package higgsfield

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestCatalogWarnings(t *testing.T) {
	const soul = "higgsfield-ai/soul/standard"
	const veo = "veo3.1" // duration: the strings "4", "6", "8"
	if _, ok := CatalogModel(veo); !ok {
		t.Fatalf("%s left the catalog; pick another model with string values", veo)
	}
	num := func(s string) any { return json.Number(s) }
	tests := []struct {
		name   string
		model  string
		params map[string]any
		want   []string
	}{
		{name: "known model, listed values", model: soul, params: map[string]any{"prompt": "x", "batch_size": 4.0, "aspect_ratio": "16:9"}},
		{name: "unknown model", model: "higgsfeld-ai/soul/standard", params: map[string]any{"prompt": "x"},
			want: []string{"higgsfeld-ai/soul/standard is not in hf's catalog (dated " + CatalogDate + "); sending anyway (hf models lists the known ids)"}},
		{name: "integer outside the list", model: soul, params: map[string]any{"prompt": "x", "batch_size": 3.0},
			want: []string{"batch_size=3 is not one of 1, 4 listed for " + soul + " (hf models show " + soul + "); sent as given"}},
		{name: "json.Number inside the list", model: soul, params: map[string]any{"batch_size": num("4")}},
		{name: "string enum outside", model: soul, params: map[string]any{"aspect_ratio": "7:3"},
			want: []string{`aspect_ratio="7:3" is not one of "1:1", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "16:9", "9:16", "21:9" listed for ` + soul + " (hf models show " + soul + "); sent as given"}},
		{name: "a number where the API takes a string", model: veo, params: map[string]any{"duration": 8.0},
			want: []string{`duration=8 is not one of "4", "6", "8" listed for ` + veo + " (hf models show " + veo + "); sent as given"}},
		{name: "the string it takes", model: veo, params: map[string]any{"duration": "8"}},
		{name: "unknown field and bad value, sorted", model: soul, params: map[string]any{"zz": 1.0, "note": "n", "batch_size": 2.0},
			want: []string{"note, zz not documented for " + soul + " (hf models show " + soul + "); sent as given",
				"batch_size=2 is not one of 1, 4 listed for " + soul + " (hf models show " + soul + "); sent as given"}},
		{name: "an array is not checked against scalars", model: soul, params: map[string]any{"batch_size": []any{1.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CatalogWarnings(tt.model, tt.params); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
