package product

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A transaction in the server's style (spec §7.1) with members the models do
// not name at every level: top level, basket, basket_info, products, idents,
// refs and receipt values.
const fullTransaction = `{
  "object": "smart.transactions",
  "id": "STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2",
  "status": "ok",
  "created": "2026-11-23T10:15:02+01:00",
  "updated": "2026-11-23T10:15:40+01:00",
  "merchantRef": "Kasse 3",
  "transactionRef": "Bon 4711",
  "basket": {
    "products": [
      {"id": 1, "articleNumber": "3489", "ean": "4051234567890", "desc": "Kaffee Crema", "quantity": 2, "priceOne": 199, "tax": 19,
       "group": [{"id": "G1", "desc": "Heißgetränke", "level": 1}], "sum": 398},
      {"id": 2, "parent": 1, "articleNumber": "3490", "desc": "Hafermilch", "quantity": 1.5, "priceOne": 0, "tax": 7},
      {"id": 3, "desc": "Rabatt", "quantity": 1, "priceOne": -50, "tax": 19, "item_type": "coupon"}
    ],
    "texts": [],
    "lang": "de"
  },
  "basket_info": {"sum": 348, "currency": "EUR", "gratuity": 0},
  "idents": [{"object": "smart.idents", "id": "smi_1", "type": "card", "name": "secucard Kundenkarte", "length": 16,
              "prefix": "9276", "value": "9276004711001234", "valid": false, "extra_flag": "x"}],
  "device_source": {"object": "smart.devices", "id": "SDV_1", "vendor": "flour"},
  "payment_method": "cash",
  "receipt": [
    {"type": "space"},
    {"type": "separator", "value": {"caption": "Kundenbeleg", "decoration": ["important"], "font": "B"}},
    {"type": "name-value", "value": {"name": "Betrag", "value": "3,48 EUR"}}
  ],
  "receipt_merchant": [],
  "receipt_merchant_print": false,
  "receipt_number": "1207",
  "prepaid_sales": [{"id": 7, "status": "ok", "error_details": ""}],
  "is_demo": true,
  "merchant": {"object": "general.merchants", "id": "MRC_1"},
  "checkout_links": {"url_checkout": "https:\/\/example.invalid\/c"},
  "note": null
}`

func TestSmartTransactionRoundTripKeepsUnknownFields(t *testing.T) {
	var tx SmartTransaction
	require.NoError(t, json.Unmarshal([]byte(fullTransaction), &tx))

	assert.Equal(t, "STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2", tx.ID)
	assert.Equal(t, "ok", tx.Status)
	assert.Equal(t, Flex("2026-11-23T10:15:02+01:00"), tx.Created)
	require.NotNil(t, tx.BasketInfo)
	assert.Equal(t, int64(348), tx.BasketInfo.Sum)
	require.Len(t, tx.Basket.Products, 3)
	assert.Equal(t, int64(199), tx.Basket.Products[0].PriceOne)
	assert.Equal(t, 1.5, tx.Basket.Products[1].Quantity)
	require.NotNil(t, tx.Basket.Products[1].Parent)
	assert.Equal(t, 1, *tx.Basket.Products[1].Parent)
	assert.Nil(t, tx.Basket.Products[0].Parent)
	assert.Equal(t, int64(-50), tx.Basket.Products[2].PriceOne)
	require.Len(t, tx.Idents, 1)
	require.NotNil(t, tx.Idents[0].Valid)
	assert.False(t, *tx.Idents[0].Valid)
	assert.Equal(t, 16, *tx.Idents[0].Length)
	require.NotNil(t, tx.ReceiptMerchantPrint)
	assert.False(t, *tx.ReceiptMerchantPrint)
	assert.Equal(t, Flex("1207"), tx.ReceiptNumber)
	assert.Equal(t, "Kundenbeleg", string(tx.Receipt[1].Value.Caption))
	assert.Equal(t, Decorations{"important"}, tx.Receipt[1].Value.Decoration)

	// Unknown members are kept where they were.
	assert.JSONEq(t, `true`, string(tx.Extra["is_demo"]))
	assert.JSONEq(t, `null`, string(tx.Extra["note"]))
	assert.JSONEq(t, `"de"`, string(tx.Basket.Extra["lang"]))
	assert.JSONEq(t, `0`, string(tx.BasketInfo.Extra["gratuity"]))
	assert.JSONEq(t, `398`, string(tx.Basket.Products[0].Extra["sum"]))
	assert.JSONEq(t, `"flour"`, string(tx.DeviceSource.Extra["vendor"]))
	assert.JSONEq(t, `"B"`, string(tx.Receipt[1].Value.Extra["font"]))
	assert.NotContains(t, tx.Extra, "id", "modelled members are not duplicated in Extra")

	out, err := json.Marshal(tx)
	require.NoError(t, err)
	assert.JSONEq(t, fullTransaction, string(out))

	// Through a pointer as well, and after a change.
	tx.Status = "canceled"
	out, err = json.Marshal(&tx)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(out, &back))
	assert.Equal(t, "canceled", back["status"])
	assert.Equal(t, true, back["is_demo"])
}

