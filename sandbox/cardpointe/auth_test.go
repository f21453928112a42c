package cardpointe_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

func TestAuthApprovalShape(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	resp := g.auth(visa, "99.99", map[string]any{"orderid": "ORDER-1", "cvv2": "123", "postal": "84047", "capture": "Y"})
	requireCode(t, resp, "A", "FNOR", "00")
	assert.Equal(t, "Approval", resp["resptext"])
	assert.Equal(t, "99.99", resp["amount"])
	assert.Equal(t, mid, resp["merchid"])
	assert.Equal(t, "ORDER-1", resp["orderid"], "auth answers echo orderid in lower case")
	assert.Regexp(t, `^\d{12}$`, resp["retref"])
	assert.Regexp(t, `^PPS\d{3}$`, resp["authcode"])
	assert.Regexp(t, `^\d{10}$`, resp["batchid"], "capture Y queues the sale")
	// As recorded: account is the token, no PAN anywhere.
	assert.Equal(t, visaToken, resp["account"])
	assert.Equal(t, visaToken, resp["token"])
	assert.Equal(t, "Z", resp["avsresp"])
	assert.Equal(t, "M", resp["cvvresp"])
	assert.Equal(t, "1230", resp["expiry"])
	assert.Equal(t, "N", resp["commcard"])

	// tokenize Y: account is the masked PAN, the token comes separately.
	resp = g.auth(visa, "1.00", map[string]any{"tokenize": "Y"})
	assert.Equal(t, "41XXXXXXXXXX1111", resp["account"])
	assert.Equal(t, visaToken, resp["token"])
	_, hasBatch := resp["batchid"]
	assert.False(t, hasBatch, "no batch without capture")

	// bin Y and receipt Y add binInfo and receipt (camelCase binInfo).
	resp = g.auth(visa, "1.00", map[string]any{"bin": "Y", "receipt": "Y", "name": "JANE DOE",
		"userfields": map[string]any{"receiptOrderNote": "thanks"}})
	bin := resp["binInfo"].(map[string]any)
	assert.Equal(t, "V", bin["product"])
	assert.Equal(t, "411111", bin["bin"])
	receipt := resp["receipt"].(map[string]any)
	assert.Equal(t, "JANE DOE", receipt["nameOnCard"])
	assert.Equal(t, "thanks", receipt["orderNote"])
	resp = g.auth(visa, "1.00", map[string]any{"receipt": "json"})
	assert.NotNil(t, resp["receiptObj"])
}

func TestAmountRule(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, c := range []struct {
		in   any
		want string
	}{
		{"1.00", "1.00"}, {"100", "1.00"}, {"1", "0.01"}, {"99", "0.99"}, {"123456789", "1234567.89"},
		{"1.5", "1.50"}, {"0.99", "0.99"}, {".5", "0.50"}, {"7.", "7.00"}, {"0100", "1.00"},
		{"99999999.99", "99999999.99"},
		// JSON numbers are read by their literal, with the same rule.
		{100, "1.00"}, {12.34, "12.34"},
	} {
		resp := g.auth(visa, "", map[string]any{"amount": c.in})
		requireCode(t, resp, "A", "FNOR", "00")
		assert.Equal(t, c.want, resp["amount"], "amount %v", c.in)
	}
	for _, c := range []struct {
		in   any
		code string
	}{
		{"1.005", "43"}, {"abc", "43"}, {"", "43"}, {"+1", "43"}, {"1e2", "43"}, {" 1", "43"},
		{"1,00", "43"}, {"-", "43"}, {".", "43"}, {"1.2.3", "43"}, {true, "43"},
		{"100000000.00", "42"}, {"10000000000", "42"}, {"99999999999999999999999", "42"},
		{map[string]any{"v": 1}, "34"},
	} {
		resp := g.auth(visa, "", map[string]any{"amount": c.in})
		requireCode(t, resp, "C", "PPS", c.code)
		_, hasRetref := resp["retref"]
		assert.False(t, hasRetref, "a refused request records nothing")
	}
}

