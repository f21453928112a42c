package cardpointe

import (
	"errors"
	"strconv"
	"strings"
)

// maxMinor is the largest amount magnitude the sandbox takes, in minor units.
// Responses carry at most 12 characters of amount (spec §2.2, "-99999999.99"
// is 12); the real limit per MID is unknown, larger amounts answer PPS 42.
const maxMinor = 99999999_99

var (
	errAmountSyntax = errors.New("not an amount")
	errAmountRange  = errors.New("amount too large")
)

// parseAmount reads an amount the way the Gateway does (spec §2.1): with a
// decimal point the value is in major units ("1.00" = 100 minor units, "1.5"
// = 150), without one it is in minor units ("100" = 100). A leading "-"
// is allowed (forced credit). More than two decimals, exponents, a "+",
// spaces or an empty string are errAmountSyntax; magnitudes above maxMinor
// are errAmountRange. Integer arithmetic only: no float ever touches money.
func parseAmount(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, dotted := strings.Cut(s, ".")
	if !digitsOnly(whole) || !digitsOnly(frac) || (whole == "" && frac == "") || len(frac) > 2 {
		return 0, errAmountSyntax
	}
	if len(whole) > 12 { // more than maxMinor in any reading, and safe from overflow
		return 0, errAmountRange
	}
	var n int64
	if whole != "" {
		n, _ = strconv.ParseInt(whole, 10, 64)
	}
	if dotted {
		n *= 100
		if frac != "" {
			f, _ := strconv.ParseInt(frac, 10, 64)
			if len(frac) == 1 {
				f *= 10
			}
			n += f
		}
	}
	if n > maxMinor {
		return 0, errAmountRange
	}
	if neg {
		n = -n
	}
	return n, nil
}

// formatAmount writes minor units as the two-decimal major-unit string every
// Gateway response carries ("1.00", "-5.00", "0.00").
func formatAmount(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return sign + strconv.FormatInt(minor/100, 10) + "." + twoDigits(minor%100)
}

func twoDigits(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// digitsOnly reports whether s holds only ASCII digits ("" counts).
func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
