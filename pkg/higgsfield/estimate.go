package higgsfield

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Estimate is the free price estimate of a generation. Credits and USD are
// the API's values as text ("1.500"; numbers are kept as written), empty
// when the API gave none (models without a fixed price describe it in
// PricingDescription). Fields holds every field of the answer as received,
// and is what the Estimate marshals to: --json shows the API's own fields.
type Estimate struct {
	Credits            string
	USD                string
	PricingDescription string
	Fields             map[string]json.RawMessage
}

// MarshalJSON writes the API's fields as received.
func (e *Estimate) MarshalJSON() ([]byte, error) {
	if e.Fields != nil {
		return json.Marshal(e.Fields)
	}
	m := map[string]string{"credits": e.Credits, "usd": e.USD}
	if e.PricingDescription != "" {
		m["pricing_description"] = e.PricingDescription
	}
	return json.Marshal(m)
}

// ParseEstimate decodes an estimate answer, keeping every field.
func ParseEstimate(data []byte) (*Estimate, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("decoding estimate: want a JSON object, got %q", oneLine(string(data), 80))
	}
	e := &Estimate{Fields: fields}
	e.Credits = scalarText(fields["credits"])
	e.USD = scalarText(fields["usd"])
	_ = json.Unmarshal(fields["pricing_description"], &e.PricingDescription)
	e.PricingDescription = oneLine(e.PricingDescription, 300)
	if e.Credits == "" && e.USD == "" && e.PricingDescription == "" {
		return nil, fmt.Errorf("decoding estimate: no credits, usd or pricing_description in %q", oneLine(string(data), 80))
	}
	return e, nil
}

// scalarText renders a JSON string or number as text ("" for null, absent
// or any other kind of value).
func scalarText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return oneLine(s, 40)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return "" // an object, array or boolean is not a price
}

// Estimate asks what a generation would cost: POST /estimate/{model} with the
// same body as the submit. The call is free and retried.
func (c *Client) Estimate(ctx context.Context, model string, params map[string]any) (*Estimate, error) {
	if err := ValidModel(model); err != nil {
		return nil, err
	}
	if params == nil {
		params = map[string]any{}
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding parameters: %w", err)
	}
	u := c.base.JoinPath("estimate", model).String()
	data, err := c.call(ctx, "estimate", http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	return ParseEstimate(data)
}
