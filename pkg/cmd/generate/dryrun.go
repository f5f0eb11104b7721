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
	auth := curlAuth{}
	if opts.Sandbox {
		sb := sandbox.Start()
		defer sb.Close()
		copts.BaseURL, copts.NoCredentials = sb.URL, true
		auth.sandbox = true
	} else if cr, src, err := opts.Credentials(); err != nil {
		// Still shown: the request is what the user asked to see; the
		// estimate needs credentials, so it is skipped.
		copts.NoCredentials = true
		auth.missing = err.Error()
	} else {
		auth.id, auth.source = cr.ID, src
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
	switch {
	case auth.sandbox:
	case auth.missing != "":
		d.Headers["Authorization"] = "<missing: " + auth.missing + ">"
	default:
		d.Headers["Authorization"] = "Key " + auth.id + ":<redacted>"
	}
	for _, r := range refs {
		d.Uploads = append(d.Uploads, Upload{Field: r.Field, Path: r.Path, ContentType: r.ContentType, Bytes: r.Size, SHA256: r.SHA256})
	}
	d.Curl = curl(d, auth, opts.IdemKey == "")
	if auth.missing != "" {
		d.EstimateError = "skipped: no usable API credentials"
	} else if est, err := client.Estimate(ctx, opts.Model, params); err != nil {
		d.EstimateError = err.Error()
	} else {
		d.Estimate = est
	}
	if opts.JSON {
		err = cmdutil.WriteJSON(opts.IO.Out, d)
	} else {
		printDryRun(opts.IO.Out, d)
	}
	if err != nil {
		return err
	}
	// Not data: stderr, so that stdout can be saved or piped as is.
	if auth.missing != "" {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s; the request above is what hf would send once they are set (a real run stops here, exit 2)\n", auth.missing)
	}
	if !opts.Quiet {
		fmt.Fprintln(opts.IO.ErrOut, "Dry run: nothing was uploaded, submitted or spent.")
	}
	return nil
}

// curlAuth is where the dry run's credentials come from, for the curl
// line: the sandbox (none), a source that failed (missing), or key id from
// source (an environment variable, a flag, the config file, the keyring).
type curlAuth struct {
	sandbox    bool
	missing    string
	id, source string
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

// curl renders the request as a shell snippet that runs as pasted once the
// variables its comments name are set: the credentials come from the
// variables hf read them from (never shown), the webhook URL and the
// idempotency key, which hf makes at run time, from $HF_WEBHOOK_URL and
// $IDEMPOTENCY_KEY. Every dynamic value is double-quoted, the rest
// single-quoted.
func curl(d *DryRun, auth curlAuth, newKey bool) string {
	var b strings.Builder
	authExpr := "Key $HF_KEY"
	switch {
	case auth.sandbox:
		fmt.Fprintf(&b, "# %s is the sandbox's fake API of this dry run: it is gone now; drop --sandbox for the real one\n", baseOf(d.URL))
	case auth.missing != "":
		b.WriteString("# HF_KEY: set it to your KEY_ID:KEY_SECRET (hf found no usable credentials)\n")
	case auth.source == "HF_KEY" || auth.source == "HF_CREDENTIALS":
		authExpr = "Key $" + auth.source
	case strings.HasPrefix(auth.source, "HF_API_KEY"):
		id, secret, _ := strings.Cut(auth.source, "/")
		authExpr = "Key $" + id + ":$" + secret
	default:
		fmt.Fprintf(&b, "# HF_KEY: set it to %s:SECRET (hf read key %s from %s)\n", auth.id, auth.id, auth.source)
	}
	u, hook := d.URL, false
	if base, ok := strings.CutSuffix(u, "?hf_webhook="+webhookPlaceholder); ok {
		u, hook = base, true
		b.WriteString("# HF_WEBHOOK_URL: the URL-encoded webhook URL to notify (hf opens its own endpoint at run time)\n")
	}
	if _, ok := d.Headers["Idempotency-Key"]; ok && newKey {
		b.WriteString("IDEMPOTENCY_KEY=\"$(uuidgen)\"  # hf makes a new one per run and reuses it on every retry\n")
	}
	if hook {
		b.WriteString("curl -X " + d.Method + " " + shellQuote(u+"?hf_webhook=") + `"$HF_WEBHOOK_URL"`)
	} else {
		b.WriteString("curl -X " + d.Method + " " + shellQuote(u))
	}
	for _, k := range sortedHeaders(d.Headers) {
		v := d.Headers[k]
		switch {
		case k == "Authorization":
			b.WriteString(` \` + "\n  -H \"Authorization: " + authExpr + "\"")
			continue
		case k == "Idempotency-Key" && newKey:
			b.WriteString(` \` + "\n  -H \"Idempotency-Key: $IDEMPOTENCY_KEY\"")
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

// baseOf is scheme://host of a URL.
func baseOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
