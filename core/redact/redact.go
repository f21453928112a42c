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
//   - every string registered with Secret (the live tokens and the client
//     secret), so a token is masked even where no key names it;
//   - card numbers: runs of 13–19 digits (optionally grouped by single spaces or
//     dashes) that pass the Luhn check keep only their last four digits;
//   - card data by its key (the CardPointe Gateway's and CardSecure's field
//     names): expiry and track data wholly; an "account" value (a card or
//     bank account number, also one that fails the Luhn check, or a token)
//     down to its last four digits.
//
// The masks are deliberately greedy: a false positive costs a log reader a few
// characters, a false negative can cost a PCI audit.
package redact

import (
	"regexp"
	"sort"
	"strings"
	"sync"
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
	// Candidate card numbers: 13–19 digits, optionally in groups separated by a
	// single space or dash, not glued to other digits.
	panCandidate = regexp.MustCompile(`(?:^|[^0-9])([0-9](?:[ -]?[0-9]){12,18})(?:$|[^0-9])`)
)

var (
	secretsMu sync.RWMutex
	secrets   = map[string]uint64{} // secret -> insertion sequence
	seq       uint64
)

// maxSecrets bounds the registry: tokens rotate every ~20 minutes, so the oldest
// are long dead when they fall out.
const maxSecrets = 512

// Secret registers a value that must never appear in output (a token, a client
// secret, a password). Short values (< 6 characters) are ignored because
// masking them would garble ordinary text; the key patterns still cover them.
func Secret(values ...string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, v := range values {
		if len(v) < 6 {
			continue
		}
		seq++
		secrets[v] = seq
	}
	if len(secrets) > maxSecrets {
		type kv struct {
			k string
			s uint64
		}
		all := make([]kv, 0, len(secrets))
		for k, s := range secrets {
			all = append(all, kv{k, s})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].s < all[j].s })
		for _, e := range all[:len(all)-maxSecrets] {
			delete(secrets, e.k)
		}
	}
}

// String returns s with every secret and card number masked.
func String(s string) string {
	if s == "" {
		return s
	}
	s = maskRegistered(s)
	s = jsonString.ReplaceAllString(s, `${1}"`+Mask+`"`)
	s = jsonNumber.ReplaceAllString(s, `${1}"`+Mask+`"`)
	s = longCodeJSON.ReplaceAllString(s, `${1}"`+Mask+`"`)
	s = formPair.ReplaceAllString(s, `${1}`+Mask)
	s = maskAccounts(accountJSON, s, `"`)
	s = maskAccounts(accountForm, s, "")
	s = longCodeForm.ReplaceAllString(s, `${1}`+Mask)
	s = scheme.ReplaceAllString(s, `${1}${2}`+Mask)
	s = headerPair.ReplaceAllStringFunc(s, func(m string) string {
		sub := headerPair.FindStringSubmatch(m)
		if strings.HasPrefix(strings.TrimSpace(sub[2]), Mask) || strings.Contains(sub[2], Mask) && !strings.ContainsAny(sub[2], " ") {
			return m
		}
		return sub[1] + Mask
	})
	return maskPANs(s)
}

// maskAccounts keeps only the last four digits of the account values re
// finds (group 2 of each match) that hold at least 8 digits; close ends the
// replacement (the JSON string's quote).
func maskAccounts(re *regexp.Regexp, s, close string) string {
	if !strings.Contains(strings.ToLower(s), "account") {
		return s
	}
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

// Bytes is String for byte slices (HTTP bodies, STOMP frames).
func Bytes(b []byte) string { return String(string(b)) }

func maskRegistered(s string) string {
	secretsMu.RLock()
	defer secretsMu.RUnlock()
	for v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

func maskPANs(s string) string {
	if !hasLongDigitRun(s) {
		return s
	}
	out := []byte(s)
	changed := false
	for _, loc := range panCandidate.FindAllStringSubmatchIndex(s, -1) {
		start, end := loc[2], loc[3]
		candidate := s[start:end]
		digits := make([]byte, 0, len(candidate))
		for i := 0; i < len(candidate); i++ {
			if c := candidate[i]; c >= '0' && c <= '9' {
				digits = append(digits, c)
			}
		}
		if len(digits) < 13 || len(digits) > 19 || !Luhn(string(digits)) {
			continue
		}
		// Keep the separators and the last four digits, mask every other digit.
		keep := 4
		for i := end - 1; i >= start; i-- {
			if out[i] >= '0' && out[i] <= '9' {
				if keep > 0 {
					keep--
					continue
				}
				out[i] = '*'
			}
		}
		changed = true
	}
	if !changed {
		return s
	}
	// Overlapping candidates (a 20-digit run) are never masked partially: the
	// regexp requires a non-digit boundary on both sides.
	return string(out)
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
