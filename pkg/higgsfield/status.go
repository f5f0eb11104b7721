// Package higgsfield is the client for the Higgsfield generation API: submit,
// status, cancel, upload and estimate, with typed errors and the retry rules
// that keep a generation from being charged twice.
package higgsfield

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Request statuses as the API spells them. "cancelled" is normalised to
// StatusCanceled by ParseStatus.
const (
	StatusQueued     = "queued"
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusNSFW       = "nsfw"
	StatusCanceled   = "canceled"
)

// Status is one answer of the status endpoint (or one webhook body): the
// request's state and, once completed, the outputs to download.
type Status struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url,omitempty"`
	CancelURL string `json:"cancel_url,omitempty"`
	// Error is the API's message for a failed request, flattened to text.
	Error     string `json:"error,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
	// Outputs lists every downloadable URL in the body, in a stable order:
	// images, video, audio, audios, then any other {url} fields by key.
	Outputs []Output `json:"-"`
	// DroppedOutputs counts the outputs beyond the first MaxOutputs, which
	// Outputs leaves out.
	DroppedOutputs int `json:"-"`
	// Raw is the body as received.
	Raw json.RawMessage `json:"-"`
}

// Output is one downloadable artifact of a completed request.
type Output struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type,omitempty"`
	// Field says where in the body it was found, e.g. "images[0]" or "video".
	Field string `json:"field"`
}

// Terminal reports whether the status is final. Unknown statuses are not.
func Terminal(status string) bool {
	switch status {
	case StatusCompleted, StatusFailed, StatusNSFW, StatusCanceled:
		return true
	}
	return false
}

// Terminal reports whether s is final.
func (s *Status) Terminal() bool { return s != nil && Terminal(s.Status) }

// NormalizeStatus lower-cases a status and maps "cancelled" to "canceled".
func NormalizeStatus(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "cancelled" {
		return StatusCanceled
	}
	return s
}

// ParseStatus decodes a status or webhook body. It tolerates unknown fields,
// an error given as an object, and outputs of any kind.
func ParseStatus(data []byte) (*Status, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("decoding status: %w", err)
	}
	st := &Status{Raw: json.RawMessage(append([]byte(nil), data...))}
	str := func(key string) string {
		var v string
		if raw, ok := fields[key]; ok {
			_ = json.Unmarshal(raw, &v)
		}
		return v
	}
	// Every string a terminal may show is made printable here, at the
	// boundary. request_id is kept as sent: callers compare it with the id
	// they know (Submit insists on a UUID).
	st.RequestID = str("request_id")
	st.Status = oneLine(NormalizeStatus(str("status")), 64)
	st.StatusURL = printableURL(str("status_url"))
	st.CancelURL = printableURL(str("cancel_url"))
	st.ExpiresAt = oneLine(str("expires_at"), 64)
	if raw, ok := fields["error"]; ok {
		st.Error = flattenMessage(raw)
	}
	if st.Status == "" {
		return nil, fmt.Errorf("decoding status: no status field")
	}
	st.Outputs, st.DroppedOutputs = extractOutputs(fields)
	return st, nil
}

// MaxOutputs bounds how many outputs one body may yield, so a hostile body
// cannot make hf start an unbounded number of downloads. The rest are
// counted in Status.DroppedOutputs.
const MaxOutputs = 64

var knownNonOutput = map[string]bool{
	"request_id": true, "status": true, "status_url": true, "cancel_url": true,
	"error": true, "expires_at": true,
}

func extractOutputs(fields map[string]json.RawMessage) ([]Output, int) {
	order := []string{"images", "video", "videos", "audio", "audios"}
	seen := map[string]bool{}
	var rest []string
	for k := range fields {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	keys := append([]string{}, order...)
	keys = append(keys, rest...)
	var out []Output
	dropped := 0
	for _, k := range keys {
		if seen[k] || knownNonOutput[k] {
			continue
		}
		seen[k] = true
		raw, ok := fields[k]
		if !ok {
			continue
		}
		got, extra := outputsIn(k, raw, MaxOutputs-len(out))
		out = append(out, got...)
		dropped += extra
	}
	return out, dropped
}

// printableURL returns u when it is an absolute http(s) URL without
// control characters or spaces, else "" (callers then build the URL
// themselves).
func printableURL(u string) string {
	if u == "" || strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

type media struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
}

// outputsIn returns at most room outputs found in raw, and how many more
// there were.
func outputsIn(key string, raw json.RawMessage, room int) ([]Output, int) {
	var one media
	if json.Unmarshal(raw, &one) == nil && one.URL != "" {
		if room <= 0 {
			return nil, 1
		}
		return []Output{{URL: one.URL, ContentType: oneLine(one.ContentType, 100), Field: key}}, 0
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) != nil {
		return nil, 0
	}
	var out []Output
	extra := 0
	for i, item := range many {
		var m media
		if json.Unmarshal(item, &m) != nil || m.URL == "" {
			continue
		}
		if len(out) >= room {
			extra++
			continue
		}
		out = append(out, Output{URL: m.URL, ContentType: oneLine(m.ContentType, 100), Field: fmt.Sprintf("%s[%d]", key, i)})
	}
	return out, extra
}

// maxMessage bounds an error text taken from the API.
const maxMessage = 500

// flattenMessage turns an error value (string, object with a message, or
// anything else) into one bounded line of text. The value is decoded once
// and walked to a fixed depth, so hostile nesting costs linear time.
func flattenMessage(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return oneLine(string(raw), maxMessage)
	}
	for depth := 0; depth < 8; depth++ {
		obj, ok := v.(map[string]any)
		if !ok {
			break
		}
		next, found := obj["detail"], false
		for _, k := range []string{"detail", "message", "error", "msg"} {
			if x, ok := obj[k]; ok {
				next, found = x, true
				break
			}
		}
		if !found {
			break
		}
		v = next
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return oneLine(x, maxMessage)
	}
	b, _ := json.Marshal(v)
	return oneLine(string(b), maxMessage)
}
