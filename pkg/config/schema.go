package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
)

// Kind is the type of a setting's value.
type Kind int

const (
	KindString Kind = iota
	KindBool
	KindDuration // Go duration ("90s", "5m") or bare seconds ("90")
	KindEnum
	KindURL
	KindAddr // host:port
)

func (k Kind) String() string {
	return [...]string{"string", "bool", "duration", "enum", "url", "host:port"}[k]
}

// Key describes one setting: its name in the config file, its type, the
// environment variables that set it (first listed wins), whether it is a
// secret (masked when shown), its default, and how a value is checked.
type Key struct {
	Name    string
	Kind    Kind
	Env     []string
	Secret  bool
	Default string
	Values  []string // allowed values of a KindEnum
	Help    string
	// Login marks the credentials written by hf auth login: hf config set
	// refuses them, as a secret typed as an argument lands in shell history.
	Login bool
	check func(string) error
}

// Keys is the schema: every setting hf reads, in the README's order.
var Keys = []Key{
	{Name: "credentials.credentials", Secret: true, Login: true, Env: []string{"HF_KEY", "HF_CREDENTIALS"}, Help: "API key as KEY_ID:KEY_SECRET", check: checkCredentials},
	{Name: "credentials.api_key", Login: true, Env: []string{"HF_API_KEY", "HF_API_KEY_ID"}, Help: "API key id (with credentials.api_secret)", check: checkToken},
	{Name: "credentials.api_secret", Secret: true, Login: true, Env: []string{"HF_API_SECRET", "HF_API_KEY_SECRET"}, Help: "API key secret (with credentials.api_key)", check: checkToken},
	{Name: "credentials.store", Kind: KindEnum, Values: []string{"auto", "keyring", "file"}, Default: "auto", Env: []string{"HF_CREDENTIALS_STORE"}, Help: "where hf auth login keeps the secret: the OS keyring when there is one (auto), or the config file"},
	{Name: "base_url", Kind: KindURL, Default: higgsfield.DefaultBaseURL, Env: []string{"HF_BASE_URL"}, Help: "API base URL", check: checkBaseURL},
	{Name: "generate.timeout", Kind: KindDuration, Default: "30m", Env: []string{"HF_TIMEOUT"}, Help: "default --timeout", check: checkPositive},
	{Name: "webhook.via", Kind: KindEnum, Values: []string{"auto", "webhook", "poll"}, Default: "auto", Env: []string{"HF_VIA"}, Help: "default --via"},
	{Name: "webhook.url", Kind: KindURL, Env: []string{"HF_WEBHOOK_URL"}, Help: "default --webhook-url"},
	{Name: "webhook.listen", Kind: KindAddr, Env: []string{"HF_LISTEN"}, Help: "default --listen"},
	{Name: "webhook.secret", Secret: true, Env: []string{"HF_WEBHOOK_SECRET"}, Help: "verify webhook signatures (whsec_…)", check: checkWebhookSecret},
	{Name: "ngrok.authtoken", Secret: true, Env: []string{"HF_NGROK_AUTHTOKEN", "NGROK_AUTHTOKEN"}, Help: "enables the ngrok endpoint", check: checkToken},
	{Name: "ngrok.url", Env: []string{"HF_NGROK_URL"}, Help: "reserved ngrok domain or URL", check: checkDomainOrURL},
	{Name: "ngrok.connect_url", Env: []string{"HF_NGROK_CONNECT_URL"}, Help: "ngrok agent connect address (host[:port], port 443 by default)", check: checkHostOrAddr},
	{Name: "ngrok.root_cas", Env: []string{"HF_NGROK_ROOT_CAS"}, Help: "PEM file of CAs for the agent connection", check: checkToken},
	{Name: "ngrok.connect_timeout", Kind: KindDuration, Default: "15s", Env: []string{"HF_NGROK_CONNECT_TIMEOUT"}, Help: "how long opening the tunnel may take", check: checkPositive},
	{Name: "download.max_bytes", Default: "8GiB", Env: []string{"HF_MAX_DOWNLOAD"}, Help: "largest output saved (e.g. 500MB, 16GiB)", check: checkSize},
	{Name: "download.stall_timeout", Kind: KindDuration, Default: "30s", Env: []string{"HF_STALL_TIMEOUT"}, Help: "abort and resume a transfer this long without a byte (at least 1s)", check: checkAtLeastSecond},
	{Name: "debug", Kind: KindBool, Default: "false", Env: []string{"HF_DEBUG"}, Help: "log HTTP exchanges"},
}