func TestExtraNeverOverridesAModelledField(t *testing.T) {
	tx := SmartTransaction{ID: "STX_real", Extra: Extra{"id": json.RawMessage(`"STX_fake"`), "custom": json.RawMessage(`{"a":1}`),
		"broken": json.RawMessage(`{not json`)}}
	out, err := json.Marshal(tx)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"STX_real","custom":{"a":1}}`, string(out))

	out, err = json.Marshal(Ref{Extra: Extra{"cardnumber": json.RawMessage(`"9276"`)}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"cardnumber":"9276"}`, string(out), "extras on an otherwise empty object")
}

func TestCreateBodyOmitsUnsetFields(t *testing.T) {
	tx := SmartTransaction{
		Basket:     &Basket{Products: []Product{{ID: 1, Desc: "Gratisprobe", Quantity: 1, PriceOne: 0, Tax: 19}}},
		BasketInfo: &BasketInfo{Sum: 0, Currency: "EUR"},
		Idents:     []Ident{{Type: "card", Value: "9276004711001234"}},
	}
	out, err := json.Marshal(tx)
	require.NoError(t, err)
	assert.JSONEq(t, `{
	  "basket": {"products": [{"id": 1, "desc": "Gratisprobe", "quantity": 1, "priceOne": 0, "tax": 19}]},
	  "basket_info": {"sum": 0, "currency": "EUR"},
	  "idents": [{"type": "card", "value": "9276004711001234"}]
	}`, string(out), "zero money is sent, server-filled fields are not invented")
}

func TestFlexAcceptsStringsAndNumbers(t *testing.T) {
	cases := map[string]struct {
		in   string
		want Flex
		err  bool
	}{
		"string":  {`{"receipt_number":"1207"}`, "1207", false},
		"integer": {`{"receipt_number":1207}`, "1207", false},
		"epoch":   {`{"receipt_number":1732353302000}`, "1732353302000", false},
		"null":    {`{"receipt_number":null}`, "", false},
		"object":  {`{"receipt_number":{"a":1}}`, "", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var tx SmartTransaction
			err := json.Unmarshal([]byte(tc.in), &tx)
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, tx.ReceiptNumber)
		})
	}
}

func TestReceiptValueTolerance(t *testing.T) {
	var lines []ReceiptLine
	require.NoError(t, json.Unmarshal([]byte(`[
	  {"type":"textline","value":"just text"},
	  {"type":"textline","value":{"text":"x","decoration":"align_center"}},
	  {"type":"name-value","value":{"name":"Summe","value":3.48}}
	]`), &lines))
	assert.Equal(t, Flex("just text"), lines[0].Value.Text)
	assert.Equal(t, Decorations{"align_center"}, lines[1].Value.Decoration)
	assert.Equal(t, Flex("3.48"), lines[2].Value.Value)
}

