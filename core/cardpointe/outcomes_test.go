package cardpointe_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
	sbcp "github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// The UAT emulator's behaviour (spec §4) as the host sees it: approvals,
// declines with every Gateway field, partial approvals, AVS and CVV codes.
func TestUATBehaviour(t *testing.T) {
	e := start(t, setup{})

	t.Run("approval test cards with their authcodes", func(t *testing.T) {
		for pan, code := range map[string]string{"4788250000121443": "PPS009", mcApproval: "PPS010", "371449635398431": "PPS013",
			"6011000995500000": "PPS015", "36438999960016": "PPS012", "3528000000000007": "PPS007", "4444333322221111": ""} {
			a := e.ok("auth", map[string]any{"account": pan, "expiry": "1230", "amount": 1000})
			assert.Equal(t, "A", a["respstat"], pan[len(pan)-4:])
			if code != "" {
				assert.Equal(t, code, a["authcode"])
			}
		}
	})

	t.Run("declines carry the Gateway's fields", func(t *testing.T) {
		for pan, want := range map[string][2]string{
			"4387751111111020": {"01", "Refer to issuer"}, doNotHonor: {"05", "Do not honor"},
			"5442981111111049": {"54", "Wrong expiration"}, "6011000995511155": {"NU", "Insufficient funds"},
		} {
			_, err := e.call("auth", map[string]any{"account": pan, "expiry": "1230", "amount": 1000, "postal": "19406", "cvv2": "112", "orderid": "DECL-" + pan[12:]})
			require.NotNil(t, err, pan)
			assert.Equal(t, errs.Declined, err.Kind)
			assert.Equal(t, "C", err.RespStat)
			assert.Equal(t, want[0], err.RespCode)
			assert.Equal(t, want[1], err.RespText)
			assert.Equal(t, "FNOR", err.RespProc)
			assert.Len(t, err.Retref, 12)
			assert.Equal(t, "Y", err.AVSResp, "postal …406 (spec §4)")
			assert.Equal(t, "M", err.CVVResp, "CVV 112")
			assert.Equal(t, "DECL-"+pan[12:], err.OrderID)
			assert.False(t, err.Retryable, "a decline does not change on repeat")
			assert.Equal(t, errs.OutcomeRejected, err.Outcome)
			assert.Equal(t, http.StatusOK, err.Status, "declines are HTTP 200 (spec §3)")
			assert.Contains(t, err.Message, want[1])
			assert.NotContains(t, err.Message, pan)
		}
	})

	t.Run("amount-driven codes $1000-$1999", func(t *testing.T) {
		_, err := e.call("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 111695})
		require.NotNil(t, err)
		assert.Equal(t, errs.Declined, err.Kind)
		assert.Equal(t, "116", err.RespCode)
		_, err = e.call("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 100500})
		require.NotNil(t, err)
		assert.Equal(t, "05", err.RespCode, "FNOR's two-digit code with a leading 0")
		a := e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 200000})
		assert.Equal(t, "A", a["respstat"], "$2000 is outside the range")
	})

	t.Run("refund declines $1000-$1999 after a sale of $2000 or more", func(t *testing.T) {
		sale := e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 250000, "capture": true})
		require.Positive(t, e.settle().Settled)
		_, err := e.call("refund", map[string]any{"retref": sale["retref"], "amount": 150000})
		require.NotNil(t, err)
		assert.Equal(t, errs.Declined, err.Kind)
		assert.Equal(t, "500", err.RespCode, "1500.00 answers the processor's code 500 (spec §4)")
		assert.False(t, err.Retryable)
		r := e.ok("refund", map[string]any{"retref": sale["retref"], "amount": 2500})
		assert.Equal(t, "A", r["respstat"], "other amounts refund")
	})

	t.Run("partial approval", func(t *testing.T) {
		a := e.ok("auth", map[string]any{"account": partialPAN, "expiry": "1230", "amount": 750})
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, true, a["partial"])
		assert.Equal(t, int64(500), num(a["amount_minor"]))
		assert.Equal(t, int64(750), num(a["requested_minor"]))
		assert.Equal(t, "10", a["respcode"])
		b := e.ok("auth", map[string]any{"account": partialPAN, "expiry": "1230", "amount": 599})
		assert.Equal(t, false, b["partial"], "below 6.00 the card approves in full")
	})

	t.Run("AVS by postal code and CVV", func(t *testing.T) {
		for postal, avs := range map[string]string{"19224": "X", "19225": "Y", "19111": "A", "19223": "W", "19113": "Z", "19112": "N", "19221": "U"} {
			a := e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 100, "postal": postal})
			assert.Equal(t, avs, a["avsresp"], postal)
		}
		for cvv, want := range map[string]string{"112": "M", "111": "N", "222": "P", "333": "U"} {
			a := e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 100, "cvv2": cvv})
			assert.Equal(t, want, a["cvvresp"], cvv)
		}
	})

	t.Run("gateway validation", func(t *testing.T) {
		_, err := e.call("auth", map[string]any{"account": "4111111111111112", "expiry": "1230", "amount": 100})
		require.NotNil(t, err)
		assert.Equal(t, "13", err.RespCode, "Luhn failure")
		assert.Equal(t, "PPS", err.RespProc)
		assert.NotContains(t, err.Error(), "4111111111111112")
		_, err = e.call("tokenize", map[string]any{"account": "4111111111111112"})
		require.NotNil(t, err)
		assert.Equal(t, errs.API, err.Kind)
		assert.Equal(t, "54", err.Code, "CardSecure's Luhn code")
		_, err = e.call("inquire", map[string]any{"retref": "999999999999"})
		require.NotNil(t, err)
		assert.Equal(t, errs.API, err.Kind, "a lookup that finds nothing is not a decline")
		assert.Equal(t, "29", err.RespCode)
	})
}

