package cardpointe_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

func TestAuthCaptureSettleRefund(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	auth := g.auth(visa, "20.00", map[string]any{"orderid": "LIFE-1", "name": "JANE DOE"})
	retref := auth["retref"].(string)

	inq := g.inquire(retref)
	assert.Equal(t, "Authorized", inq["setlstat"])
	assert.Equal(t, "Y", inq["voidable"])
	assert.Equal(t, "N", inq["refundable"])
	assert.Equal(t, "LIFE-1", inq["orderId"], "camelCase orderId in inquire answers")
	assert.Equal(t, "1111", inq["lastfour"])
	assert.Equal(t, "JANE DOE", inq["name"])
	assert.Equal(t, visaToken, inq["account"])
	assert.Equal(t, "USD", inq["currency"])
	assert.Regexp(t, `^\d{8}$`, inq["authdate"])
	assert.NotContains(t, inq, "batchid")

	// A refund before settlement: PPS 28.
	ref := g.put("refund", map[string]any{"retref": retref})
	requireCode(t, ref, "C", "PPS", "28")
	assert.Equal(t, "Txn not settled", ref["resptext"])

	// Partial capture.
	capt := g.put("capture", map[string]any{"retref": retref, "amount": "15.00"})
	requireCode(t, capt, "A", "FNOR", "00")
	assert.Equal(t, "Queued for Capture", capt["setlstat"])
	assert.Equal(t, "15.00", capt["amount"])
	batchid := capt["batchid"].(string)
	inq = g.inquire(retref)
	assert.Equal(t, "Queued for Capture", inq["setlstat"])
	assert.Equal(t, "15.00", inq["amount"])
	assert.Equal(t, batchid, inq["batchid"])
	assert.Regexp(t, `^\d{14}$`, inq["capturedate"])
	assert.Equal(t, "Y", inq["voidable"])

	// Still a refund is refused while queued.
	requireCode(t, g.put("refund", map[string]any{"retref": retref}), "C", "PPS", "28")

	st := g.settle()
	assert.Equal(t, float64(1), st["settled"])
	assert.Equal(t, []any{batchid}, st["batches"])
	inq = g.inquire(retref)
	assert.Equal(t, "Accepted", inq["setlstat"])
	assert.Equal(t, "N", inq["voidable"])
	assert.Equal(t, "Y", inq["refundable"])
	assert.Regexp(t, `^\d{8}$`, inq["settledate"])

	// Void after settlement: refused (27 Txn Batched); capture too.
	v := g.put("void", map[string]any{"retref": retref})
	requireCode(t, v, "C", "PPS", "27")
	requireCode(t, g.put("capture", map[string]any{"retref": retref}), "C", "PPS", "27")
	requireCode(t, g.put("voidByOrderId", map[string]any{"orderid": "LIFE-1"}), "C", "PPS", "27")

	// Partial refund, then the rest, then nothing is left.
	ref = g.put("refund", map[string]any{"retref": retref, "amount": "5.00"})
	requireCode(t, ref, "A", "PPS", "00")
	assert.Equal(t, "REFUND", ref["authcode"])
	assert.Equal(t, "5.00", ref["amount"])
	refRetref := ref["retref"].(string)
	assert.NotEqual(t, retref, refRetref, "a refund is a new transaction")
	requireCode(t, g.put("refund", map[string]any{"retref": retref, "amount": "10.01"}), "C", "PPS", "43")
	ref2 := g.put("refund", map[string]any{"retref": retref})
	requireCode(t, ref2, "A", "PPS", "00")
	assert.Equal(t, "10.00", ref2["amount"], "without amount: what is left")
	assert.Equal(t, "N", g.inquire(retref)["refundable"])
	requireCode(t, g.put("refund", map[string]any{"retref": retref}), "C", "PPS", "43")

	// The refund record: negative, queued, voidable before its settlement.
	rinq := g.inquire(refRetref)
	assert.Equal(t, "-5.00", rinq["amount"])
	assert.Equal(t, "Queued for Capture", rinq["setlstat"])
	assert.Equal(t, "LIFE-1", rinq["orderId"], "a refund keeps the sale's orderid")
	requireCode(t, g.put("refund", map[string]any{"retref": refRetref}), "C", "PPS", "29")
	v = g.put("void", map[string]any{"retref": ref2["retref"]})
	requireCode(t, v, "A", "FNOR", "00")
	assert.Equal(t, "Y", g.inquire(retref)["refundable"], "the voided refund's amount is refundable again")

	// Both refunds' batch settles; the first refund is Accepted.
	g.settle()
	assert.Equal(t, "Accepted", g.inquire(refRetref)["setlstat"])
}