// roundTrip decodes in into a T, encodes it again and requires the same JSON.
func roundTrip[T any](t *testing.T, in string) *T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(in), &v))
	out, err := json.Marshal(&v)
	require.NoError(t, err)
	assert.JSONEq(t, in, string(out))
	return &v
}

func TestEveryModelRoundTrips(t *testing.T) {
	t.Run("Checkin", func(t *testing.T) {
		v := roundTrip[Checkin](t, `{"object":"smart.checkins","id":"CKI_1","customerName":"Erika Müller","picture":"https:\/\/x.invalid\/p","created":"2026-11-23T09:00:00+01:00",
		  "account":{"object":"general.accounts","id":"ACC_1"},"customer":{"object":"loyalty.customers","id":"CUS_1","contact":{"forename":"Erika","surname":"Müller","address":{"street":"Hauptstr.","postal_code":"01896","city":"Pulsnitz","country":"DE"}}},
		  "merchantcard":{"object":"loyalty.merchantcards","id":"MCD_1","balance":0},"distance":12}`)
		assert.Equal(t, int64(0), *v.MerchantCard.Balance, "a zero balance is a value, not absent")
		assert.Equal(t, Flex("01896"), v.Customer.Contact.Address.PostalCode)
	})
	t.Run("MerchantCard", func(t *testing.T) {
		v := roundTrip[MerchantCard](t, `{"object":"loyalty.merchantcards","id":"MCD_1","merchant":{"object":"general.merchants","id":"MRC_1"},
		  "card":{"object":"loyalty.cards","id":"CRD_1","cardnumber":"9276004711001234"},"is_base_card":false,
		  "cardgroup":{"object":"loyalty.cardgroups","id":"CRG_1","display_name":"Stammkunden","stock_warn_limit":500},
		  "balance":1250,"cash_balance":1000,"bonus_balance":250,"points":42,"last_usage":"2026-11-20T18:00:00+01:00",
		  "stock_status":"inactive","lock_status":"unlocked","passcode":3,"future":[1,2]}`)
		assert.Equal(t, int64(1250), *v.Balance)
		assert.Equal(t, 3, *v.Passcode)
		assert.Equal(t, "9276004711001234", v.Card.CardNumber)
		assert.Nil(t, v.CreatedForStore)
	})
	t.Run("LoyaltyCustomer", func(t *testing.T) {
		roundTrip[LoyaltyCustomer](t, `{"object":"loyalty.customers","id":"CUS_1","note":"VIP","customernumber":"K-17","age":41,"days_until_birthday":0,
		  "additional_data":{"x":1},"contact":{"salutation":"Frau","dob":"1985-02-01T00:00:00+01:00","gender":"FEMALE"},"created":"2026-01-01T00:00:00+01:00","forename":"legacy"}`)
	})
	t.Run("PaymentContainer", func(t *testing.T) {
		v := roundTrip[PaymentContainer](t, `{"object":"payment.containers","id":"PCT_1","type":"bank_account",
		  "private":{"owner":"Max Mustermann","iban":"DE89370400440532013000"},"public":{"owner":"Max Mustermann","iban":"DE89370400440532013000","bic":"COBADEFFXXX","bankname":"Commerzbank"},
		  "customer":{"object":"payment.customers","id":"PCU_1","merchant_customer_id":"c-9"},"mandate":{"iban":"DE89370400440532013000","status":"active","sepa_mandate_id":"123"},
		  "created":"2026-11-23T10:00:00+01:00","assign":{"x":true}}`)
		assert.Equal(t, "COBADEFFXXX", v.Public.BIC)
	})
	t.Run("SecupayDebit shares the base", func(t *testing.T) {
		v := roundTrip[SecupayDebit](t, `{"object":"payment.secupaydebits","id":"PDB_1","amount":1999,"currency":"EUR","purpose":"Bestellung 17","order_id":"17",
		  "trans_id":"10023","status":"accepted","transaction_status":"2","customer":{"object":"payment.customers","id":"PCU_1"},
		  "basket":[{"item_type":"article","article_number":"3489","quantity":1,"name":"Kaffee","ean":"4051234567890","tax":"19","total":1999,"price":1999,"color":"red"}],
		  "experience":{"positiv":1,"negativ":0},"accrual":false,"redirect_url":{"url_success":"https:\/\/s","url_failure":"https:\/\/f","url_push":"https:\/\/p"},
		  "opt_data":{"language":"de_DE"},"payment_action":"sale","demo":true,"container":{"object":"payment.containers","id":"PCT_1"},"iframe_url":"https:\/\/i"}`)
		assert.Equal(t, int64(1999), v.Amount)
		assert.Equal(t, "PCT_1", v.Container.ID)
		assert.JSONEq(t, `"https://i"`, string(v.Extra["iframe_url"]))
		assert.JSONEq(t, `"red"`, string(v.Basket[0].Extra["color"]))
	})
	t.Run("SecupayPrepay", func(t *testing.T) {
		v := roundTrip[SecupayPrepay](t, `{"object":"payment.secupayprepays","id":"PPP_1","amount":500,"currency":"EUR","transfer_purpose":"TA 123",
		  "transfer_account":{"account_owner":"secupay AG","iban":"DE88300500000001747013","bic":"WELADEDDXXX","bankname":"Helaba"},"payment_action":"sale"}`)
		assert.Equal(t, "TA 123", v.TransferPurpose)
		assert.Equal(t, int64(500), v.Amount)
	})
	t.Run("GeneralStore", func(t *testing.T) {
		v := roundTrip[GeneralStore](t, `{"object":"general.stores","id":"STO_1","name":"Bäckerei Schmidt","source":"google",
		  "address_components":[{"long_name":"Pulsnitz","short_name":"Pulsnitz","types":["locality"]}],"geometry":{"lat":51.1834,"lon":14.0138},
		  "category":["bakery"],"photo":["https:\/\/a"],"photo_main":"https:\/\/b","has_beacon":false,
		  "open_hours":[{"open":{"day":1,"time":"0700"},"close":{"day":1,"time":"1800"}}],"open_now":true,"_checkin_status":"available","_balance":0}`)
		assert.Equal(t, "51.1834", v.Geometry.Lat.String())
		assert.JSONEq(t, `"available"`, string(v.Extra["_checkin_status"]))
	})
	t.Run("GeneralMerchant", func(t *testing.T) {
		roundTrip[GeneralMerchant](t, `{"object":"general.merchants","id":"MRC_1","name":"Demo","email":"m@example.invalid","metadata":{"a":"b"},"photo":[],"photo_main":"x"}`)
	})
	t.Run("DocumentUpload", func(t *testing.T) {
		v := roundTrip[DocumentUpload](t, `{"object":"document.uploads","id":"DUP_1","content":"SGVsbG8h","created":"2026-11-23T10:00:00+01:00","size":6}`)
		assert.Equal(t, int64(6), *v.Size)
	})
	t.Run("LoyaltyBonus", func(t *testing.T) {
		v := roundTrip[LoyaltyBonus](t, `{"missing_sum":150,"bonus_products":[{"id":9,"desc":"Gratis Keks","quantity":1,"priceOne":0,"tax":7}],"message":"fast geschafft"}`)
		assert.Equal(t, int64(150), *v.MissingSum)
	})
	t.Run("Ident with embedded objects", func(t *testing.T) {
		v := roundTrip[Ident](t, `{"object":"smart.idents","id":"smi_2","type":"checkin","name":"secucard Check-In","length":34,"prefix":"CKI_","valid":true,
		  "customer":{"object":"loyalty.customers","id":"CUS_1"},"merchantcard":{"object":"loyalty.merchantcards","id":"MCD_1","points":0}}`)
		assert.True(t, *v.Valid)
	})
}
