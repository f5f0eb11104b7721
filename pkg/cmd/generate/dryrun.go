package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/sandbox"
)

// webhookPlaceholder stands in the dry run's URL for the endpoint hf would
// open (a tunnel URL with a fresh secret path).
const webhookPlaceholder = "<webhook endpoint opened at run time>"

// DryRun is what --dry-run prints (--json: this object).
type DryRun struct {
	Method   string               `json:"method"`
	URL      string               `json:"url"`
	Headers  map[string]string    `json:"headers"`
	Body     map[string]any       `json:"body"`
	Curl     string               `json:"curl"`
	Uploads  []Upload             `json:"uploads"`
	Estimate *higgsfield.Estimate `json:"estimate,omitempty"`
	// EstimateError says why there is no estimate.
	EstimateError string `json:"estimate_error,omitempty"`
}

// Upload is a file the run would upload.
type Upload struct {
	Field       string `json:"field"`
	Path        string `json:"path"`
	ContentType string `json:"content_type"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
}

// dryRun prints the request generate would send and its estimate: no
// tunnel, no upload, no submit.
func dryRun(ctx context.Context, opts *Options, body *cmdutil.Body) error {
	params, refs, err := body.Preview()
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	copts := cmdutil.ClientOptions{}
	if opts.Sandbox {
		sb := sandbox.Start()
		defer sb.Close()
		copts.BaseURL, copts.NoCredentials = sb.URL, true
	}
	client, err := opts.Client(copts)
	if err != nil {
		return err
	}
	u, err := url.Parse(client.BaseURL())
	if err != nil {
		return err
	}
	u = u.JoinPath(opts.Model)
	if wantsWebhook(opts, cfg.String) {
		// Left unencoded so it reads as a placeholder; the real value is
		// URL-encoded.
		u.RawQuery = "hf_webhook=" + webhookPlaceholder
	}
	d := &DryRun{Method: "POST", URL: u.String(), Body: params, Uploads: []Upload{}, Headers: map[string]string{
		"Accept": "application/json", "Content-Type": "application/json", "User-Agent": "hf/" + opts.Version,
		"Idempotency-Key": "<a new UUID, reused on every retry>",
	}}
	if opts.IdemKey != "" {
		d.Headers["Idempotency-Key"] = opts.IdemKey
	}
	if opts.ExpiresAfter > 0 {
		d.Headers["Hf-Expires-After"] = strconv.FormatInt(int64(opts.ExpiresAfter/time.Second), 10)
	}
	switch cr, _, err := opts.Credentials(); {
	case opts.Sandbox:
	case err == nil:
		d.Headers["Authorization"] = "Key " + cr.ID + ":<redacted>"
	default:
		d.Headers["Authorization"] = "<no credentials: " + err.Error() + ">"
	}
	for _, r := range refs {
		d.Uploads = append(d.Uploads, Upload{Field: r.Field, Path: r.Path, ContentType: r.ContentType, Bytes: r.Size, SHA256: r.SHA256})
	}
	d.Curl = curl(d)
	est, err := client.Estimate(ctx, opts.Model, params)
	if err != nil {
		d.EstimateError = err.Error()
	} else {
		d.Estimate = est
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	printDryRun(opts.IO.Out, d)
	return nil
}

// wantsWebhook reports whether the run would pass hf_webhook: not with
// --no-wait or --via poll, and in auto mode only when an endpoint can be
// had (ngrok token or --webhook-url).
func wantsWebhook(opts *Options, get func(string) string) bool {
	if opts.NoWait {
		return false
	}
	via := cmpOr(opts.Endpoint.Via, get("webhook.via"), "auto")
	switch {
	case via == "poll":
		return false
	case via == "webhook", opts.Sandbox:
		return true
	}
	return cmpOr(opts.Endpoint.WebhookURL, get("webhook.url"), get("ngrok.authtoken")) != ""
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedHeaders(h map[string]string) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func printDryRun(w io.Writer, d *DryRun) {
	fmt.Fprintf(w, "%s %s\n", d.Method, d.URL)
	for _, k := range sortedHeaders(d.Headers) {
		fmt.Fprintf(w, "%s: %s\n", k, d.Headers[k])
	}
	body, _ := json.MarshalIndent(d.Body, "", "  ")
	fmt.Fprintf(w, "\n%s\n", body)
	if len(d.Uploads) > 0 {
		fmt.Fprintln(w, "\nFiles that would be uploaded first (their public URLs replace the placeholders):")
		for _, u := range d.Uploads {
			fmt.Fprintf(w, "  %s  %s  %s, %d bytes, sha256 %s\n", u.Field, u.Path, u.ContentType, u.Bytes, u.SHA256)
		}
	}
	fmt.Fprintf(w, "\ncurl equivalent:\n%s\n", d.Curl)
	switch {
	case d.Estimate != nil:
		fmt.Fprintf(w, "\nEstimate: %s\n", estimateLine(d.Estimate))
	default:
		fmt.Fprintf(w, "\nEstimate: unavailable (%s)\n", d.EstimateError)
	}
	fmt.Fprintln(w, "\nDry run: nothing was uploaded, submitted or spent.")
}

// estimateLine renders an estimate in one line.
func estimateLine(e *higgsfield.Estimate) string {
	var parts []string
	if e.Credits != "" {
		parts = append(parts, e.Credits+" credits")
	}
	if e.USD != "" {
		parts = append(parts, "$"+e.USD)
	}
	if e.PricingDescription != "" {
		parts = append(parts, e.PricingDescription)
	}
	return strings.Join(parts, ", ")
}

// curl renders the request as a curl command line. The credentials come
// from $HF_KEY so that the line can be run as is, and never shows them.
func curl(d *DryRun) string {
	var b strings.Builder
	b.WriteString("curl -X " + d.Method + " " + shellQuote(d.URL))
	for _, k := range sortedHeaders(d.Headers) {
		v := d.Headers[k]
		switch {
		case k == "Authorization":
			b.WriteString(` \` + "\n  -H \"Authorization: Key $HF_KEY\"")
			continue
		case k == "User-Agent":
			continue
		}
		b.WriteString(` \` + "\n  -H " + shellQuote(k+": "+v))
	}
	body, _ := json.Marshal(d.Body)
	b.WriteString(` \` + "\n  --data " + shellQuote(string(body)))
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
