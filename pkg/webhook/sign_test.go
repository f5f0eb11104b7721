package webhook

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/hf-cli/hf/pkg/signature"
)

var (
	testKey    = []byte("0123456789abcdef0123456789abcdef")
	testSecret = "whsec_" + base64.StdEncoding.EncodeToString(testKey)
	testNow    = time.Unix(1_780_000_000, 0)
)

// sign returns a v1 signature of body as Higgsfield would send it
// (pkg/signature checks its own output against an independent HMAC).
func sign(key []byte, id string, ts int64, body string) string {
	return signature.SignKey(key, id, time.Unix(ts, 0), []byte(body))
}

// signedHeader is the three Standard Webhooks headers of a delivery.
func signedHeader(id string, ts int64, sig string) http.Header {
	return http.Header{
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts, 10)},
		"Webhook-Signature": {sig},
	}
}