func TestAccountVerificationAndForcedCredit(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	// Amount 0: account verification; nothing to capture.
	resp := g.auth(visa, "0", map[string]any{"capture": "Y"})
	requireCode(t, resp, "A", "FNOR", "00")
	assert.Equal(t, "0.00", resp["amount"])
	assert.NotContains(t, resp, "batchid")
	inq := g.inquire(resp["retref"].(string))
	assert.Equal(t, "Zero amount", inq["setlstat"])
	assert.Equal(t, "N", inq["voidable"])
	assert.Equal(t, "N", inq["refundable"])

	// Negative amount: a forced credit (refund without reference).
	resp = g.auth(visa, "-5.00", map[string]any{"capture": "Y"})
	requireCode(t, resp, "A", "FNOR", "00")
	assert.Equal(t, "-5.00", resp["amount"])
	batchid := resp["batchid"].(string)
	g.settle()
	b := g.get("settlestat?merchid=" + mid + "&batchid=" + batchid).array(t)[0]
	assert.Equal(t, "5.00", b["refundtotal"])
	assert.Equal(t, float64(1), b["refundcnt"])
	assert.Equal(t, "0.00", b["chargetotal"])
}

func TestAnyLuhnValidPANOfAKnownNetworkApproves(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, pan := range []string{
		"4444333322221111", "4000065433421984", // Visa
		"5105105105105100", "5555555555554444", // MC 51-55
		"378282246310005", "341111111111111", // Amex 34/37, 15 digits
		"6011111111111117", "6221260000000000", "6445644564456445", "6500000000000002", // Discover
		"36000000000008",   // Diners 14
		"3530111333300000", // JCB
	} {
		resp := g.auth(pan, "1.00", nil)
		requireCode(t, resp, "A", "FNOR", "00")
		tok := resp["token"].(string)
		assert.Regexp(t, `^9`+pan[:2]+`\d{9}`+pan[len(pan)-4:]+`$`, tok, pan)
	}
}

func TestSpecificResponseTestPANs(t *testing.T) {
	cases := []struct {
		pan                 string
		fnor, fnorText      string
		rpct, rpctText      string
		stat, fixedAuthcode string
	}{
		{"4788250000121443", "00", "Approval", "000", "Approve", "A", "PPS009"},
		{"5454545454545454", "00", "Approval", "000", "Approve", "A", "PPS010"},
		{"371449635398431", "00", "Approval", "000", "Approve", "A", "PPS013"},
		{"6011000995500000", "00", "Approval", "000", "Approve", "A", "PPS015"},
		{"36438999960016", "00", "Approval", "000", "Approve", "A", "PPS012"},
		{"3528000000000007", "00", "Approval", "000", "Approve", "A", "PPS007"},
		{"4387751111111020", "01", "Refer to issuer", "107", "Call for authorization", "C", ""},
		{"5442981111111023", "01", "Refer to issuer", "107", "Call for authorization", "C", ""},
		{"6011000995511122", "01", "Refer to issuer", "107", "Call for authorization", "C", ""},
		{"4387751111111038", "05", "Do not honor", "100", "Do not honor", "C", ""},
		{"5442981111111031", "05", "Do not honor", "100", "Do not honor", "C", ""},
		{"6011000995511130", "05", "Do not honor", "100", "Do not honor", "C", ""},
		{"4387751111111046", "54", "Wrong expiration", "101", "Expired card", "C", ""},
		{"5442981111111049", "54", "Wrong expiration", "101", "Expired card", "C", ""},
		{"6011000995511148", "54", "Wrong expiration", "101", "Expired card", "C", ""},
		{"4387751111111053", "NU", "Insufficient funds", "500", "Decline", "C", ""},
		{"5442981111111056", "NU", "Insufficient funds", "500", "Decline", "C", ""},
		{"6011000995511155", "NU", "Insufficient funds", "500", "Decline", "C", ""},
	}
	fnor := newGW(t, cardpointe.Options{})
	rpct := newGW(t, cardpointe.Options{Processor: cardpointe.ProcRPCT})
	for _, c := range cases {
		for _, p := range []struct {
			g          *gw
			proc, code string
			text       string
		}{{fnor, "FNOR", c.fnor, c.fnorText}, {rpct, "RPCT", c.rpct, c.rpctText}} {
			resp := p.g.auth(c.pan, "10.00", map[string]any{"capture": "Y", "orderid": "T-" + c.pan})
			requireCode(t, resp, c.stat, p.proc, p.code)
			assert.Equal(t, p.text, resp["resptext"], "%s on %s", c.pan, p.proc)
			if c.stat == "A" {
				assert.Equal(t, c.fixedAuthcode, resp["authcode"], c.pan)
				assert.Equal(t, "10.00", resp["amount"])
				continue
			}
			assert.Equal(t, "0.00", resp["amount"], "a decline approves nothing")
			assert.NotContains(t, resp, "authcode")
			assert.NotContains(t, resp, "batchid", "a decline is never queued")
			// The declined record can be inquired (spec §2.6).
			inq := p.g.inquire(resp["retref"].(string))
			assert.Equal(t, "Declined", inq["setlstat"])
			assert.Equal(t, p.code, inq["respcode"])
			assert.Equal(t, "N", inq["voidable"])
		}
	}
}

