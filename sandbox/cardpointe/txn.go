package cardpointe

import (
	"context"
	"strings"
	"time"
)

// Settlement states (setlstat) the sandbox uses (spec §2.6).
const (
	stAuthorized = "Authorized"
	stQueued     = "Queued for Capture"
	stAccepted   = "Accepted" // settled
	stVoided     = "Voided"
	stDeclined   = "Declined"
	stZeroAmount = "Zero amount" // an approved account verification
)

// txn is one transaction record of the Gateway.
type txn struct {
	retref, merchid, orderid string
	token, masked, lastfour  string
	bin                      string // the PAN's first six digits
	brand                    brand
	expiry, name             string
	currency                 string
	// refund marks money going to the cardholder: a forced credit or a
	// refund of a sale. Such records carry negative amounts.
	refund     bool
	parent     *txn  // the sale a refund belongs to
	authorized int64 // approved amount in minor units (0 when declined)
	amount     int64 // current amount: reduced by a partial void, set by capture
	refunded   int64 // approved refunds against this sale, minor units
	ans        answer
	authcode   string
	avsresp    string
	cvvresp    string
	setlstat   string
	batch      *batch
	authdate   time.Time
	capturedAt time.Time
	settledAt  time.Time
	entrymode  string
	signature  string
	profileid  string
	acctid     string
	userfields any
}

func (t *txn) voidable() bool { return t.setlstat == stAuthorized || t.setlstat == stQueued }

func (t *txn) refundable() bool {
	return !t.refund && t.setlstat == stAccepted && t.amount-t.refunded > 0
}

// card is an account resolved for a request.
type card struct {
	pan, token string
	brand      brand
	expiry     string // stored with the token, if any
}

// resolveAccount turns an auth's or profile's account (PAN or CardSecure
// token) into a card, or names the PPS code that refuses it. The caller
// holds s.mu.
func (s *Server) resolveAccount(account string) (card, string) {
	account = strings.ReplaceAll(account, " ", "") // "4111 1111 1111 1111" is accepted (spec §2.1 examples)
	pan, token, expiry := account, "", ""
	if isTokenShaped(account) {
		e := s.vault.lookup(account)
		switch {
		case e == nil:
			return card{}, "98" // Invalid token: not issued by this CardSecure (spec §3)
		case e.ach:
			return card{}, "48" // Echeck not supported: the sandbox MID has no ACH
		}
		// CardSecure tokenizes any Luhn-valid number; the gateway still
		// checks the card behind the token.
		pan, token, expiry = e.pan, account, e.expiry
	}
	switch {
	case pan == "":
		return card{}, "34"
	case !digitsOnly(pan) || len(pan) < 12 || len(pan) > 19:
		return card{}, "11" // Invalid card
	case !luhnValid(pan):
		return card{}, "13" // Bad card check digit
	}
	b, lengthOK, known := brandOf(pan)
	switch {
	case !known:
		return card{}, "33" // Unknown card type
	case !lengthOK:
		return card{}, "11"
	}
	if token == "" {
		token = s.vault.tokenize(pan, false)
	}
	return card{pan: pan, token: token, brand: b, expiry: expiry}, ""
}

// entryMode names the POS entry mode the Gateway reports for ecomind (spec §2.2).
func entryMode(ecomind string) string {
	switch strings.ToUpper(ecomind) {
	case "E":
		return "ECommerce"
	case "T":
		return "Moto"
	case "R":
		return "Recurring"
	}
	return "Keyed"
}

// authRequest is an auth body after validation.
type authRequest struct {
	merchid, account, expiry, cvv2, orderid string
	profile, name, address, postal, ecomind string
	capture, tokenize, wantProfile          bool
	receipt, bin                            string
	amount                                  int64
	f                                       fields
}

// parseAuth validates an auth body. A non-empty code is the PPS refusal.
func (s *Server) parseAuth(f fields) (authRequest, string) {
	var a authRequest
	a.f = f
	var currency, amount, capture, tokenize, bankaba, accttype string
	for name, dst := range map[string]*string{
		"merchid": &a.merchid, "account": &a.account, "expiry": &a.expiry, "cvv2": &a.cvv2,
		"orderid": &a.orderid, "profile": &a.profile, "name": &a.name, "address": &a.address,
		"postal": &a.postal, "ecomind": &a.ecomind, "receipt": &a.receipt, "bin": &a.bin,
		"currency": &currency, "amount": &amount, "capture": &capture, "tokenize": &tokenize,
		"bankaba": &bankaba, "accttype": &accttype,
	} {
		v, err := f.str(name)
		if err != nil {
			return a, "34"
		}
		*dst = v
	}
	if code := s.checkMerchant(a.merchid); code != "" {
		return a, code
	}
	if code := s.checkCurrency(currency); code != "" {
		return a, code
	}
	if amount == "" {
		return a, "43"
	}
	n, err := parseAmount(amount)
	switch err {
	case errAmountSyntax:
		return a, "43" // Invalid amount
	case errAmountRange:
		return a, "42" // Above max amount
	}
	a.amount = n
	if bankaba != "" || strings.EqualFold(accttype, "ECHK") || strings.EqualFold(accttype, "ESAV") {
		return a, "48" // Echeck not supported
	}
	if code := checkCVV(a.cvv2); code != "" {
		return a, code
	}
	if code := checkExpiry(a.expiry); code != "" {
		return a, code
	}
	a.capture, a.tokenize = yes(capture), yes(tokenize)
	a.wantProfile = yes(a.profile)
	if a.wantProfile {
		a.profile = ""
	}
	// An orderid that passes Luhn looks like a card number: the Gateway
	// masks it, and lookups by the original value then fail (spec §2.1).
	if looksLikePAN(a.orderid) {
		a.orderid = maskPAN(a.orderid)
	}
	return a, ""
}

