// Package redact owns how hf shows URLs and server-supplied text without
// leaking secrets: the one URL redactor (userinfo, query values, fragment and
// the webhook receiver's secret path hidden), the text scrubber for messages
// that carry server text (API key, webhook secret, secret path, control
// characters), and the one --debug transport that logs an HTTP exchange per
// line through them. It is a leaf package (standard library only).
package redact

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Mark replaces every hidden value.
const Mark = "REDACTED"

// The patterns compile on first use, not at every start of hf
// (bench/startup.sh).
var (
	// secretPath is the webhook receiver's path: "/hf/" and 128 random bits.
	secretPath = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`/hf/[0-9a-fA-F]{32}`) })
	// whsec is a Standard Webhooks secret.
	whsec = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`whsec_[A-Za-z0-9+/=_-]+`) })
	// authKey is an Authorization header value as the API wants it:
	// "Key id:secret".
	authKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\bKey\s+[^\s:"']+:[^\s"',;]+`) })
	// userinfo is "scheme://user[:password]@" in free text or an unparsable URL.
	userinfo = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@`) })
	// urlUserinfo is userinfo at the start of one unparsable URL (which
	// may hold spaces).
	urlUserinfo = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@`) })
)

// URL returns raw for messages and logs: no userinfo, no fragment, every
// query value replaced by REDACTED (keys kept, so "hf_webhook=REDACTED"
// still says a webhook was sent; signed asset URLs keep their signature
// there), the receiver's secret path hidden, control characters removed.
// A URL that does not parse still loses its userinfo and query.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		s := urlUserinfo().ReplaceAllString(raw, "$1")
		s, _, _ = strings.Cut(s, "?")
		s, _, _ = strings.Cut(s, "#")
		return OneLine(secretPath().ReplaceAllString(s, "/hf/"+Mark), 300)
	}
	return Of(u)
}

// Of is URL for a parsed URL; u is not modified.
func Of(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User, c.Fragment, c.RawFragment = nil, "", ""
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil || len(q) == 0 {
			c.RawQuery = Mark
		} else {
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = url.QueryEscape(k) + "=" + Mark
			}
			c.RawQuery = strings.Join(parts, "&")
		}
	}
	s := c.String()
	return OneLine(secretPath().ReplaceAllString(s, "/hf/"+Mark), 300)
}

// Secrets hides known secret values in text. The zero value hides only what
// the patterns catch: "Key <id:secret>", "whsec_…", the receiver's secret
// path and URL userinfo.
type Secrets struct{ values []string }

// NewSecrets returns a Secrets hiding each non-empty value (values shorter
// than 4 bytes are ignored: replacing them would garble ordinary text).
func NewSecrets(values ...string) *Secrets {
	s := &Secrets{}
	s.Add(values...)
	return s
}

// Add hides more values.
func (s *Secrets) Add(values ...string) {
	for _, v := range values {
		if len(v) >= 4 {
			s.values = append(s.values, v)
		}
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.Slice(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
}

// Text returns t with every known secret and every secret-looking pattern
// replaced by REDACTED. It does not shorten or flatten t.
func (s *Secrets) Text(t string) string {
	if s != nil {
		for _, v := range s.values {
			t = strings.ReplaceAll(t, v, Mark)
			// Servers often quote text JSON- or URL-escaped.
			if e := url.QueryEscape(v); e != v {
				t = strings.ReplaceAll(t, e, Mark)
			}
		}
	}
	t = authKey().ReplaceAllString(t, "Key "+Mark)
	t = whsec().ReplaceAllString(t, "whsec_"+Mark)
	t = secretPath().ReplaceAllString(t, "/hf/"+Mark)
	return userinfo().ReplaceAllString(t, "$1")
}

// Text hides the secret-looking patterns of t (see Secrets.Text).
func Text(t string) string { return (*Secrets)(nil).Text(t) }

// OneLine makes server-supplied text safe to print on a terminal: control
// characters (newlines, ESC, BEL, CR, DEL, C1) and Unicode format
// characters (bidi overrides) become spaces, runs of space collapse, and the
// result is cut at max bytes on a character boundary with "…".
func OneLine(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if max <= 0 || len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