// The RPCT emulator answers with its three-digit codes (spec §4).
func TestUATRapidConnect(t *testing.T) {
	e := start(t, setup{sandbox: sandbox.Options{CardPointe: sbcp.Options{Processor: sbcp.ProcRPCT}}})
	_, err := e.call("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 111695})
	require.NotNil(t, err)
	assert.Equal(t, "RPCT", err.RespProc)
	assert.Equal(t, "116", err.RespCode)
	assert.Equal(t, "Not sufficient funds", err.RespText)
	a := e.ok("auth", map[string]any{"account": partialPAN, "expiry": "1230", "amount": 600})
	assert.Equal(t, "002", a["respcode"])
	assert.Equal(t, true, a["partial"])
}

// respstat B is a temporary decline: nothing was charged, a new auth is safe.
func TestTemporaryDecline(t *testing.T) {
	e := start(t, setup{})
	_, err := e.call("auth", map[string]any{"account": timeoutPAN, "expiry": "1230", "amount": 100})
	require.NotNil(t, err)
	assert.Equal(t, errs.Declined, err.Kind)
	assert.Equal(t, errs.ReasonTemporary, err.Reason)
	assert.Equal(t, "B", err.RespStat)
	assert.Equal(t, "62", err.RespCode)
	assert.Equal(t, "PPS", err.RespProc)
	assert.True(t, err.Retryable, "the gateway declined the first: a new auth cannot charge twice")
	assert.Equal(t, errs.OutcomeRejected, err.Outcome)
	assert.NotEmpty(t, err.OrderID)
	recs := e.records(err.OrderID)
	require.Len(t, recs, 1, "the library did not repeat it by itself")
	assert.Equal(t, "Declined", recs[0]["setlstat"])
}

// HTTP errors: 401 is an auth error, 400/404/5xx are API errors with the
// status; what may be repeated follows the one decision.
func TestHTTPErrors(t *testing.T) {
	t.Run("401", func(t *testing.T) {
		e := start(t, setup{section: map[string]any{"password": "wrong-password"}})
		_, err := e.call("inquireMerchant", nil)
		require.NotNil(t, err)
		assert.Equal(t, errs.Auth, err.Kind)
		assert.Equal(t, errs.ReasonDenied, err.Reason)
		assert.Equal(t, 401, err.Status)
		assert.False(t, err.Retryable)
		assert.NotContains(t, err.Error(), "wrong-password")
	})
	t.Run("401 for a MID of other credentials", func(t *testing.T) {
		e := start(t, setup{})
		_, err := e.call("testCredentials", map[string]any{"merchid": "123456789012"})
		require.NotNil(t, err)
		assert.Equal(t, errs.Auth, err.Kind)
	})
	t.Run("404", func(t *testing.T) {
		e := start(t, setup{proxy: func(srv *sandbox.Server) string { return srv.Endpoints().CardPointeURL + "/v0" }})
		_, err := e.call("inquireMerchant", nil)
		require.NotNil(t, err)
		assert.Equal(t, errs.API, err.Kind)
		assert.Equal(t, 404, err.Status)
		assert.Contains(t, err.Message, "Not Found")
		assert.Equal(t, errs.OutcomeRejected, err.Outcome)
	})
	t.Run("5xx on a read is repeated", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/inquireMerchant", Status: 503})
		m := e.ok("inquireMerchant", nil)
		assert.Equal(t, e.mid, m["merchid"])
		assert.EqualValues(t, 1, e.c.Stats().Retries)
	})
	t.Run("5xx on a capture is not repeated", func(t *testing.T) {
		e := start(t, setup{})
		a := e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 100})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/capture", Status: 500})
		_, err := e.call("capture", map[string]any{"retref": a["retref"]})
		require.NotNil(t, err)
		assert.Equal(t, errs.API, err.Kind)
		assert.Equal(t, 500, err.Status)
		assert.False(t, err.Retryable, "the Gateway may have captured; nothing makes a repeat safe")
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.Contains(t, err.Message, "look it up")
	})
	t.Run("400", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/void", Status: 400})
		_, err := e.call("void", map[string]any{"retref": "123"})
		require.NotNil(t, err)
		assert.Equal(t, errs.API, err.Kind)
		assert.Equal(t, 400, err.Status)
		assert.Equal(t, errs.OutcomeRejected, err.Outcome)
	})
	t.Run("a GET carries no body", func(t *testing.T) {
		var sawBody []string
		e := start(t, setup{proxy: func(srv *sandbox.Server) string {
			p := newRecorder(t, srv.URL(), func(r *http.Request, body []byte) {
				if r.Method == http.MethodGet && (len(body) > 0 || r.ContentLength > 0 || r.Header.Get("Content-Type") != "") {
					sawBody = append(sawBody, r.URL.Path)
				}
			})
			return p + "/cardconnect/rest"
		}})
		a := e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 100})
		e.ok("inquire", map[string]any{"retref": a["retref"]})
		e.ok("inquireMerchant", nil)
		e.list("settlestat", nil)
		assert.Empty(t, sawBody)
	})
}