func TestVoidBeforeSettlement(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	// Void of an authorization.
	a := g.auth(visa, "10.00", map[string]any{"orderid": "V-1"})
	v := g.put("void", map[string]any{"retref": a["retref"]})
	requireCode(t, v, "A", "FNOR", "00")
	assert.Equal(t, "REVERS", v["authcode"])
	assert.Equal(t, "0.00", v["amount"], "recorded: a full void answers 0.00")
	assert.Equal(t, "V-1", v["orderId"])
	assert.Equal(t, "USD", v["currency"])
	inq := g.inquire(a["retref"].(string))
	assert.Equal(t, "Voided", inq["setlstat"])
	assert.Equal(t, "N", inq["voidable"])
	// A repeat answers the void again (safe for a retried void).
	requireCode(t, g.put("void", map[string]any{"retref": a["retref"]}), "A", "FNOR", "00")
	// A voided auth cannot be captured.
	requireCode(t, g.put("capture", map[string]any{"retref": a["retref"]}), "C", "PPS", "29")

	// Void of a queued sale takes it out of its batch.
	s := g.auth(visa, "3.00", map[string]any{"capture": "Y"})
	requireCode(t, g.put("void", map[string]any{"retref": s["retref"], "amount": "0"}), "A", "FNOR", "00")
	assert.NotContains(t, g.inquire(s["retref"].(string)), "batchid")
	st := g.settle()
	assert.Equal(t, float64(0), st["settled"])
	b := g.get("settlestat?merchid=" + mid + "&batchid=" + s["batchid"].(string)).array(t)[0]
	assert.Equal(t, "EB", b["hoststat"], "a batch whose captures were all voided settles empty")

	// Partial void reduces an authorization; not a capture.
	p := g.auth(visa, "10.00", nil)
	pv := g.put("void", map[string]any{"retref": p["retref"], "amount": "3.00"})
	requireCode(t, pv, "A", "FNOR", "00")
	assert.Equal(t, "7.00", pv["amount"])
	assert.Equal(t, "Authorized", g.inquire(p["retref"].(string))["setlstat"])
	requireCode(t, g.put("capture", map[string]any{"retref": p["retref"], "amount": "8.00"}), "C", "PPS", "43")
	requireCode(t, g.put("void", map[string]any{"retref": p["retref"], "amount": "7.01"}), "C", "PPS", "43")
	g.put("capture", map[string]any{"retref": p["retref"]})
	requireCode(t, g.put("void", map[string]any{"retref": p["retref"], "amount": "1.00"}), "C", "PPS", "43")
	requireCode(t, g.put("void", map[string]any{"retref": p["retref"], "amount": "7.00"}), "A", "FNOR", "00")
}

