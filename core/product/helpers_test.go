package product

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// recorder is an api.Doer that records requests and answers with answer/err.
type recorder struct {
	reqs   []api.Request
	answer string
	err    error
}

func (r *recorder) Do(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	r.reqs = append(r.reqs, *req)
	if r.err != nil {
		return nil, r.err
	}
	return json.RawMessage(r.answer), nil
}

func intp(n int) *int { return &n }

func TestHelperRequestShapes(t *testing.T) {
	tx := &SmartTransaction{
		ID:             "STX_1",
		MerchantRef:    "Kasse 3",
		Basket:         &Basket{Products: []Product{{ID: 1, Desc: "Kaffee", Quantity: 1, PriceOne: 199, Tax: 19}}},
		BasketInfo:     &BasketInfo{Sum: 199, Currency: "EUR"},
		TransactionRef: "Bon 1",
	}
	const txBody = `{"id":"STX_1","merchantRef":"Kasse 3","transactionRef":"Bon 1","basket":{"products":[{"id":1,"desc":"Kaffee","quantity":1,"priceOne":199,"tax":19}]},"basket_info":{"sum":199,"currency":"EUR"}}`
	cases := []struct {
		name string
		call func(ctx context.Context, d api.Doer) error
		want api.Request
		data string
	}{
		{"create", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).Create(ctx, tx)
			return err
		},
			api.Request{Resource: "smart.transactions", Op: api.Create}, txBody},
		{"get", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).Get(ctx, "STX_1")
			return err
		},
			api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"}, ""},
		{"update", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).Update(ctx, tx)
			return err
		},
			api.Request{Resource: "smart.transactions", Op: api.Update, ID: "STX_1"}, txBody},
		{"start", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).Start(ctx, "STX_1", "demo")
			return err
		}, api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"}, ""},
		{"cancel", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).Cancel(ctx, "STX_1")
			return err
		},
			api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "cancel"}, `"smart.transactions"`},
		{"diagnosis", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).Diagnosis(ctx)
			return err
		},
			api.Request{Resource: "smart.transactions", Op: api.Execute, Action: "Diagnosis"}, `"smart.transactions"`},
		{"end of day", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).EndOfDay(ctx)
			return err
		},
			api.Request{Resource: "smart.transactions", Op: api.Execute, Action: "EndofDay"}, `"smart.transactions"`},
		{"cancelTrx", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).CancelTrx(ctx, "1207")
			return err
		},
			api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "1207", Action: "cancelTrx"}, `"smart.transactions"`},
		{"preTransaction", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartTransactions(d).PreTransaction(ctx, "STX_1")
			return err
		}, api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "preTransaction"}, `"smart.transactions"`},
		{"idents list", func(ctx context.Context, d api.Doer) error { _, err := NewSmartIdents(d).List(ctx); return err },
			api.Request{Resource: "smart.idents", Op: api.List}, ""},
		{"ident read", func(ctx context.Context, d api.Doer) error {
			_, err := NewSmartIdents(d).Read(ctx, "smi_1")
			return err
		},
			api.Request{Resource: "smart.idents", Op: api.Execute, ID: "smi_1", Action: "read"}, ""},
		{"checkins list", func(ctx context.Context, d api.Doer) error { _, err := NewSmartCheckins(d).List(ctx); return err },
			api.Request{Resource: "smart.checkins", Op: api.List}, ""},
		{"check csc", func(ctx context.Context, d api.Doer) error {
			_, err := NewLoyaltyMerchantCards(d).CheckCsc(ctx, "9276004711001234", "123")
			return err
		}, api.Request{Resource: "loyalty.merchantcards", Op: api.Execute, ID: "me", Action: "CheckCsc"}, `{"cardnumber":"9276004711001234","csc":"123"}`},
		{"check passcode", func(ctx context.Context, d api.Doer) error {
			_, err := NewLoyaltyMerchantCards(d).CheckPasscode(ctx, "9276004711001234", "4711")
			return err
		}, api.Request{Resource: "loyalty.merchantcards", Op: api.Execute, ID: "me", Action: "CheckPasscode"}, `{"cardnumber":"9276004711001234","pin":"4711"}`},
		{"typed list with query", func(ctx context.Context, d api.Doer) error {
			_, err := NewLoyaltyCustomers(d).List(ctx, &api.Query{Count: intp(5)})
			return err
		}, api.Request{Resource: "loyalty.customers", Op: api.List, Query: &api.Query{Count: intp(5)}}, ""},
		{"typed delete", func(ctx context.Context, d api.Doer) error { return NewPaymentCustomers(d).Delete(ctx, "PCU_1") },
			api.Request{Resource: "payment.customers", Op: api.Delete, ID: "PCU_1"}, ""},
		{"typed update", func(ctx context.Context, d api.Doer) error {
			_, err := NewPaymentContainers(d).Update(ctx, "PCT_1", &PaymentContainer{Type: "bank_account"})
			return err
		}, api.Request{Resource: "payment.containers", Op: api.Update, ID: "PCT_1"}, `{"type":"bank_account"}`},
		{"typed create", func(ctx context.Context, d api.Doer) error {
			_, err := NewDocumentUploads(d).Create(ctx, &DocumentUpload{Content: "SGVsbG8h"})
			return err
		}, api.Request{Resource: "document.uploads", Op: api.Create}, `{"content":"SGVsbG8h"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: `{"object":"x","id":"X_1","result":true,"count":0,"data":[]}`}
			require.NoError(t, tc.call(context.Background(), rec))
			require.Len(t, rec.reqs, 1)
			got := rec.reqs[0]
			if tc.data == "" {
				assert.Empty(t, got.Data)
			} else {
				assert.JSONEq(t, tc.data, string(got.Data))
			}
			got.Data = nil
			assert.Equal(t, tc.want, got)
			assert.NoError(t, got.Validate(), "helpers build requests the channels accept")
		})
	}
}

func TestHelperDecodesAnswers(t *testing.T) {
	ctx := context.Background()
	t.Run("start returns the final transaction with its receipt", func(t *testing.T) {
		rec := &recorder{answer: `{"object":"smart.transactions","id":"STX_1","status":"ok","payment_method":"demo",
		  "receipt":[{"type":"textline","value":{"text":"Zahlung erfolgt"}}],"receipt_number":1207}`}
		tx, err := NewSmartTransactions(rec).Start(ctx, "STX_1", "demo")
		require.NoError(t, err)
		assert.Equal(t, "ok", tx.Status)
		assert.Equal(t, Flex("1207"), tx.ReceiptNumber)
		assert.Equal(t, "Zahlung erfolgt", FormatReceipt(tx.Receipt, 0))
	})
	t.Run("idents list", func(t *testing.T) {
		rec := &recorder{answer: `{"count":3,"data":[{"id":"smi_1","type":"card","prefix":"9276","length":16},{"id":"smi_2","type":"checkin"},{"id":"smi_3","type":"checkin"}]}`}
		ids, err := NewSmartIdents(rec).List(ctx)
		require.NoError(t, err)
		require.Len(t, ids, 3)
		assert.Equal(t, "9276", ids[0].Prefix)
		assert.Equal(t, 16, *ids[0].Length)
	})
	t.Run("empty checkins", func(t *testing.T) {
		rec := &recorder{answer: `{"count":0,"data":null}`}
		cs, err := NewSmartCheckins(rec).List(ctx)
		require.NoError(t, err)
		assert.Empty(t, cs)
	})
	t.Run("pre transaction", func(t *testing.T) {
		rec := &recorder{answer: `{"missing_sum":150,"bonus_products":[{"id":9,"desc":"Keks","quantity":1,"priceOne":0,"tax":7}]}`}
		b, err := NewSmartTransactions(rec).PreTransaction(ctx, "STX_1")
		require.NoError(t, err)
		assert.Equal(t, int64(150), *b.MissingSum)
		assert.Equal(t, "Keks", b.BonusProducts[0].Desc)
	})
	boolCases := []struct {
		answer string
		want   bool
	}{
		{`{"result":true}`, true}, {`{"result":"true"}`, true}, {`{"result":false}`, false}, {`{"result":"no"}`, false},
	}
	for _, bc := range boolCases {
		t.Run("check csc "+bc.answer, func(t *testing.T) {
			ok, err := NewLoyaltyMerchantCards(&recorder{answer: bc.answer}).CheckCsc(ctx, "9276004711001234", "123")
			require.NoError(t, err)
			assert.Equal(t, bc.want, ok)
		})
	}
}

func TestHelperAnswerErrors(t *testing.T) {
	ctx := context.Background()
	apiErr := &errs.Error{Kind: errs.API, Status: 404, ErrorName: "ProductNotFoundException", Message: "not found"}
	cases := []struct {
		name string
		rec  *recorder
		call func(d api.Doer) error
		kind errs.Kind
	}{
		{"channel error passes through", &recorder{err: apiErr},
			func(d api.Doer) error { _, err := NewSmartTransactions(d).Get(ctx, "STX_1"); return err }, errs.API},
		{"foreign error is classified", &recorder{err: context.DeadlineExceeded},
			func(d api.Doer) error { _, err := NewSmartTransactions(d).Get(ctx, "STX_1"); return err }, errs.Timeout},
		{"null answer", &recorder{answer: `null`},
			func(d api.Doer) error { _, err := NewSmartTransactions(d).Start(ctx, "STX_1", "cash"); return err }, errs.Network},
		{"answer of the wrong shape", &recorder{answer: `{"basket_info":{"sum":"lots"}}`},
			func(d api.Doer) error { _, err := NewSmartTransactions(d).Get(ctx, "STX_1"); return err }, errs.Network},
		{"bool answer without result", &recorder{answer: `[1]`},
			func(d api.Doer) error {
				_, err := NewLoyaltyMerchantCards(d).CheckPasscode(ctx, "9276", "1")
				return err
			}, errs.Network},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.rec)
			var e *errs.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.kind, e.Kind)
			if tc.kind == errs.Network {
				assert.Contains(t, e.Message, "unreadable answer")
				assert.False(t, e.Retryable, "the call may have taken effect")
			}
		})
	}
	var e *errs.Error
	_, err := NewSmartTransactions(&recorder{err: apiErr}).Get(ctx, "STX_1")
	require.ErrorAs(t, err, &e)
	assert.Same(t, apiErr, e)
	assert.True(t, errors.Is(err, &errs.Error{Kind: errs.API}))
}

func TestHelperInputValidation(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		call  func(d api.Doer) error
		field string
	}{
		{"create nil", func(d api.Doer) error { _, err := NewSmartTransactions(d).Create(ctx, nil); return err }, "transaction"},
		{"update without id", func(d api.Doer) error { _, err := NewSmartTransactions(d).Update(ctx, &SmartTransaction{}); return err }, "id"},
		{"get empty id", func(d api.Doer) error { _, err := NewSmartTransactions(d).Get(ctx, ""); return err }, "id"},
		{"start without type", func(d api.Doer) error { _, err := NewSmartTransactions(d).Start(ctx, "STX_1", ""); return err }, "paymentType"},
		{"start type with slash", func(d api.Doer) error { _, err := NewSmartTransactions(d).Start(ctx, "STX_1", "cash/x"); return err }, "paymentType"},
		{"cancelTrx empty", func(d api.Doer) error { _, err := NewSmartTransactions(d).CancelTrx(ctx, ""); return err }, "receiptNumber"},
		{"read empty id", func(d api.Doer) error { _, err := NewSmartIdents(d).Read(ctx, ""); return err }, "id"},
		{"csc without card", func(d api.Doer) error { _, err := NewLoyaltyMerchantCards(d).CheckCsc(ctx, " ", "123"); return err }, "cardnumber"},
		{"csc empty", func(d api.Doer) error { _, err := NewLoyaltyMerchantCards(d).CheckCsc(ctx, "9276", ""); return err }, "csc"},
		{"pin empty", func(d api.Doer) error {
			_, err := NewLoyaltyMerchantCards(d).CheckPasscode(ctx, "9276", "")
			return err
		}, "pin"},
		{"typed delete empty", func(d api.Doer) error { return NewPaymentCustomers(d).Delete(ctx, "") }, "id"},
		{"typed create nil", func(d api.Doer) error { _, err := NewPaymentCustomers(d).Create(ctx, nil); return err }, "data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: `{}`}
			err := tc.call(rec)
			var e *errs.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, tc.field, e.Field)
			assert.Empty(t, rec.reqs, "nothing is sent")
			assert.NotContains(t, e.Error(), "123", "no card data in messages")
		})
	}
}

func TestBasketValidation(t *testing.T) {
	p := func(id int, parent *int) Product {
		return Product{ID: id, Parent: parent, Quantity: 1, PriceOne: 100, Tax: 19}
	}
	cases := []struct {
		name  string
		tx    SmartTransaction
		field string // "" = valid
	}{
		{"bundle with parent", SmartTransaction{Basket: &Basket{Products: []Product{p(1, nil), p(2, intp(1)), p(3, intp(1))}}}, ""},
		{"sum differs from products (discounts)", SmartTransaction{Basket: &Basket{Products: []Product{p(1, nil)}}, BasketInfo: &BasketInfo{Sum: 50, Currency: "EUR"}}, ""},
		{"zero sum", SmartTransaction{BasketInfo: &BasketInfo{Sum: 0}}, ""},
		{"no basket", SmartTransaction{}, ""},
		{"negative sum", SmartTransaction{BasketInfo: &BasketInfo{Sum: -1, Currency: "EUR"}}, "basket_info.sum"},
		{"bad currency", SmartTransaction{BasketInfo: &BasketInfo{Sum: 1, Currency: "EURO"}}, "basket_info.currency"},
		{"unknown parent", SmartTransaction{Basket: &Basket{Products: []Product{p(1, nil), p(2, intp(7))}}}, "basket.products[1].parent"},
		{"self parent", SmartTransaction{Basket: &Basket{Products: []Product{p(1, intp(1))}}}, "basket.products[0].parent"},
		{"ambiguous parent", SmartTransaction{Basket: &Basket{Products: []Product{p(1, nil), p(1, nil), p(2, intp(1))}}}, "basket.products[2].parent"},
		{"cycle", SmartTransaction{Basket: &Basket{Products: []Product{p(1, intp(2)), p(2, intp(1))}}}, "basket.products[0].parent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: `{"object":"smart.transactions","id":"STX_1","status":"created"}`}
			_, err := NewSmartTransactions(rec).Create(context.Background(), &tc.tx)
			if tc.field == "" {
				require.NoError(t, err)
				assert.Len(t, rec.reqs, 1)
				return
			}
			var e *errs.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, tc.field, e.Field)
			assert.Empty(t, rec.reqs, "an invalid basket is not sent")
		})
	}
}
