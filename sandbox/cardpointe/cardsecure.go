package cardpointe

import (
	"net/http"
	"strings"
)

// CardSecure error codes the sandbox uses (spec §5; CardSecure's table:
// two digits, shown zero-padded to four in the docs, sent as a number).
// Which code answers which bad input is the sandbox's choice: the docs list
// the codes, not their triggers (Luhn failure 54 aside).
var csErrors = map[int]string{
	8:  "Data is not decimal digits.",
	12: "Key ID is not found.",
	13: "Data is too long.",
	14: "Data is empty.",
	21: "Data is too short.",
	49: "Data not found.",
	54: "Card number check (Luhn formula) failed.",
	74: "Missing required parameter.",
	77: "JSON deserialization error.",
	78: "Invalid swipe data.",
}

// csSuccess is the documented message of a successful tokenize.
const csSuccess = "No Error"

// CardSecureHandler serves CardSecure under /cardsecure/api/v1/ (spec §5):
// POST ccn/tokenize and POST echo, no authentication.
func (s *Server) CardSecureHandler() http.Handler { return http.HandlerFunc(s.serveCardSecure) }

func (s *Server) serveCardSecure(w http.ResponseWriter, r *http.Request) {
	var op func(fields) obj
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case CardSecurePrefix + "/ccn/tokenize":
		op = s.tokenize
	case CardSecurePrefix + "/echo":
		op = echo
	default:
		s.writeHTTPError(w, r, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeHTTPError(w, r, http.StatusMethodNotAllowed)
		return
	}
	if f, ok := s.readJSON(w, r); ok {
		writeJSON(w, http.StatusOK, op(f))
	}
}

func csError(code int) obj { return obj{"errorcode": code, "message": csErrors[code]} }

// tokenize answers POST ccn/tokenize: a card number (spaces allowed) or
// "<routing>/<account>" for ACH becomes a token, stable per value unless
// unique is true; an existing token with expiry/cvv updates that token.
// Encrypted data (encryptionhandler) and devicedata need keys the sandbox
// does not have: 12 and 78.
func (s *Server) tokenize(f fields) obj {
	v, ok := strFields(f, "account", "devicedata", "expiry", "cvv", "encryptionhandler", "unique")
	if !ok {
		return csError(77)
	}
	account, devicedata, expiry, cvv, handler, unique := strings.ReplaceAll(v[0], " ", ""), v[1], v[2], v[3], v[4], v[5]
	switch {
	case handler != "":
		return csError(12)
	case devicedata != "":
		return csError(78)
	case !f.has("account") && !f.has("devicedata"):
		return csError(74)
	case account == "":
		return csError(14)
	}
	if code := csDigits(cvv, 3, 4); code != 0 {
		return csError(code)
	}
	if code := csDigits(expiry, 4, 8); code != 0 {
		return csError(code)
	}
	if len(expiry) == 7 {
		return csError(21) // MMYY, YYYYM, YYYYMM or YYYYMMDD
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var token string
	switch {
	case isTokenShaped(account):
		if s.vault.lookup(account) == nil {
			return csError(49)
		}
		token = account
	case strings.Contains(account, "/"):
		routing, acct, _ := strings.Cut(account, "/")
		if code := csACH(routing, acct); code != 0 {
			return csError(code)
		}
		token = s.vault.tokenize(account, strings.EqualFold(unique, "true"))
	default:
		if code := csDigits(account, 12, 19); code != 0 {
			return csError(code)
		}
		if !luhnValid(account) {
			return csError(54)
		}
		token = s.vault.tokenize(account, strings.EqualFold(unique, "true"))
	}
	e := s.vault.lookup(token)
	if expiry != "" {
		e.expiry = expiry
	}
	e.hasCVV = e.hasCVV || cvv != ""
	s.logf("tokenize account=%s -> token=%s", maskPAN(e.pan), maskPAN(token))
	return obj{"errorcode": 0, "message": csSuccess, "token": token}
}

// csDigits checks an optional numeric field of min..max digits.
func csDigits(v string, min, max int) int {
	switch {
	case v == "":
		return 0
	case !digitsOnly(v):
		return 8
	case len(v) < min:
		return 21
	case len(v) > max:
		return 13
	}
	return 0
}

// csACH checks "<routing>/<account>": a 9-digit ABA routing number with a
// valid check digit and a 4-17 digit account number.
func csACH(routing, acct string) int {
	if code := csDigits(routing, 9, 9); code != 0 || routing == "" {
		return max(code, 14)
	}
	if code := csDigits(acct, 4, 17); code != 0 || acct == "" {
		return max(code, 14)
	}
	w := []int{3, 7, 1, 3, 7, 1, 3, 7, 1}
	sum := 0
	for i := range 9 {
		sum += int(routing[i]-'0') * w[i]
	}
	if sum%10 != 0 {
		return 54 // the check-digit failure code CardSecure has
	}
	return 0
}

// echo answers POST echo: the message back (spec §5). The field must be
// present; it may be blank.
func echo(f fields) obj {
	if !f.has("message") {
		return csError(74)
	}
	msg, err := f.str("message")
	if err != nil {
		return csError(77)
	}
	return obj{"errorcode": 0, "message": msg}
}