// A client without a cardpointe section refuses CardPointe requests; one
// handle serves both systems.
func TestConfigSection(t *testing.T) {
	srv := start(t, setup{}).srv
	e := &env{t: t, srv: srv}
	cfg := map[string]any{"environment": "sandbox", "sandbox_url": srv.Endpoints().SandboxURL}
	e.c = newClient(t, cfg)
	_, err := e.call("inquireMerchant", nil)
	require.NotNil(t, err)
	assert.Equal(t, errs.InvalidArgument, err.Kind)
	assert.Equal(t, "system", err.Field)

	// In environment "sandbox" the url defaults to the sandbox's.
	ep := srv.Endpoints()
	cfg["cardpointe"] = map[string]any{"username": ep.CardPointeUsername, "password": ep.CardPointePassword, "merchid": ep.CardPointeMerchID}
	e.c = newClient(t, cfg)
	assert.Equal(t, "A", e.ok("auth", map[string]any{"account": visa, "expiry": "1230", "amount": 100})["respstat"])

	for _, c := range []struct {
		section map[string]any
		field   string
	}{
		{map[string]any{"url": "https://x/cardconnect/rest", "site": "fts", "username": "u", "password": "p", "merchid": "1"}, "cardpointe.site"},
		{map[string]any{"uat": true, "username": "u", "password": "p", "merchid": "1"}, "cardpointe.uat"},
		{map[string]any{"url": "http://example.com/cardconnect/rest", "username": "u", "password": "p", "merchid": "1"}, "cardpointe.url"},
		{map[string]any{"site": "fts", "password": "p", "merchid": "1"}, "cardpointe.username"},
		{map[string]any{"site": "fts", "username": "u", "merchid": "1"}, "cardpointe.password"},
		{map[string]any{"site": "fts", "username": "u", "password": "p"}, "cardpointe.merchid"},
		{map[string]any{"site": "FTS!", "username": "u", "password": "p", "merchid": "1"}, "cardpointe.site"},
		{map[string]any{"site": "fts", "username": "u", "password": "p", "merchid": "1", "timeouts": map[string]any{"response_ms": -1}}, "cardpointe.timeouts.response_ms"},
		{map[string]any{"site": "fts", "username": "u", "password": "p", "merchid": "1", "timeouts": map[string]any{"gateway_ms": -1}}, "cardpointe.timeouts.gateway_ms"},
		{map[string]any{"site": "fts", "username": "u", "password": "p", "merchid": "1", "bogus": 1}, "cardpointe.bogus"},
	} {
		_, err := newClientErr(map[string]any{"cardpointe": c.section})
		require.Error(t, err, c.field)
		assert.Equal(t, c.field, errs.As(err).Field, errs.As(err).Message)
		assert.NotContains(t, errs.As(err).Message, `"p"`)
	}
	_, cerr := newClientErr(map[string]any{"cardpointe": map[string]any{"site": "fts", "uat": true, "username": "u", "password": "p", "merchid": "496160873888"}})
	assert.NoError(t, cerr, "site + uat: https://fts-uat.cardconnect.com/cardconnect/rest")
}