func TestAmountDrivenResponseCodes(t *testing.T) {
	fnor := newGW(t, cardpointe.Options{})
	rpct := newGW(t, cardpointe.Options{Processor: cardpointe.ProcRPCT})
	for _, c := range []struct {
		g                      *gw
		amount                 string
		stat, proc, code, text string
		approvedAmount         string
	}{
		{rpct, "111695", "C", "RPCT", "116", "Not sufficient funds", "0.00"}, // the guide's own example: $1116.95
		{rpct, "1332.00", "C", "RPCT", "332", "Account locked", "0.00"},
		{rpct, "1500.00", "C", "RPCT", "500", "Decline", "0.00"},
		{rpct, "1000.00", "A", "RPCT", "000", "Approve", "1000.00"},
		{rpct, "1920.00", "B", "RPCT", "920", "Security H/W or S/W error - try again", "0.00"},
		{fnor, "1005.00", "C", "FNOR", "05", "Do not honor", "0.00"}, // two-digit codes with a leading 0
		{fnor, "1051.99", "C", "FNOR", "51", "Declined", "0.00"},
		{fnor, "1028.00", "B", "FNOR", "28", "Please retry", "0.00"},
		{fnor, "1091.00", "B", "FNOR", "91", "System error", "0.00"},
		{fnor, "1000.00", "A", "FNOR", "00", "Approval", "1000.00"},
		{fnor, "1116.00", "C", "FNOR", "116", "Decline", "0.00"}, // not an FNOR code: a plain decline
		{fnor, "999.99", "A", "FNOR", "00", "Approval", "999.99"},
		{fnor, "2000.00", "A", "FNOR", "00", "Approval", "2000.00"},
	} {
		resp := c.g.auth(visa, c.amount, nil)
		requireCode(t, resp, c.stat, c.proc, c.code)
		assert.Equal(t, c.text, resp["resptext"], c.amount)
		assert.Equal(t, c.approvedAmount, resp["amount"], c.amount)
	}
}

func TestPartialApproval(t *testing.T) {
	for _, c := range []struct {
		proc, code, text string
	}{{"FNOR", "10", "Partial Approval"}, {"RPCT", "002", "Approve for partial amount"}} {
		g := newGW(t, cardpointe.Options{Processor: c.proc})
		resp := g.auth("4387750101010101", "6.50", map[string]any{"orderid": "P-1"})
		requireCode(t, resp, "A", c.proc, c.code)
		assert.Equal(t, c.text, resp["resptext"])
		assert.Equal(t, "5.00", resp["amount"], "approves 5.00 of 6.50")
		// A capture without amount takes what was approved.
		capt := g.put("capture", map[string]any{"retref": resp["retref"]})
		assert.Equal(t, "5.00", capt["amount"])
		// Below 6.00 the card approves in full.
		resp = g.auth("4387750101010101", "5.99", nil)
		requireCode(t, resp, "A", c.proc, map[string]string{"FNOR": "00", "RPCT": "000"}[c.proc])
		assert.Equal(t, "5.99", resp["amount"])
	}
}

