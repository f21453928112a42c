package cardpointe

import (
	"bytes"
	"encoding/json"

	"github.com/libsecucard/libsecucard/core/errs"
)

// amountKeys are the Gateway's decimal-string amounts (spec §2.2, §2.7):
// every answer keeps them as sent and gains "<key>_minor", the same amount
// as an integer of minor units. funding's amounts are integers already.
var amountKeys = []string{"amount", "chargetotal", "refundtotal", "setlamount"}

// enrich adds the library's fields to an answer: the minor-unit amounts and,
// for an auth (rec, its recovery), requested_minor, partial (approved below
// the requested amount, spec §3 "Partial approval"), the orderid, whether
// the answer was recovered from an inquiry after the original one was lost,
// and the retref of a duplicate approval the recovery voided.
func enrich(r *Request, x *exchange, body []byte, rec *recovery) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errs.Wrap(errs.Internal, r.Name(), err, "cannot read the answer again")
	}
	addMinor(v)
	if m, ok := v.(map[string]any); ok && r.Op == "auth" {
		m["requested_minor"] = r.amount
		approved, _ := m["amount_minor"].(int64)
		m["partial"] = m["respstat"] == "A" && r.amount > 0 && approved < r.amount
		if _, has := m["orderid"]; !has {
			m["orderid"] = x.orderid
		}
		m["recovered"] = rec != nil && rec.recovered
		if rec != nil && rec.voided != "" {
			m["voided_duplicate"] = rec.voided
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, r.Name(), err, "cannot encode the answer")
	}
	return out, nil
}

// addMinor walks objects and arrays, adding "<key>_minor" next to every
// readable decimal-string amount.
func addMinor(v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range amountKeys {
			if s, ok := x[k].(string); ok {
				if n, ok := ParseAmount(s); ok {
					x[k+"_minor"] = n
				}
			}
		}
		for _, e := range x {
			addMinor(e)
		}
	case []any:
		for _, e := range x {
			addMinor(e)
		}
	}
}
