package cardpointe

import (
	"crypto/rand"
	"regexp"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/redact"
)

// orderidAlphabet is Crockford's base32: no I, L, O, U, so an orderid read
// aloud at a till is not misheard.
const orderidAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewOrderID returns a fresh orderid for an auth that has none: "LSC" and
// 16 random base32 characters, 19 in all (the longest orderid the Gateway
// answers with, spec §2.2). The letters keep it from ever passing for a
// card number, which the Gateway would mask and then not find (spec §2.1).
func NewOrderID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	out := []byte("LSC")
	for _, x := range b {
		out = append(out, orderidAlphabet[x%32])
	}
	return string(out)
}

// orderidRe is what an auth's orderid may be: the recovery of a lost answer
// looks the auth up by it in a URL path, and the Gateway answers at most 19
// characters of it.
var orderidRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,19}$`)

// checkOrderID refuses an orderid the timeout recovery could not find the
// auth by: one longer than the Gateway keeps, one that needs escaping in a
// path, and one that passes for a card number (the Gateway masks it, spec
// §2.1) - a lookup that fails would make a lost auth look never sent.
func checkOrderID(field, id string) error {
	switch {
	case !orderidRe.MatchString(id):
		return errs.Invalid(field, `must be 1 to 19 letters, digits, ".", "_" or "-" (the timeout recovery looks the auth up by it)`)
	case len(id) >= 13 && digits(id) && redact.Luhn(id):
		return errs.Invalid(field, "must not look like a card number (13-19 digits passing the Luhn check): the Gateway masks such an orderid and could not find the auth by it")
	}
	return nil
}
