package cardpointe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
)

// recovery is the transport of an auth: it sends the auth and, when the
// answer is lost, settles what happened the way the spec's "Handling
// Timed-out Transactions" prescribes (§3, §2.4, §2.6):
//
//   - inquireByOrderid finds the auth: its record is the call's answer
//     (approved, declined or declined for now), never a second auth;
//   - it answers PPS 29 "Txn not found": the auth never reached the
//     Gateway; the attempt is reported as never sent, so call.Decide lets
//     the pipeline send it once more;
//   - the inquiry itself gets no usable answer: voidByOrderId (up to three
//     times); approved, nothing stands (outcome "voided"), otherwise the
//     outcome stays "unknown" and the error names the orderid.
//
// It reports facts (Written, the Answer class) and leaves every decision to
// call.Decide: nothing here sets retryable or outcome.
type recovery struct {
	c         *Client
	auth      *exchange
	orderid   string
	recovered bool // the answer came from the inquiry
}

// Invalidate implements call.Transport.
func (r *recovery) Invalidate(string) {}

// Send implements call.Transport.
func (r *recovery) Send(ctx context.Context, p *call.Plan) call.Outcome {
	o := r.auth.Send(ctx, p)
	if !lost(o) || ctx.Err() != nil {
		// Answered, provably never sent, or the host canceled: a canceled
		// call stops here, its outcome unknown, the orderid in its error.
		return o
	}
	return r.recover(ctx, o)
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

func (r *recovery) recover(ctx context.Context, lostO call.Outcome) call.Outcome {
	ctx, cancel := context.WithTimeout(ctx, r.c.cfg.Recovery)
	defer cancel()
	log := r.c.log
	log.Infof("auth orderid=%s: the answer was lost (%s); looking it up with inquireByOrderid", r.orderid, lostO.Err.Message)
	recs, ierr := r.inquire(ctx)
	if ierr == nil {
		switch len(recs) {
		case 0:
			log.Infof("auth orderid=%s: not found (PPS 29): it never reached the Gateway", r.orderid)
			return call.Outcome{Answer: call.NoAnswer, Written: false, Err: annotate(lostO.Err,
				"; inquireByOrderid found no auth with orderid %s: it never reached the Gateway", r.orderid)}
		case 1:
			r.recovered = true
			o := r.auth.decode(http.StatusOK, recs[0])
			log.Infof("auth orderid=%s: found it (%s): that is the answer", r.orderid, o.Answer)
			if o.Err != nil {
				o.Err.Message += "; the answer was lost and recovered with inquireByOrderid"
			}
			return o
		}
		log.Warnf("auth orderid=%s: %d live transactions carry it; not voiding them blindly", r.orderid, len(recs))
		return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
			"; %d live transactions carry orderid %s: look them up (inquireByOrderid) before charging again", len(recs), r.orderid)}
	}
	if ctx.Err() != nil && errs.KindOf(ierr) == errs.Canceled {
		return call.Outcome{Answer: call.NoAnswer, Written: true, Err: annotate(lostO.Err,
			"; the call was canceled while looking the auth up (orderid %s)", r.orderid)}
	}
	log.Warnf("auth orderid=%s: the inquiry failed too (%s); voiding it by orderid", r.orderid, ierr.Message)
	ans, verr := r.void(ctx)
	if verr == nil {
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

// annotate returns a copy of e with more text (e may be shared by the
// pipeline's bookkeeping).
func annotate(e *errs.Error, format string, args ...any) *errs.Error {
	c := *e
	c.Message += fmt.Sprintf(format, args...)
	return &c
}

// sub runs a follow-up request of the recovery (inquiry or void) through the
// same pipeline, each attempt bounded like the auth's.
func (r *recovery) sub(ctx context.Context, op string, attempts int) (call.Outcome, *errs.Error) {
	req := &Request{System: System, Op: op, spec: ops[op], merchid: r.auth.req.merchid,
		fields: map[string]any{"orderid": r.orderid}}
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

// inquire looks the auth up by its orderid. It returns the records that
// still stand (a voided one is an earlier attempt under the same orderid,
// not this auth); none for PPS 29 "Txn not found".
func (r *recovery) inquire(ctx context.Context) ([][]byte, *errs.Error) {
	o, e := r.sub(ctx, "inquireByOrderid", 0)
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
	var live [][]byte
	for _, rec := range all {
		var head struct {
			Setlstat string `json:"setlstat"`
		}
		_ = json.Unmarshal(rec, &head)
		if head.Setlstat != "Voided" {
			live = append(live, rec)
		}
	}
	return live, nil
}

// void voids the auth by orderid, up to voidAttempts times (a full void
// repeats without further effect, spec §2.4). It returns the Gateway's text.
func (r *recovery) void(ctx context.Context) (string, *errs.Error) {
	o, e := r.sub(ctx, "voidByOrderId", voidAttempts)
	if e != nil {
		return "", e
	}
	var m map[string]any
	_ = json.Unmarshal(o.Result, &m)
	g := gatewayOf(m)
	return fmt.Sprintf("%s %s %s", g.RespStat, orDash(g.RespCode), orDash(g.RespText)), nil
}
