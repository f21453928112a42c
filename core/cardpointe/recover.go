package cardpointe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
)

// recovery is the transport of an auth: it sends the auth and, when the
// answer is lost, settles what happened the way the spec's "Handling
// Timed-out Transactions" prescribes (§3, §2.4, §2.6), so that one logical
// auth never ends with two approvals:
//
//   - inquireByOrderid finds the auth: its record is the call's answer
//     (approved, declined or declined for now), never a second auth. A
//     host's orderid may carry earlier declined attempts: merchants reuse
//     an orderid to retry a decline (spec §8, the reason voidByOrderId skips
//     declines since 5/2023). One approval among them is this auth; a
//     decline proves nothing until the window has passed (below), since
//     this auth may still be running beside it. Under an orderid the library
//     made, nothing else can be on record: a decline is the answer at once;
//   - it answers PPS 29 "Txn not found": that proves the auth never arrived
//     only once the Gateway can no longer be working on it. It answers by
//     32 s (spec §3), so an auth that reached it is on record by then:
//     GatewayWindow after the auth was written. Before that the recovery
//     waits for the window and asks again; if the call's deadline or the
//     recovery budget ends first, it sends nothing and the outcome stays
//     unknown. Proven absent, the attempt is reported as never sent and
//     call.Decide lets the pipeline send it once more;
//   - the inquiry itself gets no usable answer: voidByOrderId (up to three
//     times); approved, nothing stands (outcome "voided"), otherwise the
//     outcome stays "unknown" and the error names the orderid.
//
// The answer of a resend is checked with one more inquiry. Should the first
// auth have been approved after all (a Gateway later than its own window),
// it is the answer: an approved resend is voided by its retref -
// voidByOrderId would void both - and the result names the voided
// duplicate; a declined resend declined nothing that stands.
//
// It reports facts (Written, the Answer class) and leaves every decision to
// call.Decide: nothing here sets retryable or outcome.
type recovery struct {
	c       *Client
	auth    *exchange
	orderid string
	sends   int         // attempts sent so far
	failed  *errs.Error // the last failed attempt's error
	// recovered: the answer is a record an inquiry found, not the answer
	// of the auth request itself.
	recovered bool
	voided    string // the retref of the duplicate approval this call voided
}

// Invalidate implements call.Transport.
func (r *recovery) Invalidate(string) {}

// Send implements call.Transport.
func (r *recovery) Send(ctx context.Context, p *call.Plan) call.Outcome {
	r.sends++
	o := r.auth.Send(ctx, p)
	if o.Err != nil {
		r.failed = o.Err
	}
	switch {
	case ctx.Err() != nil:
		// The host canceled (or its deadline passed): the call stops here,
		// its outcome unknown, the orderid in its error.
		return o
	case lost(o):
		return r.recover(ctx, o, r.auth.wrote)
	case r.sends > 1 && (o.Answer == call.Success || o.Answer == call.Refused || o.Answer == call.DeclinedForNow):
		return r.confirm(ctx, o)
	}
	return o // answered, or provably never sent
}

// lost reports an attempt that may have reached the Gateway whose answer
// tells nothing: no answer, a 5xx, an unreadable one (spec §3: "an HTTP 408
// or no answer means the outcome is unknown").
func lost(o call.Outcome) bool {
	switch o.Answer {
	case call.NoAnswer, call.ServerFailed, call.Unreadable:
		return o.Written
	}
	return false
}

