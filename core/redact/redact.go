// Package redact owns the one function that removes secrets and card data from
// text before it reaches a log line, an error message or a host callback.
//
// It masks, wherever they appear in free text, JSON, form bodies, HTTP or STOMP
// headers:
//   - values of secret-bearing keys: client_secret, password, passcode,
//     access_token, refresh_token, token, device_code, authorization, login,
//     user-id, encryption_key, pin, cvv/cvv2/cvc/csc, and "code" when it holds a long
//     (device) code rather than a short error code;
//   - "Bearer <token>" and "Basic <credentials>";
//   - every string registered with a client's Redactor (its live tokens, its
//     client secret and password), so a token is masked even where no key
//     names it;
//   - card numbers: runs of 13–19 digits standing alone as a number
//     (optionally grouped by single spaces or dashes) that pass the Luhn check
//     keep only their last four digits;
//   - card data by its key (the CardPointe Gateway's and CardSecure's field
//     names): expiry and track data wholly; an "account" value (a card or
//     bank account number, also one that fails the Luhn check, or a token)
//     down to its last four digits.
//
// The masks are deliberately greedy: a false positive costs a log reader a few
// characters, a false negative can cost a PCI audit.
package redact

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Mask replaces a secret value.
const Mask = "[REDACTED]"

// secretKeys are matched case-insensitively as whole keys.
const secretKeys = `client_secret|clientsecret|password|passwd|passcode|access_token|refresh_token|device_code|` +
	`authorization|login|user-id|encryption_key|user_pin|pin|cvv2|cvv|cvc|csc|secret|token|` +
	`expiry|expdate|exp_date|track|track1|track2|trackdata`

var (
	// "key": "value" and "key": 123 (JSON), also with single quotes.
	jsonString = regexp.MustCompile(`(?i)(["'](?:` + secretKeys + `)["']\s*:\s*)"((?:[^"\\]|\\.)*)"`)
	jsonNumber = regexp.MustCompile(`(?i)(["'](?:` + secretKeys + `)["']\s*:\s*)(-?[0-9][0-9.]*)`)
	// key=value in form bodies, query strings and command lines.
	formPair = regexp.MustCompile(`(?i)((?:^|[?&\s;,(-])(?:` + secretKeys + `)=)([^&\s"',;)]+)`)
	// key: value in HTTP/STOMP headers and "key value" style lines.
	headerPair = regexp.MustCompile(`(?im)(^\s*(?:` + secretKeys + `)\s*:\s*)(\S.*)$`)
	// Bearer / Basic credentials anywhere.
	scheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]+=*)`)
	// "code" holding a device code (long) rather than an API error code (short).
	longCodeJSON = regexp.MustCompile(`(?i)("code"\s*:\s*)"([^"]{16,})"`)
	longCodeForm = regexp.MustCompile(`(?i)((?:^|[?&\s])code=)([^&\s"]{16,})`)
	// An account number by its key: the value of "account" (JSON) or
	// account= (form) when it holds at least 8 digits.
	accountJSON = regexp.MustCompile(`(?i)("account"\s*:\s*")([^"\\]*)"`)
	accountForm = regexp.MustCompile(`(?i)((?:^|[?&\s])account=)([^&\s"]+)`)
)

// Redactor masks the patterns above plus the secrets registered with it. Each
// client owns one, so its secrets are masked in everything it emits and never
// crowded out by another client's. A nil *Redactor masks the patterns only.
type Redactor struct {
	mu sync.RWMutex
	// live holds the current value of each slot ("client_secret",
	// "access_token", ...): never evicted while the slot holds it.
	live map[string]string
	// retired holds values replaced in their slot (rotated tokens), newest
	// last; a bounded courtesy, since a rotated token is dead.
	retired []string
	// sorted is every registered value, longest first, rebuilt on change, so
	// a secret that contains another is masked whole.
	sorted []string
}

// maxRetired bounds the rotated values a Redactor still masks: tokens rotate
// every ~20 minutes, so this covers about a day.
const maxRetired = 64

// minSecret is the shortest value worth registering: masking shorter ones
// would garble ordinary text; the key patterns still cover them.
const minSecret = 6

// New returns a Redactor with no secrets registered.
func New() *Redactor { return &Redactor{live: map[string]string{}} }

