package cardpointe

import (
	"net/url"
	"slices"
	"strconv"
	"time"
)

// batch is a settlement batch of the MID. Captures (and approved refunds) go
// to the open batch; Settle closes it. The real gateway settles on its own
// schedule; the sandbox settles only when asked (admin call), so a test
// decides when "void" turns into "refund".
type batch struct {
	id        string
	hostbatch string // the processor's batch id, set at settlement
	hoststat  string // "" queued, "GB" accepted, "EB" empty
	txns      []*txn
	settledAt time.Time // zero while open
}

// queue puts an approved transaction into the open batch. Caller holds s.mu.
func (s *Server) queue(t *txn) {
	if s.open == nil {
		s.batchN++
		s.open = &batch{id: strconv.FormatUint(s.batchN, 10)}
		s.batches = append(s.batches, s.open)
	}
	t.batch, t.setlstat, t.capturedAt = s.open, stQueued, s.now()
	s.open.txns = append(s.open.txns, t)
}

// unqueue takes a voided transaction out of its (open) batch.
func (s *Server) unqueue(t *txn) {
	if b := t.batch; b != nil && b.settledAt.IsZero() {
		b.txns = slices.DeleteFunc(b.txns, func(x *txn) bool { return x == t })
		t.batch = nil
	}
}

// SettleResult reports a settlement.
type SettleResult struct {
	Settled int      `json:"settled"` // transactions now settled (setlstat Accepted)
	Batches []string `json:"batches"` // ids of the batches closed
}

// Settle closes the open batch: every transaction queued for capture becomes
// settled (setlstat "Accepted", settlestat "Y", batch hoststat "GB") and
// funded on today's date. Settled sales can be refunded, no longer voided.
// It is what POST /sandbox/cardpointe/settle does.
func (s *Server) Settle() SettleResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := SettleResult{Batches: []string{}}
	b := s.open
	if b == nil {
		return res
	}
	s.open = nil
	now := s.now()
	s.hostN++
	b.settledAt, b.hostbatch, b.hoststat = now, strconv.FormatUint(s.hostN, 10), "GB"
	if len(b.txns) == 0 {
		b.hoststat = "EB" // every capture in it was voided
	}
	for _, t := range b.txns {
		t.setlstat, t.settledAt = stAccepted, now
	}
	s.fund(b, now)
	res.Settled, res.Batches = len(b.txns), append(res.Batches, b.id)
	s.logf("settle batch=%s txns=%d", b.id, len(b.txns))
	return res
}

// settledBatches lists closed batches in settlement order.
func (s *Server) settledBatches() []*batch {
	var out []*batch
	for _, b := range s.batches {
		if !b.settledAt.IsZero() {
			out = append(out, b)
		}
	}
	return out
}