func TestUnknownSystem(t *testing.T) {
	e := start(t, setup{})
	_, err := e.call("auth", nil, "system", "stripe")
	require.NotNil(t, err)
	assert.Equal(t, "system", err.Field)
	assert.True(t, strings.Contains(err.Message, "cardpointe"))
}

// TLS as for secucard: the Gateway and CardSecure over verified HTTPS; a
// certificate the client does not trust is refused and never retryable.
func TestHTTPS(t *testing.T) {
	e := start(t, setup{tls: true})
	require.True(t, strings.HasPrefix(e.srv.Endpoints().CardPointeURL, "https://"))
	tok := e.ok("tokenize", map[string]any{"account": visa})
	assert.Equal(t, visaToken, tok["token"])
	assert.Equal(t, "A", e.ok("auth", map[string]any{"account": visaToken, "expiry": "1230", "amount": 100})["respstat"])

	untrusted := &env{t: t, srv: e.srv, mid: e.mid}
	untrusted.c = newClient(t, map[string]any{"cardpointe": testkit.CardPointeConfig(e.srv)})
	_, err := untrusted.call("auth", map[string]any{"account": visaToken, "expiry": "1230", "amount": 100})
	require.NotNil(t, err)
	assert.Equal(t, errs.Network, err.Kind)
	assert.Equal(t, errs.ReasonCertificate, err.Reason)
	assert.False(t, err.Retryable)
	assert.Equal(t, errs.OutcomeNotSent, err.Outcome)
	assert.Equal(t, 0, e.approvals(err.OrderID), "the auth never reached the Gateway")
}