// Set makes value the current secret of slot; the value it replaces is
// retired (still masked, within maxRetired). An empty or short value only
// retires the old one.
func (r *Redactor) Set(slot, value string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old, had := r.live[slot]
	if had && old == value {
		return
	}
	if had {
		r.retired = append(r.retired, old)
		if n := len(r.retired) - maxRetired; n > 0 {
			r.retired = append(r.retired[:0:0], r.retired[n:]...)
		}
		delete(r.live, slot)
	}
	if len(value) >= minSecret {
		if r.live == nil {
			r.live = map[string]string{}
		}
		r.live[slot] = value
	}
	r.rebuild()
}

func (r *Redactor) rebuild() {
	seen := make(map[string]bool, len(r.live)+len(r.retired))
	all := make([]string, 0, len(r.live)+len(r.retired))
	for _, v := range r.live {
		if !seen[v] {
			seen[v] = true
			all = append(all, v)
		}
	}
	for _, v := range r.retired {
		if !seen[v] {
			seen[v] = true
			all = append(all, v)
		}
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	r.sorted = all
}

// String returns s with the registered secrets, secret-bearing values and
// card numbers masked.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	s = r.maskRegistered(s)
	// The patterns are costly on long text; each runs only where the word it
	// looks for occurs at all (a cheap, exact prefilter).
	lower := strings.ToLower(s)
	if containsAny(lower, secretKeyWords) {
		s = jsonString.ReplaceAllString(s, `${1}"`+Mask+`"`)
		s = jsonNumber.ReplaceAllString(s, `${1}"`+Mask+`"`)
		s = formPair.ReplaceAllString(s, `${1}`+Mask)
		s = headerPair.ReplaceAllStringFunc(s, func(m string) string {
			sub := headerPair.FindStringSubmatch(m)
			if strings.HasPrefix(strings.TrimSpace(sub[2]), Mask) || strings.Contains(sub[2], Mask) && !strings.ContainsAny(sub[2], " ") {
				return m
			}
			return sub[1] + Mask
		})
	}
	if strings.Contains(lower, "code") {
		s = longCodeJSON.ReplaceAllString(s, `${1}"`+Mask+`"`)
		s = longCodeForm.ReplaceAllString(s, `${1}`+Mask)
	}
	if strings.Contains(lower, "account") {
		s = maskAccounts(accountJSON, s, `"`)
		s = maskAccounts(accountForm, s, "")
	}
	if strings.Contains(lower, "bearer") || strings.Contains(lower, "basic") {
		s = scheme.ReplaceAllString(s, `${1}${2}`+Mask)
	}
	return maskPANs(s)
}

// secretKeyWords are the words of secretKeys, for the prefilter.
var secretKeyWords = strings.Split(secretKeys, "|")

// maskAccounts keeps only the last four digits of the account values re
// finds (group 2 of each match) that hold at least 8 digits; close ends the
// replacement (the JSON string's quote).
func maskAccounts(re *regexp.Regexp, s, close string) string {
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		digits := 0
		for i := 0; i < len(sub[2]); i++ {
			if sub[2][i] >= '0' && sub[2][i] <= '9' {
				digits++
			}
		}
		if digits < 8 {
			return m
		}
		return sub[1] + Last4(sub[2]) + close
	})
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// Bytes is String for byte slices (HTTP bodies, STOMP frames).
func (r *Redactor) Bytes(b []byte) string { return r.String(string(b)) }

// Clip redacts s whole and then bounds it to about max bytes. Redacting
// first means a cut can never leave the head of a secret its pattern no
// longer recognises; the cut also backs off a word (token, number) it would
// split, so no fragment of one remains.
func (r *Redactor) Clip(s string, max int) string {
	// Text far beyond the cut is dropped before redacting, so a 10 MB body
	// does not cost seconds of pattern matching: the margin keeps every
	// secret that starts before the cut whole for the redactor to see.
	orig := len(s)
	if margin := max + clipMargin(max); len(s) > margin {
		s = s[:margin]
	}
	s = r.String(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	for back := 0; cut > 0 && back < maxWordBackoff && isWordByte(s[cut-1]) && isWordByte(s[cut]); back++ {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes truncated)", s[:cut], len(s)-cut+orig-min(orig, max+clipMargin(max)))
}

// clipMargin is how much text beyond the cut Clip still redacts.
func clipMargin(max int) int {
	if m := 4 * max; m > 16<<10 {
		return m
	}
	return 16 << 10
}

// maxWordBackoff bounds how far Clip moves back to avoid splitting a word.
const maxWordBackoff = 256

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == '+' || c == '/' || c == '='
}