// settlestat answers GET settlestat?merchid=&date=MMDD | &batchid= (spec
// §2.7): an array of batches, or the plain text "Null batches" when there
// is none. Without date and batchid it returns the batches settled since
// the previous such call (as the recorded "since last request" answer
// suggests). The batchid form also finds the open batch (hoststat blank).
func (s *Server) settlestat(q url.Values) (any, bool) {
	if code := s.checkMerchant(q.Get("merchid")); code != "" {
		return ppsBody(code), true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*batch
	switch batchid, date := q.Get("batchid"), q.Get("date"); {
	case batchid != "":
		for _, b := range s.batches {
			if b.id == batchid {
				list = append(list, b)
			}
		}
	case date != "":
		day, ok := s.parseDay(date)
		if !ok {
			return ppsBody("34"), true // the Gateway's answer to a bad date is not documented
		}
		for _, b := range s.settledBatches() {
			if b.settledAt.Format(dateYMD) == day {
				list = append(list, b)
			}
		}
	default:
		settled := s.settledBatches()
		list = settled[s.reported:]
		s.reported = len(settled)
	}
	if len(list) == 0 {
		return nil, false
	}
	out := make([]obj, len(list))
	for i, b := range list {
		out[i] = s.batchBody(b)
	}
	return out, true
}

// parseDay reads MMDD (this year) or YYYYMMDD into YYYYMMDD.
func (s *Server) parseDay(d string) (string, bool) {
	if !digitsOnly(d) {
		return "", false
	}
	switch len(d) {
	case 4:
		d = strconv.Itoa(s.now().Year()) + d
	case 8:
	default:
		return "", false
	}
	t, err := time.Parse(dateYMD, d)
	if err != nil {
		return "", false
	}
	return t.Format(dateYMD), true
}

// batchBody is one settlestat entry (spec §2.7): totals as decimal strings,
// counts as numbers, and the batch's transactions.
func (s *Server) batchBody(b *batch) obj {
	var charge, refund int64
	var chargeN, refundN int
	txns := make([]obj, 0, len(b.txns))
	for _, t := range b.txns {
		if t.amount < 0 {
			refund, refundN = refund-t.amount, refundN+1
		} else {
			charge, chargeN = charge+t.amount, chargeN+1
		}
		e := obj{
			"retref": t.retref, "setlstat": yn(!b.settledAt.IsZero()), "setlamount": formatAmount(t.amount),
			"authcode": t.authcode, "cardtype": t.brand.name,
		}
		if t.orderid != "" {
			e["salesdoc"] = t.orderid
		}
		txns = append(txns, e)
	}
	return obj{
		"respproc": s.opts.Processor, "batchid": b.id, "hostbatch": b.hostbatch, "hoststat": b.hoststat,
		"merchid": s.opts.MerchID, "chargetotal": formatAmount(charge), "refundtotal": formatAmount(refund),
		"chargecnt": chargeN, "refundcnt": refundN, "txns": txns,
	}
}

// funding is the money of one settled batch reaching the merchant.
type funding struct {
	id   uint64
	date time.Time
	txns []fundedTxn
}

// fundedTxn is a settled transaction as funding reports it (minor units).
type fundedTxn struct {
	id           uint64
	retref       string
	amount       int64
	brand        string
	masked       string
	refund       bool
	currencyCode string
}

// fund records the funding of a settled batch. The sandbox funds on the
// settlement day (real funding follows days later). Caller holds s.mu.
func (s *Server) fund(b *batch, now time.Time) {
	if len(b.txns) == 0 {
		return
	}
	s.fundingN++
	fd := &funding{id: s.fundingN, date: now}
	for _, t := range b.txns {
		s.fundingN++
		fd.txns = append(fd.txns, fundedTxn{
			id: s.fundingN, retref: t.retref, amount: t.amount, brand: t.brand.name,
			masked: t.masked, refund: t.amount < 0, currencyCode: t.currency,
		})
	}
	s.fundings = append(s.fundings, fd)
}

// fundingAnswer answers GET funding?merchid=&date= (spec §2.7): amounts are
// integers in minor units. Without date it returns the fundings no undated
// call has returned yet. Errors come as errormsg. Empty adjustments and
// chargebacks arrays are left out, as documented.
func (s *Server) fundingAnswer(q url.Values) obj {
	merchid := q.Get("merchid")
	if s.checkMerchant(merchid) != "" {
		return obj{"errormsg": "Invalid merchant"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*funding
	day := s.now().Format(dateYMD)
	if date := q.Get("date"); date != "" {
		var ok bool
		if day, ok = s.parseDay(date); !ok {
			return obj{"errormsg": "Invalid date: use MMDD or YYYYMMDD"}
		}
		for _, fd := range s.fundings {
			if fd.date.Format(dateYMD) == day {
				list = append(list, fd)
			}
		}
	} else {
		list = s.fundings[s.fundedOut:]
		s.fundedOut = len(s.fundings)
	}
	dashed := day[:4] + "-" + day[4:6] + "-" + day[6:]
	fundings, txns := []obj{}, []obj{}
	var master any // null when nothing was funded
	for _, fd := range list {
		if master == nil {
			master = fd.id
		}
		var net int64
		date := fd.date.Format("2006-01-02")
		for _, t := range fd.txns {
			net += t.amount
			kind := "SALE"
			if t.refund {
				kind = "REFUND"
			}
			txns = append(txns, obj{
				"fundingtxnid": t.id, "fundingid": fd.id, "retref": t.retref, "amount": t.amount,
				"currency": t.currencyCode, "date": date, "type": kind, "status": "Processed",
				"cardtype": "Credit", "cardbrand": t.brand, "cardnumber": t.masked,
				"interchangeunitfee": 0, "interchangepercentfee": 0,
			})
		}
		fundings = append(fundings, obj{
			"fundingmasterid": master, "fundingid": fd.id, "totalfunding": net, "netsales": net,
			"currency": s.opts.Currency, "dateadded": date, "datechanged": date,
			"fee": 0, "interchangefee": 0, "servicecharge": 0, "adjustment": 0,
			"otheradjustment": 0, "reversal": 0, "thirdparty": 0,
		})
	}
	return obj{
		"merchid": merchid, "fundingdate": dashed, "fundingmasterid": master, "datechanged": nil,
		"fundings": fundings, "txns": txns,
	}
}
