package cardpointe

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/libsecucard/libsecucard/core/errs"
)

// maxMinor is the largest amount magnitude the library sends, in minor units:
// the Gateway's amount holds at most 12 characters ("-99999999.99", spec
// §2.2); a larger one would only come back as PPS 42 "Above max amount".
const maxMinor = 99999999_99

// FormatMinor writes minor units as the decimal string the Gateway reads as
// major units (spec §2.1: with a decimal point the value is in dollars):
// 100 → "1.00", -500 → "-5.00", 0 → "0.00". Integer arithmetic only.
func FormatMinor(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	cents := strconv.FormatInt(minor%100, 10)
	if len(cents) == 1 {
		cents = "0" + cents
	}
	return sign + strconv.FormatInt(minor/100, 10) + "." + cents
}

// ParseAmount reads an amount the Gateway answered into minor units, by the
// Gateway's own rule (spec §2.1): with a decimal point major units ("1.00",
// "1.5"), without one minor units ("100"). ok is false for anything else
// (more than two decimals, exponents, blanks). Integer arithmetic only.
func ParseAmount(s string) (minor int64, ok bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, dotted := strings.Cut(s, ".")
	if !digits(whole) || !digits(frac) || (whole == "" && frac == "") || len(frac) > 2 || len(whole) > 15 {
		return 0, false
	}
	var n int64
	if whole != "" {
		n, _ = strconv.ParseInt(whole, 10, 64)
	}
	if dotted {
		n *= 100
		switch len(frac) {
		case 1:
			n += int64(frac[0]-'0') * 10
		case 2:
			n += int64(frac[0]-'0')*10 + int64(frac[1]-'0')
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// digits reports whether s holds only ASCII digits ("" counts).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// minorUnits reads an amount the host gave: a JSON integer of minor units,
// never a string or a fraction (a float cannot hold every cent exactly, and
// "1.00" versus "100" is the ambiguity the Gateway resolves by a decimal
// point the host should not have to think about).
func minorUnits(field string, v any) (int64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, errs.Invalid(field, "must be an integer number of minor units (cents), e.g. 1000 for 10.00, got %s", jsonType(v))
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if err != nil {
		if strings.ContainsAny(num.String(), ".eE") {
			return 0, errs.Invalid(field, "must be an integer number of minor units (cents), e.g. 1000 for 10.00, not a fraction")
		}
		return 0, errs.Invalid(field, "is out of range")
	}
	if n > maxMinor || n < -maxMinor {
		return 0, errs.Invalid(field, "must be at most %d minor units (%s) in magnitude", int64(maxMinor), FormatMinor(maxMinor))
	}
	return n, nil
}

// jsonType names a decoded JSON value's type for messages, never its value
// (a value in the wrong field may be a card number).
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unknown type"
}