// checkMerchant refuses a MID the credentials may not use (PPS 21).
func (s *Server) checkMerchant(merchid string) string {
	if merchid != s.opts.MerchID {
		return "21"
	}
	return ""
}

// checkCurrency: absent means the MID's; a malformed code is PPS 31, another
// currency PPS 32 (spec §3).
func (s *Server) checkCurrency(c string) string {
	switch {
	case c == "":
		return ""
	case !isCurrency(c):
		return "31"
	case !strings.EqualFold(c, s.opts.Currency):
		return "32"
	}
	return ""
}

// checkCVV: non-numeric is PPS 14; a length other than 3-4 is PPS 34.
func checkCVV(cvv string) string {
	switch {
	case cvv == "":
		return ""
	case !digitsOnly(cvv):
		return "14"
	case len(cvv) < 3 || len(cvv) > 4:
		return "34"
	}
	return ""
}

// checkExpiry: MMYY, YYYYM, YYYYMM or YYYYMMDD (spec §2.1). Non-numeric is
// PPS 15; another length PPS 34. Past dates pass: the gateway does not
// decline expired cards itself (spec §4).
func checkExpiry(exp string) string {
	switch {
	case exp == "":
		return ""
	case !digitsOnly(exp):
		return "15"
	case len(exp) != 4 && len(exp) != 5 && len(exp) != 6 && len(exp) != 8:
		return "34"
	}
	return ""
}

// ppsBody is the body of a gateway (PPS) answer such as a validation
// refusal. A refused request records no transaction, so it carries no
// retref (the sandbox's choice; the Gateway's exact field set for these
// answers is not documented).
func ppsBody(code string) obj {
	a := ppsAnswer(code)
	return obj{"respstat": a.respstat, "respcode": a.respcode, "resptext": a.resptext, "respproc": a.respproc}
}

// auth runs an authorization (spec §2.1): a sale with capture Y, an account
// verification with amount 0, a forced credit with a negative amount, a new
// stored profile with profile Y, or a charge of a stored profile.
func (s *Server) auth(ctx context.Context, f fields) obj {
	a, code := s.parseAuth(f)
	if code != "" {
		return ppsBody(code)
	}
	s.mu.Lock()
	c, acct, code := s.authAccount(&a)
	if code != "" {
		s.mu.Unlock()
		return ppsBody(code)
	}
	if a.expiry == "" {
		a.expiry = c.expiry
	}
	t := &txn{
		retref: s.newRetref(), merchid: a.merchid, orderid: a.orderid,
		token: c.token, masked: maskPAN(c.pan), lastfour: c.pan[len(c.pan)-4:], bin: c.pan[:6], brand: c.brand,
		expiry: a.expiry, name: a.name, currency: s.opts.Currency, refund: a.amount < 0,
		authdate: s.now(), entrymode: entryMode(a.ecomind),
		avsresp: avsResponse(a.postal, a.address), cvvresp: cvvResponse(a.cvv2),
		userfields: a.f["userfields"],
	}
	if acct != nil {
		t.profileid, t.acctid = acct.profile.id, acct.acctid
	}

	if timeoutPANs[c.pan] {
		// The gateway keeps the record of a timed-out auth (an inquiry
		// finds it) and answers when its processor wait is over.
		t.ans, t.setlstat = ppsAnswer("62"), stDeclined
		t.amount = a.amount
		t.avsresp, t.cvvresp = "", "" // no processor answered
		s.record(t)
		s.mu.Unlock()
		s.logf("auth retref=%s account=%s amount=%s -> timeout after %s", t.retref, t.masked, formatAmount(a.amount), s.opts.TimeoutDelay)
		if !sleepCtx(ctx, s.opts.TimeoutDelay) {
			return nil // the client left; nobody reads the answer
		}
		resp := s.authBody(t, a)
		resp["amount"] = formatAmount(a.amount)
		resp["setlstat"] = stDeclined
		return resp
	}

	ans, approved := s.emulate(c.pan, a.amount)
	t.ans = ans
	if ans.respstat == "A" {
		t.authorized, t.amount = approved, approved
		t.authcode = s.newAuthcode()
		if tp, ok := testPANs[c.pan]; ok && tp.authcode != "" {
			t.authcode = tp.authcode
		}
		t.setlstat = stAuthorized
		switch {
		case approved == 0:
			t.setlstat = stZeroAmount
		case a.capture:
			s.queue(t)
		}
		if a.wantProfile {
			acct := s.saveProfileFromAuth(a, c)
			t.profileid, t.acctid = acct.profile.id, acct.acctid
		}
	} else {
		t.setlstat = stDeclined
	}
	s.record(t)
	resp := s.authBody(t, a)
	s.mu.Unlock()
	s.logf("auth retref=%s account=%s amount=%s capture=%v -> %s %s %s", t.retref, t.masked,
		formatAmount(a.amount), a.capture, ans.respstat, ans.respcode, ans.resptext)
	return resp
}

