package redact

import (
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
	Secret("opaque-token-value-42")
	out := String("the server said: opaque-token-value-42 is invalid")
	assert.NotContains(t, out, "opaque-token-value-42")
	assert.Contains(t, out, "is invalid")

	Secret("abc") // too short to register: must not garble text
	assert.Equal(t, "abc def", String("abc def"))
}

func TestSecretRegistryBounded(t *testing.T) {
	for i := 0; i < maxSecrets+50; i++ {
		Secret("bulk-secret-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('A'+i/26%26)) + string(rune('0'+i/676%10)))
	}
	secretsMu.RLock()
	n := len(secrets)
	secretsMu.RUnlock()
	assert.LessOrEqual(t, n, maxSecrets)
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
