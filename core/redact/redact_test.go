package redact

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestString(t *testing.T) {
	cases := []struct {
		name, in string
		gone     []string // must not survive
		kept     []string // must survive
	}{
		{"form body", "grant_type=refresh_token&client_id=abc&client_secret=s3cr3tvalue&refresh_token=r1r2r3r4r5",
			[]string{"s3cr3tvalue", "r1r2r3r4r5"}, []string{"grant_type=refresh_token", "client_id=abc"}},
		{"json", `{"access_token":"tok-123456","expires_in":1200,"refresh_token":"ref-654321","password":"hunter22"}`,
			[]string{"tok-123456", "ref-654321", "hunter22"}, []string{`"expires_in":1200`}},
		{"json spaced", `{"client_secret" : "abcdefabcdef"}`, []string{"abcdefabcdef"}, nil},
		{"json numbers", `{"cvv2": 123, "pin":4711, "amount": 1000}`, []string{"123", "4711"}, []string{`"amount": 1000`}},
		{"bearer header", "Authorization: Bearer eyJhbGciOi.abc.def", []string{"eyJhbGciOi"}, []string{"Authorization"}},
		{"bearer inline", "sending request with bearer abcdef123456 now", []string{"abcdef123456"}, []string{"now"}},
		{"basic", "Authorization: Basic dGVzdGluZzp0ZXN0aW5nMTIz", []string{"dGVzdGluZzp0ZXN0aW5nMTIz"}, nil},
		{"stomp headers", "CONNECT\nlogin:tokentoken\npasscode:tokentoken\naccept-version:1.2\n\n",
			[]string{"tokentoken"}, []string{"accept-version:1.2"}},
		{"stomp user-id", "SEND\nuser-id:abcdefgh\ndestination:/exchange/connect.api/api:get:smart.idents\n",
			[]string{"abcdefgh"}, []string{"destination:/exchange/connect.api/api:get:smart.idents"}},
		{"device code form", "grant_type=device&code=0123456789abcdef0123456789abcdef", []string{"0123456789abcdef0123456789abcdef"}, nil},
		{"device code json", `{"device_code":"0123456789abcdef0123456789abcdef","user_code":"vfazyp5f"}`,
			[]string{"0123456789abcdef0123456789abcdef"}, []string{"vfazyp5f"}},
		{"api error code kept", `{"status":"error","code":"1234","error":"ProductNotFoundException"}`, nil, []string{`"code":"1234"`}},
		{"pan plain", "card 4111111111111111 approved", []string{"4111111111111111"}, []string{"************1111", "approved"}},
		{"pan json", `{"account":"5454545454545454","expiry":"1230"}`, []string{"5454545454545454", "1230"}, []string{"5454"}},
		{"account failing luhn", `{"account":"4111111111111112","amount":"1.00"}`, []string{"4111111111111112"}, []string{`"account":"************1112"`, `"amount":"1.00"`}},
		{"ach account", `{"account":"124001545/123123123123"}`, []string{"124001545", "123123123123"}, []string{"3123"}},
		{"account form", "account=4111111111111112&merchid=496160873888", []string{"4111111111111112"}, []string{"merchid=496160873888"}},
		{"short account kept", `{"account":"ACC_1"}`, nil, []string{`"account":"ACC_1"`}},
		{"expiry and track", `{"expiry":"1230","track":"%B4111111111111111^DOE/J^30121010000?","cvv2":"112"}`,
			[]string{"1230", "4111111111111111", "DOE/J", "112"}, nil},
		{"pan grouped", "pan 4111 1111 1111 1111.", []string{"4111 1111 1111 1111"}, []string{"**** **** **** 1111"}},
		{"pan amex", "371449635398431", []string{"371449635398431"}, []string{"8431"}},
		{"not luhn kept", "order 1234567890123 ok", nil, []string{"1234567890123"}},
		{"long id kept", "STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2", nil, []string{"STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2"}},
		{"twenty digits kept", "ref 41111111111111111111 x", nil, []string{"41111111111111111111"}},
		{"query string", "GET /oauth/token?access_token=abcdef0123&x=1", []string{"abcdef0123"}, []string{"x=1"}},
		{"bare token", `token=abcdef0123456789 {"token":"9418594164541111","token_type":"bearer"}`,
			[]string{"abcdef0123456789", "9418594164541111"}, []string{`"token_type":"bearer"`}},
		{"cli flag", "-client-secret=abcdefabcdef -client-id=1234", []string{"abcdefabcdef"}, []string{"client-id=1234"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := String(c.in)
			for _, g := range c.gone {
				assert.NotContains(t, out, g, "output: %s", out)
			}
			for _, k := range c.kept {
				assert.Contains(t, out, k, "output: %s", out)
			}
		})
	}
}