func TestAVSByPostalCodeOrAddress(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, c := range []struct {
		postal, address, want string
	}{
		{"55224", "", "X"}, {"K1A 1A1", "", "X"}, {"55225", "", "Y"}, {"55406", "", "Y"}, {"551A2", "", "Y"},
		{"55111", "", "A"}, {"55201", "", "A"}, {"55223", "", "W"}, {"55113", "", "Z"}, {"55226", "", "Z"},
		{"55112", "", "N"}, {"55214", "", "N"}, {"55221", "", "U"}, {"55207", "", "G"}, {"55218", "", "R"},
		{"55205", "", "E"}, {"55219", "", "S"}, {"55228", "", "Q"}, {"551-1112", "", "N"},
		{"", "112 Main Street", "N"}, {"", "31125 Main Street", "N"}, // a 3-digit value inside address
		{"84047", "123 MAIN STREET", "Z"}, // any other postal: the recorded default
	} {
		resp := g.auth(visa, "11.11", map[string]any{"postal": c.postal, "address": c.address})
		assert.Equal(t, c.want, resp["avsresp"], "postal %q address %q", c.postal, c.address)
	}
	resp := g.auth(visa, "11.11", nil)
	assert.NotContains(t, resp, "avsresp", "no postal, no address: no AVS answer")
}

func TestCVVCodes(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for cvv, want := range map[string]string{"112": "M", "111": "N", "222": "P", "333": "U", "123": "M", "4567": "M"} {
		resp := g.auth(visa, "1.00", map[string]any{"cvv2": cvv})
		requireCode(t, resp, "A", "FNOR", "00")
		assert.Equal(t, want, resp["cvvresp"], cvv)
	}
	assert.Equal(t, "P", g.auth(visa, "1.00", nil)["cvvresp"], "no CVV sent: not processed")
	requireCode(t, g.auth(visa, "1.00", map[string]any{"cvv2": "12a"}), "C", "PPS", "14")
	requireCode(t, g.auth(visa, "1.00", map[string]any{"cvv2": "12"}), "C", "PPS", "34")
}

func TestValidationCodes(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, c := range []struct {
		name  string
		patch map[string]any
		code  string
	}{
		{"Luhn failure", map[string]any{"account": "4111111111111112"}, "13"},
		{"unknown merchant", map[string]any{"merchid": "123456789012"}, "21"},
		{"no merchant", map[string]any{"merchid": ""}, "21"},
		{"unknown prefix", map[string]any{"account": "7111111111111114"}, "33"},
		{"wrong length for Visa", map[string]any{"account": "4222222222222"}, "11"},
		{"letters", map[string]any{"account": "4111abcd11111111"}, "11"},
		{"no account", map[string]any{"account": ""}, "34"},
		{"token never issued", map[string]any{"account": "9400000000000000"}, "98"},
		{"wrong currency", map[string]any{"currency": "CAD"}, "32"},
		{"invalid currency", map[string]any{"currency": "US"}, "31"},
		{"non-numeric expiry", map[string]any{"expiry": "12/30"}, "15"},
		{"expiry of bad length", map[string]any{"expiry": "123"}, "34"},
		{"object where a string belongs", map[string]any{"account": map[string]any{"pan": visa}}, "34"},
		{"ACH", map[string]any{"bankaba": "036001808"}, "48"},
		{"unknown profile", map[string]any{"account": "", "profile": "12345678901234567890/1"}, "96"},
	} {
		body := map[string]any{"merchid": mid, "account": visa, "amount": "1.00"}
		for k, v := range c.patch {
			body[k] = v
		}
		r := g.do(http.MethodPost, "/cardconnect/rest/auth", body)
		require.Equal(t, http.StatusOK, r.status, c.name)
		resp := r.object(t)
		requireCode(t, resp, "C", "PPS", c.code)
		assert.NotEmpty(t, resp["resptext"], c.name)
	}
	// "usd" is accepted: the currency matches case-insensitively.
	requireCode(t, g.auth(visa, "1.00", map[string]any{"currency": "usd"}), "A", "FNOR", "00")
	// Spaces inside a card number are accepted, as in the docs' examples.
	requireCode(t, g.auth("4111 1111 1111 1111", "1.00", nil), "A", "FNOR", "00")
	// An orderid that passes Luhn is masked (spec §2.1).
	resp := g.auth(visa, "1.00", map[string]any{"orderid": "4444333322221111"})
	assert.Equal(t, "44XXXXXXXXXX1111", resp["orderid"])
	requireCode(t, g.get("inquireByOrderid/4444333322221111/"+mid).object(t), "C", "PPS", "29")
}