// authAccount resolves the card of an auth: the account, or the stored
// profile account named by profile "<profileid>[/<acctid>]".
func (s *Server) authAccount(a *authRequest) (card, *profileAcct, string) {
	if a.profile == "" {
		c, code := s.resolveAccount(a.account)
		return c, nil, code
	}
	acct := s.findProfileAcct(a.merchid, a.profile)
	if acct == nil {
		return card{}, nil, "96" // Profile not found
	}
	c, code := s.resolveAccount(acct.token)
	if code != "" {
		return card{}, nil, code
	}
	if c.expiry == "" {
		c.expiry = acct.expiry
	}
	if a.name == "" {
		a.name = acct.data["name"]
	}
	if a.postal == "" && a.address == "" {
		a.postal, a.address = acct.data["postal"], acct.data["address"]
	}
	return c, acct, ""
}

// authBody is the auth answer (spec §2.2). account is the token, as the
// recorded UAT answers have it; with tokenize Y it is the masked PAN and the
// token comes separately. Both fields are always there.
func (s *Server) authBody(t *txn, a authRequest) obj {
	account := t.token
	if a.tokenize {
		account = t.masked
	}
	resp := obj{
		"respstat": t.ans.respstat, "respcode": t.ans.respcode, "resptext": t.ans.resptext,
		"respproc": t.ans.respproc, "retref": t.retref, "merchid": t.merchid,
		"account": account, "token": t.token, "amount": formatAmount(t.amount),
		"entrymode": t.entrymode,
	}
	if t.ans.respproc != procPPS {
		resp["commcard"] = "N" // the processor's answer; "Y" would mark a corporate card
	}
	if t.avsresp != "" {
		resp["avsresp"] = t.avsresp
	}
	if t.cvvresp != "" {
		resp["cvvresp"] = t.cvvresp
	}
	if t.authcode != "" {
		resp["authcode"] = t.authcode
	}
	if t.expiry != "" {
		resp["expiry"] = t.expiry
	}
	if t.orderid != "" {
		resp["orderid"] = t.orderid
	}
	if t.batch != nil {
		resp["batchid"] = t.batch.id
	}
	if t.profileid != "" && t.ans.respstat == "A" {
		resp["profileid"], resp["acctid"] = t.profileid, t.acctid
	}
	if t.ans.respstat == "A" {
		switch {
		case yes(a.receipt):
			resp["receipt"] = s.receipt(t, a.f)
		case strings.EqualFold(a.receipt, "json"):
			resp["receiptObj"] = s.receipt(t, a.f)
		}
	}
	if yes(a.bin) {
		resp["binInfo"] = binInfo(t.brand, t.bin)
	}
	return resp
}

// receipt is the receipt object (spec §2.1 receipt Y/json): merchant data,
// overridable by userfields receiptHeader, receiptDba, ...
func (s *Server) receipt(t *txn, f fields) obj {
	r := obj{
		"header": "", "footer": "", "dba": "Sandbox Merchant", "address1": "1 Sandbox Way",
		"address2": "Testville", "phone": "5555555555",
		"dateTime": t.authdate.Format(dateTimeYMDHM), "nameOnCard": t.name,
	}
	if uf, ok := f["userfields"].(map[string]any); ok {
		for key, field := range map[string]string{
			"receiptHeader": "header", "receiptFooter": "footer", "receiptDba": "dba",
			"receiptPhone": "phone", "receiptAddress1": "address1", "receiptAddress2": "address2",
			"receiptOrderNote": "orderNote", "receiptItems": "items",
		} {
			if v, ok := uf[key].(string); ok {
				r[field] = v
			}
		}
	}
	return r
}

// record stores t and indexes it by orderid. Caller holds s.mu.
func (s *Server) record(t *txn) {
	s.txns[t.retref] = t
	if t.orderid != "" {
		s.byOrder[t.orderid] = append(s.byOrder[t.orderid], t)
	}
}

// sleepCtx waits d or until ctx ends; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