func TestRegisteredSecret(t *testing.T) {
	r := New()
	r.Set("access_token", "opaque-token-value-42")
	out := r.String("the server said: opaque-token-value-42 is invalid")
	assert.NotContains(t, out, "opaque-token-value-42")
	assert.Contains(t, out, "is invalid")

	r.Set("password", "abc") // too short to register: must not garble text
	assert.Equal(t, "abc def", r.String("abc def"))

	// A secret containing another is masked whole, whatever the order.
	r.Set("a", "secret-part")
	r.Set("b", "secret-part-and-more")
	assert.Equal(t, "x "+Mask+" y", r.String("x secret-part-and-more y"))
}

// TestRedactorsArePerClient: one client's secrets are its own business; the
// package-level String knows no registered secret (issue 10.3d).
func TestRedactorsArePerClient(t *testing.T) {
	a, b := New(), New()
	a.Set("client_secret", "client-a-secret-value")
	assert.NotContains(t, a.String("x client-a-secret-value"), "client-a-secret-value")
	assert.Contains(t, b.String("x client-a-secret-value"), "client-a-secret-value")
	assert.Contains(t, String("x client-a-secret-value"), "client-a-secret-value")
	var nilRedactor *Redactor
	nilRedactor.Set("x", "ignored-value")
	assert.Equal(t, "ignored-value", nilRedactor.String("ignored-value"))
}

// TestLiveSecretsAreNeverEvicted: the old registry was process-wide and kept
// the newest 512 values, so a busy process (many clients, many rotations)
// pushed a live client secret out. Live values stay however many others come
// and go; only rotated-out values are bounded.
func TestLiveSecretsAreNeverEvicted(t *testing.T) {
	r := New()
	r.Set("client_secret", "the-live-client-secret")
	r.Set("refresh_token", "the-live-refresh-token")
	const n = 10*maxRetired + 600
	for i := 0; i < n; i++ {
		r.Set("access_token", fmt.Sprintf("rotating-access-token-%05d", i))
		other := New() // other clients come and go
		other.Set("client_secret", fmt.Sprintf("other-client-secret-%05d", i))
	}
	out := r.String(fmt.Sprintf("the-live-client-secret the-live-refresh-token rotating-access-token-%05d rotating-access-token-%05d", n-1, n-maxRetired))
	assert.Equal(t, strings.Repeat(Mask+" ", 4)[:4*len(Mask)+3], out)
	r.mu.RLock()
	registered := len(r.sorted)
	r.mu.RUnlock()
	assert.LessOrEqual(t, registered, maxRetired+3, "rotated values are bounded")
	assert.Contains(t, r.String("rotating-access-token-00000"), "rotating-access-token-00000", "long-dead tokens fall out")
}