func TestVoidByOrderIdAndInquireByOrderid(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	// A declined auth and a retried approval share the orderid.
	d := g.auth("4387751111111038", "4.00", map[string]any{"orderid": "ORD-9"})
	requireCode(t, d, "C", "FNOR", "05")
	ok := g.auth(visa, "4.00", map[string]any{"orderid": "ORD-9"})

	list := g.get("inquireByOrderid/ORD-9/" + mid).array(t)
	require.Len(t, list, 2, "several matches come as an array")
	assert.Equal(t, d["retref"], list[0]["retref"])
	assert.Equal(t, ok["retref"], list[1]["retref"])
	// The optional set segment.
	assert.Len(t, g.get("inquireByOrderid/ORD-9/"+mid+"/1").array(t), 2)

	// voidByOrderId skips the declined one (since 5/2023).
	v := g.put("voidByOrderId", map[string]any{"orderid": "ORD-9"})
	requireCode(t, v, "A", "FNOR", "00")
	assert.Equal(t, ok["retref"], v["retref"])
	assert.Equal(t, "ORD-9", v["orderId"])
	assert.Equal(t, "Voided", g.inquire(ok["retref"].(string))["setlstat"])
	// Called three times as the docs advise, it keeps answering "voided".
	for range 2 {
		v = g.put("voidByOrderId", map[string]any{"orderid": "ORD-9"})
		requireCode(t, v, "A", "FNOR", "00")
		assert.Equal(t, ok["retref"], v["retref"])
	}

	// One match is an object.
	one := g.auth(visa, "1.00", map[string]any{"orderid": "ORD-10"})
	obj := g.get("inquireByOrderid/ORD-10/" + mid).object(t)
	assert.Equal(t, one["retref"], obj["retref"])
	assert.Equal(t, "ORD-10", obj["orderId"])

	// Nothing: PPS 29, for both.
	requireCode(t, g.get("inquireByOrderid/NONE/"+mid).object(t), "C", "PPS", "29")
	requireCode(t, g.put("voidByOrderId", map[string]any{"orderid": "NONE"}), "C", "PPS", "29")
	requireCode(t, g.put("voidByOrderId", map[string]any{"orderid": "ORD-9", "merchid": "1"}), "C", "PPS", "21")
}

func TestRefundDeclinesByAmount(t *testing.T) {
	for _, c := range []struct {
		proc, amount, code, text string
	}{
		{"RPCT", "1500.00", "500", "Decline"},
		{"RPCT", "1116.00", "116", "Not sufficient funds"},
		{"FNOR", "1005.00", "05", "Do not honor"},
		{"FNOR", "1000.00", "00", "Approval"},
	} {
		g := newGW(t, cardpointe.Options{Processor: c.proc})
		sale := g.auth(visa, "2000.00", map[string]any{"capture": "y"})
		requireCode(t, sale, "A", c.proc, map[string]string{"FNOR": "00", "RPCT": "000"}[c.proc])
		g.settle()
		ref := g.put("refund", map[string]any{"retref": sale["retref"], "amount": c.amount})
		assert.Equal(t, c.proc, ref["respproc"], c.amount)
		assert.Equal(t, c.code, ref["respcode"], c.amount)
		assert.Equal(t, c.text, ref["resptext"], c.amount)
		left := "2000.00"
		if ref["respstat"] == "A" {
			left = "1000.00"
		} else {
			assert.Equal(t, "C", ref["respstat"])
			assert.Equal(t, "Declined", g.inquire(ref["retref"].(string))["setlstat"])
		}
		// A declined refund leaves the whole sale refundable.
		full := g.put("refund", map[string]any{"retref": sale["retref"]})
		assert.Equal(t, "A", full["respstat"], "2000.00 and 1000.00 (code 00/000) approve")
		assert.Equal(t, left, full["amount"], "%s %s", c.proc, c.amount)
	}
}

