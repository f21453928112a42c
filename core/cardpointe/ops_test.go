package cardpointe_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
)

func num(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

// Every operation of spec §2 against the sandbox, in the order a till uses
// them: tokenize, sale, inquire, void, a second sale, settle, refund,
// reports, profiles, BIN, signature, merchant.
func TestEveryOperation(t *testing.T) {
	e := start(t, setup{})

	t.Run("testCredentials", func(t *testing.T) {
		m := e.ok("testCredentials", nil)
		assert.Equal(t, true, m["valid"])
		assert.Equal(t, "CardConnect REST Servlet", m["text"])
	})

	var token string
	t.Run("tokenize", func(t *testing.T) {
		m := e.ok("tokenize", map[string]any{"account": visa, "expiry": "1230", "cvv": "123"})
		token = m["token"].(string)
		assert.Equal(t, visaToken, token, "CardSecure's token of the card (spec §5)")
		again := e.ok("tokenize", map[string]any{"account": visa})
		assert.Equal(t, token, again["token"], "stable per card")
	})

	var sale map[string]any
	t.Run("auth sale with capture", func(t *testing.T) {
		sale = e.ok("auth", map[string]any{"account": token, "expiry": "1230", "amount": 1999, "capture": true, "postal": "55555"})
		assert.Equal(t, "A", sale["respstat"])
		assert.Equal(t, "19.99", sale["amount"], "the Gateway's string is kept")
		assert.Equal(t, int64(1999), num(sale["amount_minor"]))
		assert.Equal(t, int64(1999), num(sale["requested_minor"]))
		assert.Equal(t, false, sale["partial"])
		assert.Equal(t, false, sale["recovered"])
		assert.NotEmpty(t, sale["batchid"], "captured: batchid present (spec §2.2)")
		assert.Regexp(t, `^LSC[0-9A-Z]{16}$`, sale["orderid"], "a generated orderid")
	})
	retref := sale["retref"].(string)

	t.Run("inquire", func(t *testing.T) {
		m := e.ok("inquire", map[string]any{"retref": retref})
		assert.Equal(t, "Queued for Capture", m["setlstat"])
		assert.Equal(t, "Y", m["voidable"])
		assert.Equal(t, int64(1999), num(m["amount_minor"]))
		byOrder := e.ok("inquireByOrderid", map[string]any{"orderid": sale["orderid"]})
		assert.Equal(t, retref, byOrder["retref"])
	})

	t.Run("void", func(t *testing.T) {
		m := e.ok("void", map[string]any{"retref": retref})
		assert.Equal(t, "A", m["respstat"])
		assert.Equal(t, "REVERS", m["authcode"])
		assert.Equal(t, "Voided", e.ok("inquire", map[string]any{"retref": retref})["setlstat"])
	})

	t.Run("auth, capture separately, voidByOrderId of another", func(t *testing.T) {
		a := e.ok("auth", map[string]any{"account": token, "expiry": "1230", "amount": 500, "orderid": "ORDER-1"})
		assert.Equal(t, "ORDER-1", a["orderid"])
		c := e.ok("capture", map[string]any{"retref": a["retref"], "amount": 400})
		assert.Equal(t, "Queued for Capture", c["setlstat"])
		assert.Equal(t, int64(400), num(c["amount_minor"]), "a partial capture")

		b := e.ok("auth", map[string]any{"account": token, "expiry": "1230", "amount": 700, "orderid": "ORDER-2"})
		v := e.ok("voidByOrderId", map[string]any{"orderid": "ORDER-2"})
		assert.Equal(t, "A", v["respstat"])
		assert.Equal(t, "Voided", e.ok("inquire", map[string]any{"retref": b["retref"]})["setlstat"])
	})

	var sold map[string]any
	t.Run("refund only after settlement", func(t *testing.T) {
		sold = e.ok("auth", map[string]any{"account": token, "expiry": "1230", "amount": 2500, "capture": true})
		_, err := e.call("refund", map[string]any{"retref": sold["retref"]})
		require.NotNil(t, err)
		assert.Equal(t, errs.Declined, err.Kind)
		assert.Equal(t, "28", err.RespCode, "Txn not settled (spec §2.5)")
		assert.False(t, err.Retryable)
		assert.Equal(t, errs.OutcomeRejected, err.Outcome)

		require.Positive(t, e.settle().Settled)
		r := e.ok("refund", map[string]any{"retref": sold["retref"], "amount": 1000})
		assert.Equal(t, "A", r["respstat"])
		assert.Equal(t, int64(1000), num(r["amount_minor"]))
		assert.NotEqual(t, sold["retref"], r["retref"], "a refund has its own retref")
		assert.Equal(t, "N", e.ok("inquire", map[string]any{"retref": sold["retref"]})["voidable"])
	})

	t.Run("settlestat by date and by batch", func(t *testing.T) {
		today := time.Now().UTC().Format("0102")
		batches := e.list("settlestat", map[string]any{"date": today})
		require.NotEmpty(t, batches)
		b := batches[0].(map[string]any)
		assert.Equal(t, "GB", b["hoststat"])
		assert.Contains(t, b, "chargetotal_minor")
		byBatch := e.list("settlestat", map[string]any{"batchid": b["batchid"]})
		require.Len(t, byBatch, 1)
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("20060102")
		assert.Empty(t, e.list("settlestat", map[string]any{"date": yesterday}), "a day without batches: the Gateway's text \"Null batches\" is an empty list")
	})

	t.Run("funding", func(t *testing.T) {
		m := e.ok("funding", map[string]any{"date": time.Now().UTC().Format("20060102")})
		txns := m["txns"].([]any)
		require.NotEmpty(t, txns)
		for _, x := range txns {
			amt := x.(map[string]any)["amount"]
			_, isNumber := amt.(json.Number)
			assert.True(t, isNumber, "funding amounts are integers of minor units (spec §2.7): %v", amt)
		}
	})

	var profileid, acctid string
	t.Run("profile create, get, update, delete", func(t *testing.T) {
		p := e.ok("profileCreate", map[string]any{"account": visa, "expiry": "1230", "name": "Erika Mustermann", "postal": "55555"})
		assert.Equal(t, "09", p["respcode"])
		profileid, acctid = p["profileid"].(string), p["acctid"].(string)
		l := e.list("profileGet", map[string]any{"profileid": profileid})
		require.Len(t, l, 1)
		u := e.ok("profileUpdate", map[string]any{"profile": profileid + "/" + acctid, "name": "Erika Musterfrau"})
		assert.Equal(t, "Profile Saved", u["resptext"])
		got := e.list("profileGet", map[string]any{"profileid": profileid, "acctid": acctid})
		assert.Equal(t, "Erika Musterfrau", got[0].(map[string]any)["name"])

		charge := e.ok("auth", map[string]any{"profile": profileid + "/" + acctid, "amount": 300})
		assert.Equal(t, "A", charge["respstat"], "a stored account is charged without account")

		d := e.ok("profileDelete", map[string]any{"profileid": profileid})
		assert.Equal(t, "08", d["respcode"])
		_, err := e.call("profileGet", map[string]any{"profileid": profileid})
		require.NotNil(t, err)
		assert.Equal(t, errs.API, err.Kind)
		assert.Equal(t, "96", err.RespCode, "Profile not found")
	})

	t.Run("auth with profile Y saves the card", func(t *testing.T) {
		a := e.ok("auth", map[string]any{"account": mcApproval, "expiry": "1230", "amount": 100, "profile": true})
		assert.NotEmpty(t, a["profileid"])
	})

	t.Run("account verification and forced credit", func(t *testing.T) {
		v := e.ok("auth", map[string]any{"account": token, "expiry": "1230", "amount": 0})
		assert.Equal(t, "A", v["respstat"])
		assert.Equal(t, "0.00", v["amount"])
		assert.Equal(t, false, v["partial"], "a verification is not a partial approval")
		assert.Equal(t, "Zero amount", e.ok("inquire", map[string]any{"retref": v["retref"]})["setlstat"])

		f := e.ok("auth", map[string]any{"account": token, "expiry": "1230", "amount": -1500, "capture": true})
		assert.Equal(t, "A", f["respstat"])
		assert.Equal(t, "-15.00", f["amount"])
		assert.Equal(t, int64(-1500), num(f["amount_minor"]))
		assert.Equal(t, false, f["partial"])
	})

	t.Run("bin", func(t *testing.T) {
		m := e.ok("bin", map[string]any{"token": token})
		assert.Equal(t, true, m["success"])
		_, err := e.call("bin", map[string]any{"token": "9999999999999999"})
		require.NotNil(t, err)
		assert.Equal(t, errs.API, err.Kind)
	})

	t.Run("sigcap", func(t *testing.T) {
		m := e.ok("sigcap", map[string]any{"retref": sold["retref"], "signature": "H4sIAAAAAAAA"})
		assert.Equal(t, "02", m["respcode"])
		assert.Equal(t, "H4sIAAAAAAAA", e.ok("inquire", map[string]any{"retref": sold["retref"]})["signature"])
	})

	t.Run("inquireMerchant", func(t *testing.T) {
		m := e.ok("inquireMerchant", nil)
		assert.Equal(t, e.mid, m["merchid"])
		assert.Equal(t, true, m["enabled"])
	})

	t.Run("merchid per request", func(t *testing.T) {
		_, err := e.call("inquireMerchant", map[string]any{"merchid": "123456789012"})
		require.NotNil(t, err)
		assert.Equal(t, "21", err.RespCode, "Invalid merchant: the request's merchid was sent")
	})
}

// Amounts cross the API as integers of minor units and reach the Gateway as
// decimal strings: no float on the way, in either direction.
func TestAmountsRoundTrip(t *testing.T) {
	e := start(t, setup{})
	for _, n := range []int64{1, 99, 100, 123456789} {
		a := e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": n, "capture": true})
		assert.Equal(t, n, num(a["amount_minor"]), "%d", n)
		assert.Equal(t, n, num(a["requested_minor"]))
		assert.Equal(t, false, a["partial"])
		want := map[int64]string{1: "0.01", 99: "0.99", 100: "1.00", 123456789: "1234567.89"}[n]
		assert.Equal(t, want, a["amount"])
		rec := e.records(a["orderid"].(string))
		require.Len(t, rec, 1)
		assert.Equal(t, want, rec[0]["amount"], "the Gateway holds exactly %d minor units", n)
	}
	sent := len(e.srv.Requests())
	_, err := e.call("auth", map[string]any{"account": visa, "amount": 1.5})
	require.NotNil(t, err)
	assert.Equal(t, errs.InvalidArgument, err.Kind)
	assert.Equal(t, "data.amount", err.Field)
	assert.Contains(t, err.Message, "minor units")
	_, err = e.call("auth", map[string]any{"account": visa, "amount": "1.00"})
	require.NotNil(t, err)
	assert.Equal(t, "data.amount", err.Field)
	assert.Len(t, e.srv.Requests(), sent, "a refused amount never reaches the Gateway")
}