func TestTimeoutTestPANs(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, pan := range []string{"4999006200620062", "5111006200620062", "6465006200620062"} {
		resp := g.auth(pan, "5.00", map[string]any{"capture": "y", "orderid": "TO-" + pan})
		requireCode(t, resp, "B", "PPS", "62")
		assert.Equal(t, "Timed out", resp["resptext"])
		assert.Equal(t, "Declined", resp["setlstat"])
		assert.Equal(t, "5.00", resp["amount"])
		assert.Regexp(t, `^\d{12}$`, resp["retref"])
		assert.Regexp(t, `^9`+pan[:2]+`\d{9}`+pan[12:]+`$`, resp["token"])
		assert.NotContains(t, resp, "batchid")

		// Their tokens time out too (spec §4).
		tok := g.do(http.MethodPost, "/cardsecure/api/v1/ccn/tokenize", map[string]any{"account": pan}).object(t)["token"].(string)
		assert.Equal(t, resp["token"], tok)
		requireCode(t, g.auth(tok, "5.00", nil), "B", "PPS", "62")
	}
}

func TestTimeoutPANWaitsTheConfiguredDelay(t *testing.T) {
	// An hour: the client gives up long before; what matters is that the
	// answer does not come while the record already exists.
	g := newGW(t, cardpointe.Options{TimeoutDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.request(ctx, http.MethodPut, "/cardconnect/rest/auth",
			map[string]any{"merchid": mid, "account": "4999006200620062", "amount": "5.00", "orderid": "WAIT-1"}, false)
		done <- err
	}()
	// Wait (on state, not time) until the gateway holds the timed-out record.
	var rec map[string]any
	require.Eventually(t, func() bool {
		r := g.do(http.MethodGet, "/cardconnect/rest/inquireByOrderid/WAIT-1/"+mid, nil)
		rec = r.object(t)
		return rec["respcode"] == "62"
	}, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, "B", rec["respstat"])
	assert.Equal(t, "Declined", rec["setlstat"])
	select {
	case err := <-done:
		t.Fatalf("the auth answered before its delay: %v", err)
	default:
	}
	cancel()
	assert.True(t, errors.Is(<-done, context.Canceled))
}

func TestOrdinaryPANsNeverWaitForTheTimeoutDelay(t *testing.T) {
	g := newGW(t, cardpointe.Options{TimeoutDelay: time.Hour})
	// Would block for an hour (and fail the test binary's deadline) if the
	// delay applied beyond the timeout PANs.
	requireCode(t, g.auth(visa, "1.00", nil), "A", "FNOR", "00")
}

var retrefPattern = regexp.MustCompile(`^\d{12}$`)

func TestRetrefsAreUnique(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	seen := map[string]bool{}
	for range 200 {
		r := g.auth(visa, "1.00", nil)["retref"].(string)
		require.True(t, retrefPattern.MatchString(r))
		require.False(t, seen[r], "retref %s twice", r)
		seen[r] = true
	}
}