// recover settles an auth whose answer was lost; wrote is when the auth
// was written.
func (r *recovery) recover(ctx context.Context, lostO call.Outcome, wrote time.Time) call.Outcome {
	ctx, cancel := context.WithTimeout(ctx, r.c.cfg.Recovery)
	defer cancel()
	log := r.c.log
	if wrote.IsZero() {
		wrote = time.Now() // not known: the latest it can have been
	}
	proven := wrote.Add(r.c.cfg.GatewayWindow) // from then on, "not found" means never arrived
	log.Infof("auth orderid=%s: the answer was lost (%s); looking it up with inquireByOrderid", r.orderid, lostO.Err.Message)
	for {
		recs, ierr := r.inquire(ctx)
		if ierr != nil {
			return r.voidLost(ctx, lostO, ierr)
		}
		var approved []txnHead
		for _, h := range recs {
			if h.RespStat == "A" {
				approved = append(approved, h)
			}
		}
		// One clock reading decides: past the window, a decline under the
		// host's orderid counts and an empty inquiry proves absence.
		wait := time.Until(proven)
		past := wait <= 0
		switch {
		case len(approved) == 1:
			if len(recs) > 1 {
				log.Infof("auth orderid=%s: %d declined earlier attempts carry it too", r.orderid, len(recs)-1)
			}
			return r.found(approved[0])
		case len(approved) > 1:
			log.Warnf("auth orderid=%s: %d approvals carry it (retrefs %s); not voiding them blindly", r.orderid, len(approved), retrefs(approved))
			return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
				"; %d approved transactions carry orderid %s (retrefs %s): look them up (inquireByOrderid) before charging again",
				len(approved), r.orderid, retrefs(approved))}
		case len(recs) == 1 && (r.auth.ownID || past):
			// Declined: this auth's answer, or (a host's orderid, past
			// the window) an earlier attempt's while this one never
			// arrived. Either way nothing was charged.
			return r.found(recs[0])
		case len(recs) > 1 && past:
			log.Warnf("auth orderid=%s: %d declined transactions carry it, none approved", r.orderid, len(recs))
			return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
				"; %d declined transactions and no approval carry orderid %s (retrefs %s): look them up before charging again",
				len(recs), r.orderid, retrefs(recs))}
		}
		// Nothing found, or only declines under the host's orderid inside
		// the window: this auth may still be running.
		seen := "found no auth with orderid " + r.orderid + " yet"
		if len(recs) > 0 {
			seen = fmt.Sprintf("found only declines under orderid %s (retrefs %s), perhaps of earlier attempts", r.orderid, retrefs(recs))
		}
		if past { // and nothing found
			log.Infof("auth orderid=%s: not found (PPS 29) %s after it was written, past the Gateway's answer window: it never arrived",
				r.orderid, time.Since(wrote).Round(time.Millisecond))
			return call.Outcome{Answer: call.NoAnswer, Written: false, Err: annotate(lostO.Err,
				"; inquireByOrderid found no auth with orderid %s after the Gateway's answer window: it never reached the Gateway", r.orderid)}
		}
		if dl, _ := ctx.Deadline(); !proven.Before(dl) {
			log.Warnf("auth orderid=%s: %s, but the Gateway may still be working on this auth for %s; the call cannot wait that long: not sending it again",
				r.orderid, seen, wait.Round(time.Millisecond))
			return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
				"; inquireByOrderid %s, but the Gateway may still be working on it for %s "+
					"(its answer window, cardpointe.timeouts.gateway_ms), longer than the call's deadline or "+
					"cardpointe.timeouts.recovery_ms allow, so it was not sent again", seen, wait.Round(time.Millisecond))}
		}
		log.Infof("auth orderid=%s: %s, but the Gateway may still be working on this auth: asking again in %s, after its answer window",
			r.orderid, seen, wait.Round(time.Millisecond))
		if retry.Sleep(ctx, wait) != nil {
			return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
				"; the call ended while waiting for the Gateway's answer window to look orderid %s up again", r.orderid)}
		}
	}
}

// found makes a record the inquiry found the call's answer.
func (r *recovery) found(rec txnHead) call.Outcome {
	r.recovered = true
	o := r.auth.decode(http.StatusOK, rec.raw)
	r.c.log.Infof("auth orderid=%s: found it (%s): that is the answer", r.orderid, o.Answer)
	if o.Err != nil {
		o.Err.Message += "; the answer was lost and recovered with inquireByOrderid"
	}
	return o
}

// voidLost voids an auth whose answer was lost and whose inquiry failed
// too (ierr), by its orderid.
func (r *recovery) voidLost(ctx context.Context, lostO call.Outcome, ierr *errs.Error) call.Outcome {
	log := r.c.log
	if ctx.Err() != nil && errs.KindOf(ierr) == errs.Canceled {
		return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
			"; the call was canceled while looking the auth up (orderid %s)", r.orderid)}
	}
	log.Warnf("auth orderid=%s: the inquiry failed too (%s); voiding it by orderid", r.orderid, ierr.Message)
	o, verr := r.sub(ctx, "voidByOrderId", map[string]any{"orderid": r.orderid}, voidAttempts)
	if verr == nil {
		ans := gatewayText(o.Result)
		log.Infof("auth orderid=%s: voided (%s)", r.orderid, ans)
		return call.Outcome{Answer: call.Reversed, Written: true, Err: annotate(lostO.Err,
			"; inquireByOrderid failed too (%s), so the library voided orderid %s: voidByOrderId answered %s; nothing stands",
			ierr.Message, r.orderid, ans)}
	}
	why := verr.Message
	if verr.RespCode == "29" {
		why = "it found nothing to void: the auth most likely never arrived, but no lookup confirmed it"
	}
	log.Errorf("auth orderid=%s: voiding failed (%s); the outcome is unknown", r.orderid, why)
	return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
		"; inquireByOrderid failed too (%s) and voidByOrderId failed (%s): look orderid %s up before charging again",
		ierr.Message, why, r.orderid)}
}

