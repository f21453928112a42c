package cardpointe

// The lifecycle after an auth (spec §2.3-2.6, §3 "Void vs refund"):
//
//	Authorized --capture--> Queued for Capture --settle--> Accepted --refund--> (new refund record)
//	Authorized, Queued for Capture --void--> Voided
//
// Where the spec does not say which code refuses an operation in the wrong
// state, the sandbox answers (all respstat C, respproc PPS):
//
//	capture or void of a settled transaction: 27 "Txn Batched" (a Node SDK
//	  test of CardConnect expects it when capturing an old retref, spec §3);
//	refund of a transaction that is not settled: 28 "Txn not settled" (spec §2.5);
//	capture or void of a declined or zero-amount record, refund of a refund:
//	  29 "Txn not found" (no transaction the operation applies to);
//	a partial void after capture, an amount above what is left: 43 "Invalid amount".
//
// A void of an already voided transaction answers the void again (approved,
// amount 0.00): the spec recommends repeating voidByOrderId when its answer
// is lost, and the repeat must then say "voided", not fail.

// amountField reads an optional amount: ok false when absent; a non-empty
// code refuses it (43 malformed or not positive, 42 too large).
func amountField(f fields, allowZero bool) (n int64, ok bool, code string) {
	v, err := f.str("amount")
	if err != nil {
		return 0, false, "34"
	}
	if v == "" {
		return 0, false, ""
	}
	n, err = parseAmount(v)
	switch {
	case err == errAmountRange:
		return 0, false, "42"
	case err != nil, n < 0, n == 0 && !allowZero:
		return 0, false, "43"
	}
	return n, true, ""
}

// keyed reads the merchid and key ("retref" or "orderid") of a request on
// one transaction, and more fields after them. refuse is the PPS answer
// when they do not do: 34 for a wrong type, 21 for a foreign MID, missing
// for an empty key.
func (s *Server) keyed(f fields, key, missing string, more ...string) (v []string, refuse obj) {
	v, ok := strFields(f, append([]string{"merchid", key}, more...)...)
	if !ok {
		return nil, ppsBody("34")
	}
	if code := s.checkMerchant(v[0]); code != "" {
		return nil, ppsBody(code)
	}
	if v[1] == "" {
		return nil, ppsBody(missing)
	}
	return v, nil
}

