package cardpointe_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/cardpointe"
	"github.com/libsecucard/libsecucard/core/errs"
)

// Bad requests are refused before anything is sent, naming the field as the
// host wrote it and the reason, and never echoing a value.
func TestParseRequestRefusals(t *testing.T) {
	cases := []struct {
		name, json, field, says string
	}{
		{"unknown op", `{"system":"cardpointe","op":"sale"}`, "op", "must be one of"},
		{"op case", `{"system":"cardpointe","op":"voidbyorderid"}`, "op", `did you mean "voidByOrderId"`},
		{"unknown key", `{"system":"cardpointe","op":"auth","resource":"x"}`, "resource", ""},
		{"field case", `{"system":"cardpointe","op":"auth","data":{"Amount":100,"account":"x"}}`, "data.Amount", `did you mean "amount"`},
		{"unknown field", `{"system":"cardpointe","op":"void","data":{"retref":"1","orderid":"2"}}`, "data.orderid", "extra"},
		{"amount string", `{"system":"cardpointe","op":"auth","data":{"amount":"1.00","account":"x"}}`, "data.amount", "minor units"},
		{"amount fraction", `{"system":"cardpointe","op":"auth","data":{"amount":10.5,"account":"x"}}`, "data.amount", "not a fraction"},
		{"amount too large", `{"system":"cardpointe","op":"auth","data":{"amount":10000000000,"account":"x"}}`, "data.amount", "at most"},
		{"amount required", `{"system":"cardpointe","op":"auth","data":{"account":"x"}}`, "data.amount", "required"},
		{"account required", `{"system":"cardpointe","op":"auth","data":{"amount":1}}`, "data.account", "or profile"},
		{"cvv as number", `{"system":"cardpointe","op":"auth","data":{"amount":1,"account":"x","cvv2":123}}`, "data.cvv2", "must be a string"},
		{"flag", `{"system":"cardpointe","op":"auth","data":{"amount":1,"account":"x","capture":"yes"}}`, "data.capture", "true or false"},
		{"orderid luhn", `{"system":"cardpointe","op":"auth","data":{"amount":1,"account":"x","orderid":"4111111111111111"}}`, "data.orderid", "card number"},
		{"orderid long", `{"system":"cardpointe","op":"auth","data":{"amount":1,"account":"x","orderid":"12345678901234567890"}}`, "data.orderid", "19"},
		{"orderid slash", `{"system":"cardpointe","op":"auth","data":{"amount":1,"account":"x","orderid":"a/b"}}`, "data.orderid", "letters"},
		{"negative refund", `{"system":"cardpointe","op":"refund","data":{"retref":"1","amount":-5}}`, "data.amount", "negative"},
		{"path unsafe", `{"system":"cardpointe","op":"inquire","data":{"retref":"../x"}}`, "data.retref", "URL"},
		// Found by FuzzCardPointeRequest: a dot segment is made of allowed
		// characters, and two of them lead out of /cardconnect/rest.
		{"dot segment", `{"system":"cardpointe","op":"inquire","data":{"retref":".."}}`, "data.retref", "URL"},
		{"dot segments out of the base", `{"system":"cardpointe","op":"profileGet","data":{"profileid":"..","acctid":".."}}`, "data.profileid", "URL"},
		{"dot merchid", `{"system":"cardpointe","op":"inquireMerchant","data":{"merchid":"."}}`, "data.merchid", "merchant ID"},
		{"both date and batch", `{"system":"cardpointe","op":"settlestat","data":{"date":"0101","batchid":"1"}}`, "data.batchid", "by date or by batch"},
		{"profile update ref", `{"system":"cardpointe","op":"profileUpdate","data":{"profile":"123"}}`, "data.profile", "<acctid>"},
		{"extra on GET", `{"system":"cardpointe","op":"inquire","data":{"retref":"1","extra":{"x":"y"}}}`, "data.extra", "no body"},
		{"extra shadows", `{"system":"cardpointe","op":"auth","data":{"amount":1,"account":"x","extra":{"cvv2":"1"}}}`, "data.extra.cvv2", "knows"},
		{"merchid for cardsecure", `{"system":"cardpointe","op":"tokenize","data":{"account":"x","merchid":"1"}}`, "data.merchid", "CardSecure"},
		{"data not object", `{"system":"cardpointe","op":"auth","data":[1]}`, "data", "object"},
		{"timeout", `{"system":"cardpointe","op":"inquireMerchant","timeout_ms":-1}`, "timeout_ms", "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := cardpointe.ParseRequest([]byte(c.json))
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, c.field, e.Field, e.Message)
			assert.Contains(t, e.Message, c.says)
			assert.NotContains(t, e.Message, "4111111111111111")
		})
	}
}

func TestParseRequestAccepts(t *testing.T) {
	for _, js := range []string{
		`{"system":"cardpointe","op":"auth","data":{"account":"9418594164541111","amount":100,"capture":"y","profile":"Y","receipt":"json","userfields":{"a":"b"}}}`,
		`{"system":"cardpointe","op":"auth","data":{"profile":"12345678901234567890/1","amount":0}}`,
		`{"system":"cardpointe","op":"capture","data":{"retref":"1","items":[{"lineno":"1"}],"extra":{"frtzip":"12345"}}}`,
		`{"system":"cardpointe","op":"tokenize","data":{"account":"4111111111111111","unique":true}}`,
		`{"system":"cardpointe","op":"settlestat"}`,
		`{"system":"cardpointe","op":"profileGet","data":{"profileid":"1","acctid":null}}`,
	} {
		_, err := cardpointe.ParseRequest([]byte(js))
		assert.NoError(t, err, js)
	}
}

func TestAmountStrings(t *testing.T) {
	for minor, s := range map[int64]string{0: "0.00", 1: "0.01", 99: "0.99", 100: "1.00", -500: "-5.00", 123456789: "1234567.89", 9999999999: "99999999.99"} {
		assert.Equal(t, s, cardpointe.FormatMinor(minor))
		back, ok := cardpointe.ParseAmount(s)
		assert.True(t, ok)
		assert.Equal(t, minor, back, s)
	}
	for s, minor := range map[string]int64{"100": 100, "1.5": 150, "-0.01": -1, ".5": 50} {
		got, ok := cardpointe.ParseAmount(s)
		assert.True(t, ok, s)
		assert.Equal(t, minor, got, s)
	}
	for _, bad := range []string{"", "1.001", "1e3", "+1", " 1", "1,00", "-", "."} {
		_, ok := cardpointe.ParseAmount(bad)
		assert.False(t, ok, bad)
	}
}

func TestNewOrderIDIsNeverACardNumber(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := cardpointe.NewOrderID()
		assert.Regexp(t, `^LSC[0-9A-HJKMNP-TV-Z]{16}$`, id)
		assert.False(t, seen[id])
		seen[id] = true
	}
}
