package higgsfield

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Deleted is the API's answer to DELETE /requests/{id} (a DeletedRequest;
// its fields are not documented, so every field is kept as received).
type Deleted struct {
	RequestID string
	Fields    map[string]json.RawMessage
}

// MarshalJSON writes the API's fields, or just the request id when the
// answer had no body.
func (d *Deleted) MarshalJSON() ([]byte, error) {
	if len(d.Fields) > 0 {
		return json.Marshal(d.Fields)
	}
	return json.Marshal(map[string]string{"request_id": d.RequestID})
}

// Delete removes a finished request's inputs, outputs, prompt and parameters
// on the server now, whatever its retention (billing records stay). The API
// answers the same to a repeated call, so it is retried like any idempotent
// call. An unknown id is an *APIError 404.
func (c *Client) Delete(ctx context.Context, id string) (*Deleted, error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	u := c.base.JoinPath("requests", id).String()
	data, err := c.call(ctx, "delete", http.MethodDelete, u, nil)
	if err != nil {
		return nil, err
	}
	d := &Deleted{RequestID: id}
	if len(bytes.TrimSpace(data)) > 0 {
		// An answer that is not an object is still a success.
		_ = json.Unmarshal(data, &d.Fields)
	}
	if raw, ok := d.Fields["request_id"]; ok {
		var got string
		if json.Unmarshal(raw, &got) == nil && got != "" && got != id {
			return nil, fmt.Errorf("delete answer is for %s, not %s", oneLine(got, 60), id)
		}
	}
	return d, nil
}