func TestLifecycleRefusals(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, c := range []struct {
		endpoint string
		body     map[string]any
		code     string
	}{
		{"capture", map[string]any{"retref": "000000000000"}, "29"},
		{"capture", map[string]any{}, "34"},
		{"capture", map[string]any{"retref": "1", "amount": "-1.00"}, "43"},
		{"capture", map[string]any{"retref": "1", "merchid": "9"}, "21"},
		{"void", map[string]any{"retref": "000000000000"}, "29"},
		{"void", map[string]any{}, "34"},
		{"voidByOrderId", map[string]any{}, "34"},
		{"refund", map[string]any{}, "45"},
		{"refund", map[string]any{"retref": "000000000000"}, "29"},
		{"refund", map[string]any{"retref": "1", "amount": "0"}, "43"},
		{"sigcap", map[string]any{"retref": "000000000000", "signature": "x"}, "29"},
		{"sigcap", map[string]any{"signature": "x"}, "34"},
	} {
		resp := g.put(c.endpoint, c.body)
		requireCode(t, resp, "C", "PPS", c.code)
		if c.code == "29" {
			assert.Equal(t, "Txn not found", resp["resptext"])
			assert.Equal(t, "000000000000", resp["retref"], "recorded: the retref is echoed")
		}
	}
	// inquire of an unknown retref, exactly as recorded.
	r := g.get("inquire/CCSDK/" + mid).object(t)
	assert.Equal(t, map[string]any{"resptext": "Txn not found", "respcode": "29", "retref": "CCSDK", "respstat": "C", "respproc": "PPS"}, r)
	requireCode(t, g.get("inquire/CCSDK/123456789012").object(t), "C", "PPS", "21")
	// Capture of a declined auth.
	d := g.auth("4387751111111046", "1.00", nil)
	requireCode(t, g.put("capture", map[string]any{"retref": d["retref"]}), "C", "PPS", "29")
	requireCode(t, g.put("void", map[string]any{"retref": d["retref"]}), "C", "PPS", "29")
}

func TestSigcap(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	a := g.auth(visa, "1.00", nil)
	resp := g.put("sigcap", map[string]any{"retref": a["retref"], "signature": "H4sIAAAAAAAA"})
	assert.Equal(t, map[string]any{"resptext": "signature stored", "respcode": "02", "retref": a["retref"], "merchid": mid}, resp)
	assert.Equal(t, "H4sIAAAAAAAA", g.inquire(a["retref"].(string))["signature"])
	// Without a signature the stored one is erased.
	g.put("sigcap", map[string]any{"retref": a["retref"]})
	assert.NotContains(t, g.inquire(a["retref"].(string)), "signature")
}

func TestRepeatedCaptureAnswersAgain(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	a := g.auth(visa, "9.00", nil)
	c1 := g.put("capture", map[string]any{"retref": a["retref"]})
	c2 := g.put("capture", map[string]any{"retref": a["retref"]})
	requireCode(t, c2, "A", "FNOR", "00")
	assert.Equal(t, c1["batchid"], c2["batchid"])
	assert.Equal(t, "9.00", c2["amount"])
	// Lowering the amount while queued is a re-capture; raising above the auth is not.
	assert.Equal(t, "8.00", g.put("capture", map[string]any{"retref": a["retref"], "amount": "800"})["amount"])
	requireCode(t, g.put("capture", map[string]any{"retref": a["retref"], "amount": "9.01"}), "C", "PPS", "43")
	b := g.get("settlestat?merchid=" + mid + "&batchid=" + c1["batchid"].(string)).array(t)[0]
	assert.Len(t, b["txns"], 1, "captured twice, queued once")
}

func TestAdminSettleOverHTTP(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	empty := g.settle()
	assert.Equal(t, float64(0), empty["settled"])
	assert.Equal(t, []any{}, empty["batches"])
	g.auth(visa, "1.00", map[string]any{"capture": "Y"})
	g.auth(visa, "2.00", map[string]any{"capture": "Y"})
	r := g.do(http.MethodPost, "/sandbox/cardpointe/settle", "")
	require.Equal(t, http.StatusOK, r.status, "an empty body is fine")
	assert.Equal(t, float64(2), r.object(t)["settled"])
	assert.Equal(t, http.StatusMethodNotAllowed, g.do(http.MethodGet, "/sandbox/cardpointe/settle", nil).status)
	assert.Equal(t, http.StatusNotFound, g.do(http.MethodPost, "/sandbox/cardpointe/other", "{}").status)
	// The Go method mirrors it.
	g.auth(visa, "3.00", map[string]any{"capture": "Y"})
	res := g.sb.Settle()
	assert.Equal(t, 1, res.Settled)
	assert.Len(t, res.Batches, 1)
}
