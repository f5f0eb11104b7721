package higgsfield

import (
	"encoding/json"
	"strings"
)

// ExpectedOutputs guesses how many outputs a request with params makes
// (num_images or batch_size, else 1), for checks done before submitting.
func ExpectedOutputs(params map[string]any) int {
	for _, k := range []string{"num_images", "batch_size"} {
		switch v := params[k].(type) {
		case float64:
			if v >= 1 {
				return int(v)
			}
		case json.Number:
			if n, err := v.Int64(); err == nil && n >= 1 {
				return int(n)
			}
		}
	}
	return 1
}

// IsVideoModel reports whether model makes videos (by its family name).
func IsVideoModel(model string) bool {
	m := strings.ToLower(model)
	for _, s := range []string{"video", "kling", "seedance", "veo", "sora", "wan-", "minimax", "hailuo", "/dop/"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