// confirm checks the answer of a resend (o: approved or declined) with one
// more inquiry: the first auth must not stand beside it unseen.
func (r *recovery) confirm(ctx context.Context, o call.Outcome) call.Outcome {
	ctx, cancel := context.WithTimeout(ctx, r.c.cfg.Recovery)
	defer cancel()
	log := r.c.log
	recs, ierr := r.inquire(ctx)
	if ierr != nil {
		log.Warnf("auth orderid=%s: the inquiry checking the repeat's answer failed (%s)", r.orderid, ierr.Message)
		return o
	}
	approved := o.Answer == call.Success
	repeat := ""
	if approved {
		repeat = headOf(o.Result).Retref
	} else if o.Err != nil {
		repeat = o.Err.Retref
	}
	var others []txnHead
	for _, h := range recs {
		if h.RespStat == "A" && h.Retref != repeat {
			others = append(others, h)
		}
	}
	if len(others) == 0 {
		return o
	}
	failed := r.failed
	if failed == nil {
		failed = errs.New(errs.Network, "cardpointe.auth", "the first attempt got no answer")
	}
	if len(others) > 1 || (approved && repeat == "") {
		log.Errorf("auth orderid=%s: %d other approvals carry it besides the repeat %s; not voiding blindly", r.orderid, len(others), orDash(repeat))
		return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(failed,
			"; the repeat (retref %s) was answered, and %d other approvals carry orderid %s (retrefs %s): look them up before charging again",
			orDash(repeat), len(others), r.orderid, retrefs(others))}
	}
	first := others[0]
	if !approved {
		log.Warnf("auth orderid=%s: the repeat was declined, but the first auth was approved after all (retref %s): that is the answer",
			r.orderid, first.Retref)
		r.recovered = true
		return r.auth.decode(http.StatusOK, first.raw)
	}
	log.Warnf("auth orderid=%s: the first auth was approved after all (retref %s), later than the Gateway's answer window: voiding the repeat %s",
		r.orderid, first.Retref, repeat)
	if _, verr := r.sub(ctx, "void", map[string]any{"retref": repeat}, voidAttempts); verr != nil {
		log.Errorf("auth orderid=%s: voiding the repeat %s failed (%s): two approvals stand", r.orderid, repeat, verr.Message)
		return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(failed,
			"; two approvals carry orderid %s: retref %s (the first auth, which the Gateway had reported not found) and %s "+
				"(the repeat); voiding the repeat failed (%s): void one of them before anything else",
			r.orderid, first.Retref, repeat, verr.Message)}
	}
	r.recovered, r.voided = true, repeat
	return r.auth.decode(http.StatusOK, first.raw)
}

// annotate returns a copy of e with more text (e may be shared by the
// pipeline's bookkeeping).
func annotate(e *errs.Error, format string, args ...any) *errs.Error {
	c := *e
	c.Message += fmt.Sprintf(format, args...)
	return &c
}

// sub runs a follow-up request of the recovery (inquiry or void) through the
// same pipeline, each attempt bounded like the auth's; attempts > 0 replaces
// the policy's.
func (r *recovery) sub(ctx context.Context, op string, fields map[string]any, attempts int) (call.Outcome, *errs.Error) {
	req := &Request{System: System, Op: op, spec: ops[op], merchid: r.auth.req.merchid, fields: fields}
	x, err := r.c.exchange(req)
	if err != nil {
		return call.Outcome{}, errs.As(err)
	}
	x.attempt = r.auth.attempt
	p := &call.Plan{Name: req.Name(), Safety: x.safety(), Policy: r.c.cfg.Policy}
	if attempts > 0 {
		p.Policy.MaxAttempts = attempts
	}
	return r.c.cfg.Pipeline.Run(ctx, p, x)
}

// txnHead is what the recovery reads of a transaction record.
type txnHead struct {
	Setlstat string `json:"setlstat"`
	RespStat string `json:"respstat"`
	Retref   string `json:"retref"`
	raw      []byte
}

func headOf(rec []byte) txnHead {
	var h txnHead
	_ = json.Unmarshal(rec, &h)
	h.raw = rec
	return h
}

func retrefs(recs []txnHead) string {
	var s []string
	for _, r := range recs {
		s = append(s, orDash(r.Retref))
	}
	return strings.Join(s, ", ")
}

// inquire looks the auth up by its orderid. It returns the records that
// still stand (a voided one is an earlier attempt under the same orderid,
// not this auth); none for PPS 29 "Txn not found".
func (r *recovery) inquire(ctx context.Context) ([]txnHead, *errs.Error) {
	o, e := r.sub(ctx, "inquireByOrderid", map[string]any{"orderid": r.orderid}, 0)
	if e != nil {
		if e.RespProc == "PPS" && e.RespCode == "29" {
			return nil, nil
		}
		return nil, e
	}
	var all []json.RawMessage
	body := bytes.TrimSpace(o.Result)
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &all); err != nil {
			return nil, errs.New(errs.Network, "cardpointe.inquireByOrderid", "unreadable answer: the list is not JSON")
		}
	} else {
		all = []json.RawMessage{body}
	}
	var live []txnHead
	for _, rec := range all {
		if h := headOf(rec); h.Setlstat != "Voided" {
			live = append(live, h)
		}
	}
	return live, nil
}

// gatewayText is "<respstat> <respcode> <resptext>" of an answer, for
// messages.
func gatewayText(answer []byte) string {
	var m map[string]any
	_ = json.Unmarshal(answer, &m)
	g := gatewayOf(m)
	return fmt.Sprintf("%s %s %s", g.RespStat, orDash(g.RespCode), orDash(g.RespText))
}
