package cardpointe_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// fixedNow pins the sandbox clock, so dates in answers are known.
func fixedNow() time.Time { return time.Date(2026, 12, 7, 15, 4, 5, 0, time.UTC) }

func TestSettlestat(t *testing.T) {
	g := newGW(t, cardpointe.Options{Now: fixedNow})
	null := func(query string) {
		t.Helper()
		r := g.get("settlestat?merchid=" + mid + query)
		assert.Equal(t, "Null batches", string(r.body), query)
		assert.Contains(t, r.header.Get("Content-Type"), "text/plain", "plain text, not JSON, as recorded")
	}
	null("")
	null("&date=1207")

	s1 := g.auth(visa, "12.34", map[string]any{"capture": "Y", "orderid": "S-1"})
	s2 := g.auth("5454545454545454", "1.00", map[string]any{"capture": "Y"})
	fc := g.auth(visa, "-2.50", map[string]any{"capture": "Y"})
	batchid := s1["batchid"].(string)
	require.Equal(t, batchid, s2["batchid"])

	// The open batch by id: hoststat blank, transactions not yet settled.
	open := g.get("settlestat?merchid=" + mid + "&batchid=" + batchid).array(t)
	require.Len(t, open, 1)
	assert.Equal(t, "", open[0]["hoststat"])
	null("") // nothing settled yet

	g.settle()
	for _, query := range []string{"&date=1207", "&date=20261207", "&batchid=" + batchid} {
		list := g.get("settlestat?merchid=" + mid + query).array(t)
		require.Len(t, list, 1, query)
		b := list[0]
		assert.Equal(t, batchid, b["batchid"])
		assert.Equal(t, "GB", b["hoststat"])
		assert.Equal(t, "FNOR", b["respproc"])
		assert.Equal(t, mid, b["merchid"])
		assert.NotEmpty(t, b["hostbatch"])
		assert.Equal(t, "13.34", b["chargetotal"])
		assert.Equal(t, "2.50", b["refundtotal"])
		assert.Equal(t, float64(2), b["chargecnt"], "counts are numbers")
		assert.Equal(t, float64(1), b["refundcnt"])
		txns := b["txns"].([]any)
		require.Len(t, txns, 3)
		first := txns[0].(map[string]any)
		assert.Equal(t, s1["retref"], first["retref"])
		assert.Equal(t, "Y", first["setlstat"])
		assert.Equal(t, "12.34", first["setlamount"])
		assert.Equal(t, "S-1", first["salesdoc"])
		assert.Equal(t, "-2.50", txns[2].(map[string]any)["setlamount"])
		assert.Equal(t, fc["retref"], txns[2].(map[string]any)["retref"])
	}
	null("&date=1206")
	null("&batchid=1")

	// Without date or batchid: what was settled since the last such call.
	assert.Len(t, g.get("settlestat?merchid="+mid).array(t), 1)
	null("")

	requireCode(t, g.get("settlestat?merchid="+mid+"&date=1332").object(t), "C", "PPS", "34")
	requireCode(t, g.get("settlestat?merchid=1&date=1207").object(t), "C", "PPS", "21")
}

func TestFunding(t *testing.T) {
	g := newGW(t, cardpointe.Options{Now: fixedNow})
	none := g.get("funding?merchid=" + mid + "&date=1207").object(t)
	assert.Equal(t, []any{}, none["txns"])
	assert.Equal(t, []any{}, none["fundings"])
	assert.Nil(t, none["fundingmasterid"])

	sale := g.auth(visa, "12.34", map[string]any{"capture": "Y"})
	g.settle()
	ref := g.put("refund", map[string]any{"retref": sale["retref"], "amount": "0.34"})
	requireCode(t, ref, "A", "PPS", "00")
	g.settle()

	f := g.get("funding?merchid=" + mid + "&date=20261207").object(t)
	assert.Equal(t, "2026-12-07", f["fundingdate"])
	assert.Equal(t, mid, f["merchid"])
	txns := f["txns"].([]any)
	require.Len(t, txns, 2)
	s := txns[0].(map[string]any)
	assert.Equal(t, float64(1234), s["amount"], "funding amounts are integer minor units")
	assert.Equal(t, "SALE", s["type"])
	assert.Equal(t, "VISA", s["cardbrand"])
	assert.Equal(t, "41XXXXXXXXXX1111", s["cardnumber"])
	assert.Equal(t, sale["retref"], s["retref"])
	r := txns[1].(map[string]any)
	assert.Equal(t, float64(-34), r["amount"])
	assert.Equal(t, "REFUND", r["type"])
	fundings := f["fundings"].([]any)
	require.Len(t, fundings, 2)
	assert.Equal(t, float64(1234), fundings[0].(map[string]any)["netsales"])
	assert.NotContains(t, f, "adjustments", "empty arrays are left out")
	assert.NotContains(t, f, "chargebacks")

	// MMDD means this year.
	assert.Len(t, g.get("funding?merchid=" + mid + "&date=1207").object(t)["txns"], 2)
	// Without date: what no undated call returned yet.
	assert.Len(t, g.get("funding?merchid=" + mid).object(t)["txns"], 2)
	assert.Len(t, g.get("funding?merchid=" + mid).object(t)["txns"], 0)

	assert.NotEmpty(t, g.get("funding?merchid=" + mid + "&date=12-07").object(t)["errormsg"])
	assert.NotEmpty(t, g.get("funding?merchid=1").object(t)["errormsg"])
}

func TestBin(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for pan, product := range map[string]string{visa: "V", "5454545454545454": "M", "371449635398431": "A", "6011000995500000": "D"} {
		tok := g.auth(pan, "1.00", nil)["token"].(string)
		b := g.get("bin/" + mid + "/" + tok).object(t)
		assert.Equal(t, true, b["success"])
		assert.Equal(t, product, b["product"], pan)
		assert.Equal(t, pan[:6], b["bin"])
		assert.Equal(t, false, b["prepaid"])
	}
	b := g.get("bin/" + mid + "/9400000000000000").object(t)
	assert.Equal(t, false, b["success"])
	assert.NotEmpty(t, b["errormsg"])
	assert.Equal(t, false, g.get("bin/123/" + visaToken).object(t)["success"])
}
