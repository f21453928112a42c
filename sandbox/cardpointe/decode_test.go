package cardpointe

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndFormatAmount(t *testing.T) {
	for in, want := range map[string]int64{
		"1.00": 100, "100": 100, "1": 1, "0": 0, "0.00": 0, "1.5": 150, ".5": 50, "7.": 700,
		"-5.00": -500, "-5": -5, "123456789": 123456789, "99999999.99": 9999999999, "0001.10": 110,
	} {
		n, err := parseAmount(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, n, in)
	}
	for _, in := range []string{"", "-", ".", "1.005", "+1", "1e2", " 1", "1 ", "1,00", "--1", "1.2.3", "0x10", "١"} {
		_, err := parseAmount(in)
		assert.ErrorIs(t, err, errAmountSyntax, in)
	}
	for _, in := range []string{"10000000000", "100000000.00", "-100000000.00", "9999999999999999999999"} {
		_, err := parseAmount(in)
		assert.ErrorIs(t, err, errAmountRange, in)
	}
	for n, want := range map[int64]string{0: "0.00", 1: "0.01", 99: "0.99", 100: "1.00", 123456789: "1234567.89", -500: "-5.00", -5: "-0.05"} {
		assert.Equal(t, want, formatAmount(n))
	}
}

// FuzzParseAmount: whatever parses, formats to a two-decimal string that
// parses back to the same minor units; nothing above the limit passes.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1.00", "100", "-5.00", ".5", "1.005", "99999999.99", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseAmount(s)
		if err != nil {
			return
		}
		if n > maxMinor || n < -maxMinor {
			t.Fatalf("%q parsed to %d, beyond the limit", s, n)
		}
		out := formatAmount(n)
		back, err := parseAmount(out)
		if err != nil || back != n {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, n, out, back, err)
		}
		if !strings.Contains(s, ".") {
			if v, err := strconv.ParseInt(s, 10, 64); err == nil && v != n {
				t.Fatalf("%q without a decimal point must be minor units, got %d", s, n)
			}
		}
	})
}

func TestTokenRule(t *testing.T) {
	v := newVault()
	// The pair UAT recorded (spec §5), from the general rule.
	assert.Equal(t, "9418594164541111", v.tokenize("4111111111111111", false))
	for _, pan := range []string{"4111111111111111", "5454545454545454", "371449635398431", "36438999960016", "6011000995500000"} {
		tok := v.tokenize(pan, false)
		assert.Len(t, tok, 16)
		assert.Equal(t, "9"+pan[:2], tok[:3])
		assert.Equal(t, pan[len(pan)-4:], tok[12:])
		assert.True(t, luhnValid(tok), "observed CardSecure tokens all pass Luhn: %s", tok)
		assert.True(t, isTokenShaped(tok))
		assert.Equal(t, tok, v.tokenize(pan, false), "stable per PAN")
		assert.Equal(t, pan, v.lookup(tok).pan)
	}
	u := v.tokenize("4111111111111111", true)
	assert.NotEqual(t, "9418594164541111", u)
	assert.Equal(t, "4111111111111111", v.lookup(u).pan)
}

func TestUATTablesAreConsistent(t *testing.T) {
	for pan := range testPANs {
		assert.True(t, luhnValid(pan), "test PAN %s passes Luhn", pan)
		_, lengthOK, known := brandOf(pan)
		assert.True(t, known && lengthOK, pan)
		tp := testPANs[pan]
		assert.Contains(t, codes, "FNOR/"+tp.fnor)
		assert.Contains(t, codes, "RPCT/"+tp.rpct)
	}
	for pan := range timeoutPANs {
		assert.True(t, luhnValid(pan), pan)
	}
	assert.True(t, luhnValid(partialPAN))
	assert.Equal(t, respCode{"B", "Timed out"}, codes["PPS/62"])
	assert.Equal(t, respCode{"C", "Not sufficient funds"}, codes["RPCT/116"])
	assert.Equal(t, respCode{"C", "Insufficient funds"}, codes["FNOR/NU"])
	assert.Len(t, codes, 330, "PPS 61 + FNOR 42 + RPCT 227 rows of GatewayResponseCodes.md")
}

// FuzzGatewayRequest feeds arbitrary methods, paths and bodies through the
// whole handler (request decoding, routing, every operation): it must never
// panic, never answer 5xx, and every JSON answer must be valid JSON.
func FuzzGatewayRequest(f *testing.F) {
	f.Add("PUT", "/cardconnect/rest/auth", []byte(`{"merchid":"496160873888","account":"4111111111111111","amount":"1.00","capture":"Y"}`))
	f.Add("POST", "/cardconnect/rest/capture", []byte(`{"merchid":"496160873888","retref":"1","amount":100}`))
	f.Add("GET", "/cardconnect/rest/inquire/1/496160873888", []byte(`{"merchid":1}`))
	f.Add("POST", "/cardsecure/api/v1/ccn/tokenize", []byte(`{"account":"4111111111111111","unique":true}`))
	f.Add("DELETE", "/cardconnect/rest/profile/1//496160873888", []byte(nil))
	f.Add("PUT", "/cardconnect/rest/profile", []byte(`{"merchid":"496160873888","account":"9418594164541111","profile":"Y"}`))
	f.Add("GET", "/cardconnect/rest/settlestat?merchid=496160873888&date=1207", []byte(nil))
	f.Add("POST", "/sandbox/cardpointe/settle", []byte(`{}`))
	s, err := New(Options{Seed: 1})
	require.NoError(f, err)
	h := s.Handler()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultUsername+":"+DefaultPassword))
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://sandbox"+target, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 401, 404, 405, 413, 415:
		default:
			t.Fatalf("%s %s %q: status %d", method, target, body, rec.Code)
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: invalid JSON answer %q", method, target, rec.Body.Bytes())
		}
	})
}
