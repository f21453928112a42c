package testkit

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// The helpers below let fuzz targets state "nothing secret that went in comes
// out in an error" without asking the library's redactor what is secret:
// the oracle finds card numbers and secrets by its own, plain rules.

// PANs returns the card numbers written in s, as they are written: maximal
// runs of 13 to 19 digits, optionally grouped by single spaces or dashes,
// that pass the Luhn check and stand alone, not glued to a word (digits
// inside "STX_4111…" or "A4111…" are an identifier, as the redactor's
// documentation says).
func PANs(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && (isDigit(s[i-1]) || isWord(s[i-1]))) {
			i++
			continue
		}
		// Extend over digits and single separators between digits.
		j, digits := i, 0
		for j < len(s) {
			switch {
			case isDigit(s[j]):
				digits++
				j++
				continue
			case (s[j] == ' ' || s[j] == '-') && j+1 < len(s) && isDigit(s[j+1]) && digits > 0:
				j++
				continue
			}
			break
		}
		if run := s[i:j]; digits >= 13 && digits <= 19 && luhn(onlyDigits(run)) && (j == len(s) || !isWord(s[j])) {
			out = append(out, run)
		}
		i = j
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord is a byte that glues digits into an identifier.
func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func onlyDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func luhn(d string) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return len(d) > 0 && sum%10 == 0
}

// TestPANs are Luhn-valid test card numbers for fuzz targets to plant.
var TestPANs = []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "4000056655665556"}

// SecretLike turns fuzz input into a value that can only appear in an
// output by being copied from the input: 10 to 64 characters of letters and
// digits with at least three of each, so no message template holds it by
// chance. It returns "" when s has too little of either.
func SecretLike(s string) string {
	var b strings.Builder
	letters, digits := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			letters++
		default:
			continue
		}
		b.WriteRune(r)
		if b.Len() == 64 {
			break
		}
	}
	if b.Len() < 10 || letters < 3 || digits < 3 {
		return ""
	}
	return b.String()
}

// ErrorText is everything a host can read of err: its message and its JSON
// form (the error JSON of the C API).
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	b, _ := json.Marshal(err)
	return err.Error() + "\n" + string(b)
}

// Leak returns what of the input reappears in text, "" for nothing: a card
// number of input that stands as a card number in text (a run of digits
// inside a longer one is no card number, there or here), or one of secrets
// anywhere in text.
func Leak(text, input string, secrets ...string) string {
	in := map[string]bool{}
	for _, p := range PANs(input) {
		in[onlyDigits(p)] = true
	}
	for _, p := range PANs(text) {
		if in[onlyDigits(p)] {
			return p
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			return s
		}
	}
	return ""
}

// PlantJSON decodes doc and replaces its n-th scalar value (string, number
// or boolean; counted depth first, modulo their number, object members in
// key order) with value. ok is false when doc is not JSON or holds no
// scalar. Keys are never touched: a key is what the host wrote and errors
// name it.
func PlantJSON(doc []byte, n int, value any) (out []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	count := countScalars(v)
	if count == 0 {
		return nil, false
	}
	if n < 0 {
		n = -n
	}
	target := n % count
	v, _ = plant(v, &target, value)
	b, err := json.Marshal(v)
	return b, err == nil
}

func countScalars(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range x {
			n += countScalars(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += countScalars(e)
		}
		return n
	case nil:
		return 0
	}
	return 1
}

// plant walks v in a fixed order (encoding/json sorts map keys when it
// encodes; the walk sorts too, so n names the same value every time).
func plant(v any, n *int, value any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if nv, done := plant(x[k], n, value); done {
				x[k] = nv
				return x, true
			}
		}
		return x, false
	case []any:
		for i := range x {
			if nv, done := plant(x[i], n, value); done {
				x[i] = nv
				return x, true
			}
		}
		return x, false
	case nil:
		return x, false
	}
	if *n == 0 {
		return value, true
	}
	*n--
	return v, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Keys returns every object key in doc (nil when doc is not JSON), so a
// target can tell a planted value from a key the host wrote.
func Keys(doc []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// SecretKeys name the values a server or host sends that are secret, by
// the oracle's own list (spec §2, PCI): tokens, credentials, card codes.
var SecretKeys = []string{"client_secret", "password", "passcode", "access_token", "refresh_token", "device_code",
	"token", "authorization", "encryption_key", "secret", "pin", "cvv", "cvv2", "cvc"}

// SecretValues returns the values doc holds under a secret key (compared
// case-insensitively, at any depth) that an error can only repeat by
// leaking them: SecretLike values that appear nowhere else in doc.
func SecretValues(doc []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	var found []string
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && isSecretKey(k) {
					if SecretLike(s) == s {
						found = append(found, s)
					}
					x[k] = ""
					continue
				}
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		}
		return v
	}
	rest, _ := json.Marshal(walk(v))
	var out []string
	for _, s := range found {
		if !bytes.Contains(rest, []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

func isSecretKey(k string) bool {
	for _, s := range SecretKeys {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}