func (r *Redactor) maskRegistered(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.sorted {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// String masks the patterns only (no registered secrets): for text produced
// before any client exists, such as a config that fails to parse.
func String(s string) string { return (*Redactor)(nil).String(s) }

// Clip is Redactor.Clip with the patterns only.
func Clip(s string, max int) string { return (*Redactor)(nil).Clip(s, max) }

// Bytes is String for byte slices.
func Bytes(b []byte) string { return String(string(b)) }

// maskPANs masks every card number that stands alone as a number: 13–19
// digits, optionally grouped by single spaces or dashes, passing the Luhn
// check, not glued to letters, digits or '_' (an id such as
// CUS_DOESNOTEXIST4111111111111111 is not a card number). Of a run of groups
// ("4111111111111111 4111111111111111", "4111 1111 1111 1111") every window
// of whole groups that forms a card number is masked, keeping its last four
// digits.
func maskPANs(s string) string {
	if !hasLongDigitRun(s) {
		return s
	}
	var out []byte
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		if i > 0 && (isIDByte(s[i-1]) || isDigit(s[i-1])) {
			// Digits inside a word (an id): skip the word.
			for i < len(s) && (isIDByte(s[i]) || isDigit(s[i])) {
				i++
			}
			continue
		}
		// Collect the run's groups: [start, end) of each digit group.
		var groups [][2]int
		j := i
		for {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			groups = append(groups, [2]int{j, k})
			if k+1 < len(s) && (s[k] == ' ' || s[k] == '-') && isDigit(s[k+1]) {
				j = k + 1
				continue
			}
			j = k
			break
		}
		if j < len(s) && isIDByte(s[j]) {
			// Glued to a word on the right: not a number standing alone.
			// Skip to the end of that word.
			for j < len(s) && (isIDByte(s[j]) || isDigit(s[j])) {
				j++
			}
			i = j
			continue
		}
		for a := 0; a < len(groups); {
			b := panWindow(s, groups, a)
			if b < 0 {
				a++
				continue
			}
			if out == nil {
				out = []byte(s)
			}
			keep := 4
			for p := groups[b][1] - 1; p >= groups[a][0]; p-- {
				if isDigit(out[p]) {
					if keep > 0 {
						keep--
						continue
					}
					out[p] = '*'
				}
			}
			a = b + 1
		}
		i = j
	}
	if out == nil {
		return s
	}
	return string(out)
}

// panWindow returns the last group b >= a such that groups a..b hold a card
// number (the longest such window), or -1. A window holds at most 19 digits,
// so the work per group is bounded however long the run.
func panWindow(s string, groups [][2]int, a int) int {
	var digits [19]byte
	n, best := 0, -1
	for b := a; b < len(groups); b++ {
		g := s[groups[b][0]:groups[b][1]]
		if n+len(g) > len(digits) {
			break
		}
		n += copy(digits[n:], g)
		if n >= 13 && Luhn(string(digits[:n])) {
			best = b
		}
	}
	return best
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isIDByte is a byte that glues digits into an identifier.
func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func hasLongDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			run++
			if run >= 13 {
				return true
			}
		case (c == ' ' || c == '-') && run > 0:
			// a grouped card number keeps counting across single separators
		default:
			run = 0
		}
	}
	return false
}

// Luhn reports whether a string of digits passes the Luhn (mod 10) check.
func Luhn(digits string) bool {
	if len(digits) == 0 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Last4 masks a card number for display: every digit but the last four becomes
// '*'. Non-digits are kept. Use it where a PAN is shown on purpose (receipts).
func Last4(pan string) string {
	b := []byte(pan)
	keep := 4
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] >= '0' && b[i] <= '9' {
			if keep > 0 {
				keep--
				continue
			}
			b[i] = '*'
		}
	}
	return string(b)
}