// strFields reads scalar fields by name; false when one has a wrong type.
func strFields(f fields, names ...string) ([]string, bool) {
	out := make([]string, len(names))
	for i, name := range names {
		v, err := f.str(name)
		if err != nil {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// withSign gives magnitude n the sign of like (a refund record is negative).
func withSign(n, like int64) int64 {
	if like < 0 {
		return -n
	}
	return n
}

// notFound is PPS 29 with the retref echoed, as recorded (spec §2.6).
func notFound(retref string) obj {
	r := ppsBody("29")
	if retref != "" {
		r["retref"] = retref
	}
	return r
}

// stateRefusal answers an operation on t that its state does not allow.
func stateRefusal(t *txn) obj {
	code := "29"
	if t.setlstat == stAccepted {
		code = "27"
	}
	r := ppsBody(code)
	r["retref"] = t.retref
	return r
}

// approval is the processor's plain approval, as capture and void answer it.
func (s *Server) approval() answer {
	return procAnswer(s.opts.Processor, approvalCode(s.opts.Processor))
}

// capture queues an authorization for settlement (spec §2.3). Without an
// amount the authorized amount is captured; a smaller one is a partial
// capture; a larger one (a tip) is refused, the sandbox MID not being
// entitled. A repeated capture while queued answers again and may lower
// the amount.
func (s *Server) capture(f fields) obj {
	v, refuse := s.keyed(f, "retref", "34")
	if refuse != nil {
		return refuse
	}
	merchid, retref := v[0], v[1]
	n, hasAmount, code := amountField(f, false)
	if code != "" {
		return ppsBody(code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[retref]
	if t == nil || t.merchid != merchid {
		return notFound(retref)
	}
	switch t.setlstat {
	case stAuthorized, stQueued:
	default:
		return stateRefusal(t)
	}
	if hasAmount {
		if n > abs(t.authorized) {
			return ppsBody("43")
		}
		t.amount = withSign(n, t.authorized)
	}
	if t.setlstat == stAuthorized {
		s.queue(t)
	}
	s.logf("capture retref=%s amount=%s -> %s", t.retref, formatAmount(t.amount), t.setlstat)
	ans := s.approval()
	return obj{
		"respstat": ans.respstat, "respcode": ans.respcode, "resptext": ans.resptext, "respproc": ans.respproc,
		"merchid": t.merchid, "account": t.token, "token": t.token, "amount": formatAmount(t.amount),
		"retref": t.retref, "setlstat": t.setlstat, "batchid": t.batch.id, "commcard": "N",
		"authcode": t.authcode,
	}
}

// void cancels a transaction before settlement (spec §2.4); by is "retref"
// or "orderid" (voidByOrderId). Amount omitted or 0 voids the whole; a
// smaller amount reduces an authorization not yet captured.
func (s *Server) void(f fields, by string) obj {
	v, refuse := s.keyed(f, by, "34")
	if refuse != nil {
		return refuse
	}
	merchid, key := v[0], v[1]
	n, _, code := amountField(f, true)
	if code != "" {
		return ppsBody(code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *txn
	if by == "orderid" {
		t = s.voidCandidate(merchid, key)
		if t == nil {
			return ppsBody("29")
		}
	} else if t = s.txns[key]; t == nil || t.merchid != merchid {
		return notFound(key)
	}
	switch t.setlstat {
	case stAuthorized, stQueued:
		if n != 0 && n != abs(t.amount) {
			if n > abs(t.amount) || t.setlstat == stQueued {
				return ppsBody("43")
			}
			t.amount = withSign(abs(t.amount)-n, t.amount)
			t.authorized = t.amount // a partial void reduces the authorization
			break
		}
		s.unqueue(t)
		t.amount, t.setlstat = 0, stVoided
		if t.parent != nil {
			t.parent.refunded -= abs(t.authorized) // the voided refund's amount is refundable again
		}
	case stVoided:
	default:
		return stateRefusal(t)
	}
	s.logf("void retref=%s -> %s amount=%s", t.retref, t.setlstat, formatAmount(t.amount))
	ans := s.approval()
	resp := obj{
		"respstat": ans.respstat, "respcode": ans.respcode, "resptext": ans.resptext, "respproc": ans.respproc,
		"merchid": t.merchid, "amount": formatAmount(t.amount), "currency": t.currency,
		"retref": t.retref, "authcode": "REVERS",
	}
	if t.orderid != "" {
		resp["orderId"] = t.orderid
	}
	return resp
}

// voidCandidate picks the transaction voidByOrderId acts on: declined ones
// are skipped (since 5/2023, spec §2.4); of the rest the newest voidable,
// else the newest voided (a repeat), else the newest.
func (s *Server) voidCandidate(merchid, orderid string) *txn {
	var voided, other *txn
	list := s.byOrder[orderid]
	for i := len(list) - 1; i >= 0; i-- {
		t := list[i]
		switch {
		case t.merchid != merchid || t.setlstat == stDeclined:
		case t.voidable():
			return t
		case t.setlstat == stVoided && voided == nil:
			voided = t
		case other == nil:
			other = t
		}
	}
	if voided != nil {
		return voided
	}
	return other
}

// refund returns money of a settled sale (spec §2.5): a new transaction with
// its own retref, queued for the next settlement. Amount omitted refunds
// what is left. An amount of 1000.00-1999.99 gets the processor code of
// its whole-dollar part (spec §4 "Refund declines"); other refunds the
// gateway approves itself (respproc PPS, authcode REFUND).
func (s *Server) refund(f fields) obj {
	// Without a retref: 45 "Refunds without reference not supported" (use a forced credit).
	v, refuse := s.keyed(f, "retref", "45", "orderid")
	if refuse != nil {
		return refuse
	}
	merchid, retref, orderid := v[0], v[1], v[2]
	n, hasAmount, code := amountField(f, false)
	if code != "" {
		return ppsBody(code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[retref]
	switch {
	case t == nil || t.merchid != merchid || t.refund:
		return notFound(retref)
	case t.setlstat != stAccepted:
		r := ppsBody("28")
		r["retref"] = retref
		return r
	}
	left := t.amount - t.refunded
	if !hasAmount {
		n = left
	}
	if n > left || n == 0 {
		return ppsBody("43")
	}
	if looksLikePAN(orderid) {
		orderid = maskPAN(orderid)
	}
	if orderid == "" {
		orderid = t.orderid
	}
	r := &txn{
		retref: s.newRetref(), merchid: merchid, orderid: orderid,
		token: t.token, masked: t.masked, lastfour: t.lastfour, bin: t.bin, brand: t.brand, expiry: t.expiry,
		name: t.name, currency: t.currency, refund: true, parent: t, authdate: s.now(), entrymode: t.entrymode,
	}
	r.ans, r.authcode = ppsAnswer("00"), "REFUND"
	if code, driven := amountDrivenCode(s.opts.Processor, n); driven {
		r.ans, r.authcode = procAnswer(s.opts.Processor, code), ""
	}
	if r.ans.respstat == "A" {
		r.authorized, r.amount = -n, -n
		if r.authcode == "" {
			r.authcode = s.newAuthcode()
		}
		t.refunded += n
		s.queue(r)
	} else {
		r.setlstat = stDeclined
	}
	s.record(r)
	s.logf("refund retref=%s of %s amount=%s -> %s %s", r.retref, t.retref, formatAmount(n), r.ans.respstat, r.ans.respcode)
	resp := obj{
		"respstat": r.ans.respstat, "respcode": r.ans.respcode, "resptext": r.ans.resptext, "respproc": r.ans.respproc,
		"merchid": merchid, "amount": formatAmount(-r.amount), "currency": r.currency, "retref": r.retref,
		"account": r.token,
	}
	if r.authcode != "" && r.ans.respstat == "A" {
		resp["authcode"] = r.authcode
	}
	return resp
}

// inquireBody is the inquire answer for one transaction (spec §2.6). Note
// the camelCase orderId.
func (s *Server) inquireBody(t *txn) obj {
	resp := obj{
		"merchid": t.merchid, "account": t.token, "token": t.token, "amount": formatAmount(t.amount),
		"currency": t.currency, "retref": t.retref, "respstat": t.ans.respstat, "respcode": t.ans.respcode,
		"resptext": t.ans.resptext, "respproc": t.ans.respproc, "setlstat": t.setlstat,
		"authdate": t.authdate.Format(dateYMD), "lastfour": t.lastfour, "entrymode": t.entrymode,
		"voidable": yn(t.voidable()), "refundable": yn(t.refundable()),
	}
	for key, val := range map[string]string{
		"authcode": t.authcode, "name": t.name, "expiry": t.expiry, "orderId": t.orderid,
		"signature": t.signature, "profileid": t.profileid, "acctid": t.acctid,
	} {
		if val != "" {
			resp[key] = val
		}
	}
	if t.batch != nil {
		resp["batchid"] = t.batch.id
	}
	if !t.capturedAt.IsZero() {
		resp["capturedate"] = t.capturedAt.Format(dateTimeYMDHM)
	}
	if !t.settledAt.IsZero() {
		resp["settledate"] = t.settledAt.Format(dateYMD)
	}
	if t.userfields != nil {
		resp["userfields"] = t.userfields
	}
	return resp
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

// inquire answers GET inquire/<retref>/<merchid>.
func (s *Server) inquire(retref, merchid string) obj {
	if code := s.checkMerchant(merchid); code != "" {
		return ppsBody(code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[retref]
	if t == nil || t.merchid != merchid {
		return notFound(retref)
	}
	return s.inquireBody(t)
}

// inquireByOrderid answers GET inquireByOrderid/<orderid>/<merchid>[/<set>]:
// one match is an object, several are an array (spec §2.6: clients accept
// both), none is PPS 29. set "1" restricts to the MID, which changes
// nothing here: the credentials have one MID.
func (s *Server) inquireByOrderid(orderid, merchid string) any {
	if code := s.checkMerchant(merchid); code != "" {
		return ppsBody(code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []obj
	for _, t := range s.byOrder[orderid] {
		if t.merchid == merchid {
			out = append(out, s.inquireBody(t))
		}
	}
	switch len(out) {
	case 0:
		return ppsBody("29")
	case 1:
		return out[0]
	}
	return out
}

// sigcap stores a cardholder signature on a transaction (spec §2.9); an
// absent signature erases it. The answer has no respstat, as sampled.
func (s *Server) sigcap(f fields) obj {
	v, refuse := s.keyed(f, "retref", "34", "signature")
	if refuse != nil {
		return refuse
	}
	merchid, retref, sig := v[0], v[1], v[2]
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[retref]
	if t == nil || t.merchid != merchid {
		return notFound(retref)
	}
	t.signature = sig
	return obj{"resptext": "signature stored", "respcode": "02", "retref": retref, "merchid": merchid}
}
