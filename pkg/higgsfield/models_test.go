package higgsfield

import "testing"

func TestExpectedOutputs(t *testing.T) {
	tests := []struct {
		params map[string]any
		want   int
	}{
		{map[string]any{}, 1},
		{map[string]any{"batch_size": float64(4)}, 4},
		{map[string]any{"num_images": float64(3)}, 3},
		{map[string]any{"num_images": float64(2), "batch_size": float64(4)}, 2},
		{map[string]any{"batch_size": float64(0)}, 1},
		{map[string]any{"batch_size": "many"}, 1},
	}
	for _, tt := range tests {
		if got := ExpectedOutputs(tt.params); got != tt.want {
			t.Errorf("ExpectedOutputs(%v) = %d, want %d", tt.params, got, tt.want)
		}
	}
}
