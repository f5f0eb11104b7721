package cmdutil

import (
	"io"
	"net/http"

	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/redact"
)

// downloadClient is the one HTTP client for outputs (see download.NewClient).
// With debug set, it logs through the same transport as the API client
// (redact.Transport: downloads carry no credentials, and the signatures in
// asset URLs' queries are redacted).
func downloadClient(debug io.Writer) *http.Client {
	if debug == nil {
		return download.NewClient(nil)
	}
	return download.NewClient(func(rt http.RoundTripper) http.RoundTripper { return &redact.Transport{Base: rt, W: debug} })
}