// TestPANsOnlyStandingAlone (issue 10.3c): digits inside an id are part of the
// id, not a card number.
func TestPANsOnlyStandingAlone(t *testing.T) {
	cases := []struct{ in, want string }{
		{"customer CUS_DOESNOTEXIST4111111111110000 not found", "customer CUS_DOESNOTEXIST4111111111110000 not found"},
		{"id=CUS_4111111111111111", "id=CUS_4111111111111111"},
		{"ref 4111111111111111abc", "ref 4111111111111111abc"},
		{"x14111111111111111 y", "x14111111111111111 y"},
		{"pan 4111111111111111", "pan ************1111"},
		{`{"pan":"4111111111111111"}`, `{"pan":"************1111"}`},
		{"two 4111111111111111 5454545454545454.", "two ************1111 ************5454."},
		{"grouped 4111 1111 1111 1111 ok", "grouped **** **** **** 1111 ok"},
		{"dash 4111-1111-1111-1111", "dash ****-****-****-1111"},
		{"after a date 2024-4111111111111111", "after a date 2024-************1111"},
		{"(4111111111111111)", "(************1111)"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, String(c.in), c.in)
	}
}

// TestClipRedactsFirst (issue 10.3a): a secret at the 64 KiB boundary used to
// be cut first, leaving a head the patterns no longer recognised.
func TestClipRedactsFirst(t *testing.T) {
	const max = 64 << 10
	r := New()
	r.Set("password", "Rel-Pa55word-of-the-user")
	pad := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name, in string
		gone     []string
	}{
		{"pan across the cut", pad(max-20) + ` {"pan":"4111111111111111"} tail`, []string{"41111111"}},
		{"registered secret across the cut", pad(max-10) + " Rel-Pa55word-of-the-user tail", []string{"Rel-Pa55", "Pa55word"}},
		{"secret key value across the cut", pad(max-30) + ` {"client_secret":"abcdefghijklmnopqrstuvwxyz"}`, []string{"abcdefgh"}},
		{"token glued across the cut", pad(max-5) + " eyJhbGciOiJIUzI1NiJ9.payload", []string{"eyJh"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := r.Clip(c.in, max)
			for _, g := range c.gone {
				assert.NotContains(t, out, g)
			}
			assert.LessOrEqual(t, len(out), max+64)
			assert.Contains(t, out, "bytes truncated")
		})
	}
	assert.Equal(t, "short "+Mask, r.Clip("short Rel-Pa55word-of-the-user", max))
}

func TestJSON(t *testing.T) {
	r := New()
	r.Set("access_token", "live-access-token-1")
	cases := []struct{ in, want string }{
		{`{"b":1,"a":"x"}`, `{"b":1,"a":"x"}`},
		{`{"pan":4111111111111111,"amount":1000}`, `{"pan":"************1111","amount":1000}`},
		{`{"password":"hunter22","pin":1234,"cvv":"123","nested":{"refresh_token":"r-1"}}`,
			`{"password":"[REDACTED]","pin":"[REDACTED]","cvv":"[REDACTED]","nested":{"refresh_token":"[REDACTED]"}}`},
		{`{"code":"1234","device":{"code":"0123456789abcdef0123"}}`, `{"code":"1234","device":{"code":"[REDACTED]"}}`},
		{`["Bearer live-access-token-1",{"4111111111111111":[true,false,null]}]`,
			`["Bearer [REDACTED]",{"************1111":[true,false,null]}]`},
		{`{"text":"<b>&</b>","id":"CUS_4111111111111111"}`, `{"text":"<b>&</b>","id":"CUS_4111111111111111"}`},
		{`null`, `null`},
	}
	for _, c := range cases {
		got := r.JSON([]byte(c.in))
		assert.JSONEq(t, c.want, string(got), c.in)
		assert.True(t, json.Valid(got))
	}
	assert.Equal(t, `"not json: [REDACTED]"`, string(r.JSON([]byte("not json: live-access-token-1"))))
}

func TestLuhn(t *testing.T) {
	assert.True(t, Luhn("4111111111111111"))
	assert.True(t, Luhn("4387751111111020"))
	assert.False(t, Luhn("4111111111111112"))
	assert.False(t, Luhn(""))
	assert.False(t, Luhn("41x1"))
}

func TestLast4(t *testing.T) {
	assert.Equal(t, "************1111", Last4("4111111111111111"))
	assert.Equal(t, "**** **** **** 1234", Last4("9276 0000 0000 1234"))
	assert.Equal(t, "**1234", Last4("001234"))
	assert.Equal(t, "12", Last4("12"))
}
