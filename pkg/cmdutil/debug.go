package cmdutil

import (
	"io"
	"net/http"
	"time"

	"github.com/hf-cli/hf/pkg/redact"
)

// downloadClient is the HTTP client for outputs: no overall timeout (a large
// video takes long; the context bounds it), 30 s to the first byte. With
// debug set, it logs through the same transport as the API client
// (redact.Transport: downloads carry no credentials, and the signatures in
// asset URLs' queries are redacted).
func downloadClient(debug io.Writer) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 30 * time.Second
	if debug == nil {
		return &http.Client{Transport: tr}
	}
	return &http.Client{Transport: &redact.Transport{Base: tr, W: debug}}
}