// LookupKey returns the schema entry of a setting.
func LookupKey(name string) (Key, bool) {
	i := slices.IndexFunc(Keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return Keys[i], true
}

// Validate checks a value of the key: "" is always accepted (unset).
func (k Key) Validate(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var err error
	switch k.Kind {
	case KindBool:
		_, err = ParseBool(v)
	case KindDuration:
		_, err = ParseDuration(v)
	case KindEnum:
		if !slices.Contains(k.Values, v) {
			err = fmt.Errorf("want %s", orList(k.Values))
		}
	case KindURL:
		err = checkURL(v)
	case KindAddr:
		err = checkAddr(v)
	}
	if k.check != nil && (err == nil || k.Kind == KindURL) {
		if cerr := k.check(v); cerr != nil {
			err = cerr
		}
	}
	return err
}

// ValueError is a setting with a bad value, naming where it came from: the
// config file and key, or the environment variable. It is a usage error
// (exit 2).
type ValueError struct {
	// Source is the environment variable, or the config file's path.
	Source string
	Key    string
	// Value is the offending value, "" for secrets (never shown).
	Value string
	Err   error
}

func (e *ValueError) Error() string {
	val := ""
	if e.Value != "" {
		val = fmt.Sprintf(" %q", oneLine(e.Value))
	}
	switch {
	case e.Source == "":
		return fmt.Sprintf("%s: invalid value%s: %v", e.Key, val, e.Err)
	case isEnvName(e.Source):
		return fmt.Sprintf("%s: invalid value%s for %s: %v", e.Source, val, e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %s: invalid value%s: %v", e.Source, e.Key, val, e.Err)
}

// Hint says how to fix the setting where it comes from: an environment
// variable wins over the file, so hf config set cannot fix it; a file's
// value is fixed with hf config set or removed with hf config unset. A
// refused hf config set (no source) gets none: its command's help is the
// hint.
func (e *ValueError) Hint() string {
	switch {
	case e.Source == "":
		return ""
	case isEnvName(e.Source):
		return fmt.Sprintf("fix %s or remove it: unset %s", e.Source, e.Source)
	}
	return fmt.Sprintf("fix it with: hf config set %s VALUE, or remove it: hf config unset %s", e.Key, e.Key)
}

func isEnvName(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return s != ""
}

func (e *ValueError) Unwrap() error { return e.Err }

func orList(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

// BoolSpellings are the values ParseBool accepts (any case), true first.
var BoolSpellings = [][2]string{{"true", "false"}, {"1", "0"}, {"yes", "no"}, {"on", "off"}, {"t", "f"}, {"y", "n"}}

// ParseBool accepts the BoolSpellings (any case); "" is false.
func ParseBool(s string) (bool, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "" {
		return false, nil
	}
	for _, p := range BoolSpellings {
		switch v {
		case p[0]:
			return true, nil
		case p[1]:
			return false, nil
		}
	}
	pairs := make([]string, len(BoolSpellings))
	for i, p := range BoolSpellings {
		pairs[i] = p[0] + "/" + p[1]
	}
	return false, errors.New("want " + orList(pairs))
}

// ParseDuration is the one rule for durations, in flags, environment and
// config alike: a Go duration ("90s", "1m30s", "2h") or a bare number of
// seconds ("90", "1.5"). Negative values are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
		}
		return d, nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 && secs < 1e9 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("invalid duration %q: want e.g. 90s, 5m or 1h (a bare number is seconds)", s)
}

// DurationValue is a pflag.Value that parses with ParseDuration, so flags
// follow the same rule as the config file (a bare number is seconds).
type DurationValue struct{ D *time.Duration }

// NewDurationValue sets *d to def and returns a flag value writing to d.
func NewDurationValue(d *time.Duration, def time.Duration) *DurationValue {
	*d = def
	return &DurationValue{D: d}
}

// Set parses s. A negative value is passed on for the command to reject
// with its own message (a usage error naming the flag).
func (v *DurationValue) Set(s string) error {
	rest, neg := strings.CutPrefix(strings.TrimSpace(s), "-")
	d, err := ParseDuration(rest)
	if err != nil {
		return err
	}
	if neg {
		d = -d
	}
	*v.D = d
	return nil
}

func (v *DurationValue) String() string {
	if v == nil || v.D == nil || *v.D == 0 {
		return "0" // what pflag takes for an unset default
	}
	return v.D.String()
}

func (v *DurationValue) Type() string { return "duration" }

func checkPositive(s string) error {
	d, err := ParseDuration(s)
	if err == nil && d <= 0 {
		return errors.New("must be positive")
	}
	return err
}

func checkAtLeastSecond(s string) error {
	d, err := ParseDuration(s)
	if err == nil && d < time.Second {
		return errors.New("must be at least 1s")
	}
	return err
}

// sizeRe compiles on first use (start-up stays cheap).
var sizeRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^([0-9]+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$`)
})

func checkSize(s string) error {
	m := sizeRe().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || strings.TrimLeft(m[1], "0") == "" {
		return errors.New("want a size such as 8GiB, 500MB or 1048576")
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http(s)://host URL")
	}
	if u.User != nil {
		return errors.New("credentials do not go in the URL")
	}
	return nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("invalid base URL: want http(s)://host")
	case u.User != nil:
		return errors.New("credentials go in --api-key/--api-secret, not in the URL")
	}
	return nil
}

func checkAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port (e.g. :8080 or 127.0.0.1:8080)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not a host name or address", host)
	}
	return nil
}

func checkHostOrAddr(s string) error {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return checkAddr(s)
	}
	if strings.ContainsAny(s, " /\t:") {
		return errors.New("want host or host:port (e.g. connect.example.com:443)")
	}
	return nil
}

func checkToken(s string) error {
	if strings.ContainsAny(s, " \t\r\n") {
		return errors.New("must not contain spaces")
	}
	return nil
}

func checkCredentials(s string) error {
	_, err := higgsfield.ParseCredentials(s)
	return err
}

func checkWebhookSecret(s string) error {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return errors.New(`want "whsec_" followed by base64 (Console → Settings)`)
	}
	if key, err := base64.StdEncoding.DecodeString(b64); err != nil || len(key) == 0 {
		return errors.New(`the part after whsec_ is not base64 (a secret is whsec_ + base64, as the console shows it; for local tests: whsec_$(head -c 24 /dev/urandom | base64))`)
	}
	return nil
}

func checkDomainOrURL(s string) error {
	if strings.Contains(s, "://") {
		return checkURL(s)
	}
	if strings.ContainsAny(s, " /\t") {
		return errors.New("want a domain (example.ngrok.app) or a URL")
	}
	return nil
}

// suggest returns the known key closest to an unknown one, if close enough.
func suggest(name string) string {
	best, bestD := "", 4
	for _, k := range Keys {
		for _, cand := range []string{k.Name, k.Name[strings.LastIndex(k.Name, ".")+1:]} {
			if d := distance(name, cand); d < bestD {
				best, bestD = k.Name, d
			}
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Mask shows a secret without revealing it: its length, and the
// "whsec_" prefix of a webhook secret, never any of its secret characters.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	prefix := ""
	if strings.HasPrefix(s, "whsec_") {
		prefix = "whsec_"
	}
	return prefix + "****(" + strconv.Itoa(len(s)) + " chars)"
}
