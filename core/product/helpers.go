package product

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// Resource names of the typed helpers.
const (
	ResSmartTransactions     = "smart.transactions"
	ResSmartIdents           = "smart.idents"
	ResSmartCheckins         = "smart.checkins"
	ResLoyaltyCards          = "loyalty.cards"
	ResLoyaltyCardGroups     = "loyalty.cardgroups"
	ResLoyaltyCustomers      = "loyalty.customers"
	ResLoyaltyMerchantCards  = "loyalty.merchantcards"
	ResPaymentCustomers      = "payment.customers"
	ResPaymentContainers     = "payment.containers"
	ResPaymentSecupayDebits  = "payment.secupaydebits"
	ResPaymentSecupayPrepays = "payment.secupayprepays"
	ResGeneralMerchants      = "general.merchants"
	ResGeneralStores         = "general.stores"
	ResDocumentUploads       = "document.uploads"
)

// List is one page of a typed list. Count is the server's total.
type List[T any] struct {
	Count    int    `json:"count"`
	Data     []T    `json:"data"`
	ScrollID string `json:"scroll_id,omitempty"`
}

// Typed gives typed get/list/create/update/delete on one product.resource
// over any api.Doer (the core client, a channel, a test fake).
type Typed[T any] struct {
	d    api.Doer
	name string
}

// NewTyped returns typed access to resource ("product.resource") with
// objects of type T.
func NewTyped[T any](d api.Doer, resource string) *Typed[T] {
	return &Typed[T]{d: d, name: resource}
}

// Name returns the resource name, e.g. "loyalty.customers".
func (r *Typed[T]) Name() string { return r.name }

// Get fetches one object.
func (r *Typed[T]) Get(ctx context.Context, id string) (*T, error) {
	if id == "" {
		return nil, errs.Invalid("id", "is required")
	}
	return call[T](ctx, r.d, &api.Request{Resource: r.name, Op: api.Get, ID: id})
}

// List fetches one page; q may be nil for the server's default page.
func (r *Typed[T]) List(ctx context.Context, q *api.Query) (*List[T], error) {
	return call[List[T]](ctx, r.d, &api.Request{Resource: r.name, Op: api.List, Query: q})
}

// Create creates v and returns the server's object.
func (r *Typed[T]) Create(ctx context.Context, v *T) (*T, error) {
	data, err := encodeBody(r.name, v)
	if err != nil {
		return nil, err
	}
	return call[T](ctx, r.d, &api.Request{Resource: r.name, Op: api.Create, Data: data})
}

// Update replaces object id with v and returns the server's object.
func (r *Typed[T]) Update(ctx context.Context, id string, v *T) (*T, error) {
	if id == "" {
		return nil, errs.Invalid("id", "is required")
	}
	data, err := encodeBody(r.name, v)
	if err != nil {
		return nil, err
	}
	return call[T](ctx, r.d, &api.Request{Resource: r.name, Op: api.Update, ID: id, Data: data})
}

// Delete deletes object id. The answer (an array in the successor API) is
// not interpreted.
func (r *Typed[T]) Delete(ctx context.Context, id string) error {
	if id == "" {
		return errs.Invalid("id", "is required")
	}
	_, err := do(ctx, r.d, &api.Request{Resource: r.name, Op: api.Delete, ID: id})
	return err
}

// Typed access to the other modelled resources.
func NewLoyaltyCards(d api.Doer) *Typed[LoyaltyCard] {
	return NewTyped[LoyaltyCard](d, ResLoyaltyCards)
}
func NewLoyaltyCardGroups(d api.Doer) *Typed[CardGroup] {
	return NewTyped[CardGroup](d, ResLoyaltyCardGroups)
}
func NewLoyaltyCustomers(d api.Doer) *Typed[LoyaltyCustomer] {
	return NewTyped[LoyaltyCustomer](d, ResLoyaltyCustomers)
}
func NewPaymentCustomers(d api.Doer) *Typed[PaymentCustomer] {
	return NewTyped[PaymentCustomer](d, ResPaymentCustomers)
}
func NewPaymentContainers(d api.Doer) *Typed[PaymentContainer] {
	return NewTyped[PaymentContainer](d, ResPaymentContainers)
}
func NewSecupayDebits(d api.Doer) *Typed[SecupayDebit] {
	return NewTyped[SecupayDebit](d, ResPaymentSecupayDebits)
}
func NewSecupayPrepays(d api.Doer) *Typed[SecupayPrepay] {
	return NewTyped[SecupayPrepay](d, ResPaymentSecupayPrepays)
}
func NewGeneralMerchants(d api.Doer) *Typed[GeneralMerchant] {
	return NewTyped[GeneralMerchant](d, ResGeneralMerchants)
}
func NewGeneralStores(d api.Doer) *Typed[GeneralStore] {
	return NewTyped[GeneralStore](d, ResGeneralStores)
}
func NewDocumentUploads(d api.Doer) *Typed[DocumentUpload] {
	return NewTyped[DocumentUpload](d, ResDocumentUploads)
}

// SmartTransactions is the POS core: create a basket, start the payment on
// the terminal, cancel, and the terminal's daily jobs.
type SmartTransactions struct {
	d api.Doer
}

// NewSmartTransactions returns the smart.transactions helper.
func NewSmartTransactions(d api.Doer) *SmartTransactions { return &SmartTransactions{d: d} }

// Create validates t's structure and creates it (status "created").
func (s *SmartTransactions) Create(ctx context.Context, t *SmartTransaction) (*SmartTransaction, error) {
	if t == nil {
		return nil, errs.Invalid("transaction", "is required")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	data, err := encodeBody(ResSmartTransactions, t)
	if err != nil {
		return nil, err
	}
	return call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Create, Data: data})
}

// Get fetches a transaction.
func (s *SmartTransactions) Get(ctx context.Context, id string) (*SmartTransaction, error) {
	if id == "" {
		return nil, errs.Invalid("id", "is required")
	}
	return call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Get, ID: id})
}

// List fetches one page of transactions; q may be nil.
func (s *SmartTransactions) List(ctx context.Context, q *api.Query) (*List[SmartTransaction], error) {
	return NewTyped[SmartTransaction](s.d, ResSmartTransactions).List(ctx, q)
}

// Update validates t and replaces the transaction t.ID with it.
func (s *SmartTransactions) Update(ctx context.Context, t *SmartTransaction) (*SmartTransaction, error) {
	if t == nil {
		return nil, errs.Invalid("transaction", "is required")
	}
	if t.ID == "" {
		return nil, errs.Invalid("id", "is required to update a transaction")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	data, err := encodeBody(ResSmartTransactions, t)
	if err != nil {
		return nil, err
	}
	return call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Update, ID: t.ID, Data: data})
}

// Start runs the payment of transaction id with paymentType ("demo", "cash",
// "auto", "cashless", "loyalty", ...; the server decides which it accepts)
// and returns the final transaction with its receipt. The terminal may take
// minutes: give ctx a deadline that allows for it.
//
// A payment that ended without being made (failed, declined, aborted, ...)
// returns an errs.Declined error together with the transaction as it ended.
func (s *SmartTransactions) Start(ctx context.Context, id, paymentType string) (*SmartTransaction, error) {
	if id == "" {
		return nil, errs.Invalid("id", "is required")
	}
	if err := segment("paymentType", paymentType); err != nil {
		return nil, err
	}
	tx, err := call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Execute, ID: id, Action: "start", Arg: paymentType})
	if e := errs.As(err); e != nil && e.Kind == errs.Declined && len(e.Transaction) > 0 {
		// The declined transaction comes back too: its receipt is printed.
		var declined SmartTransaction
		if json.Unmarshal(e.Transaction, &declined) == nil {
			return &declined, err
		}
	}
	return tx, err
}

// Cancel cancels transaction id.
func (s *SmartTransactions) Cancel(ctx context.Context, id string) (*SmartTransaction, error) {
	if id == "" {
		return nil, errs.Invalid("id", "is required")
	}
	return call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Execute, ID: id, Action: "cancel", Data: javaActionBody})
}

// Diagnosis runs the terminal's diagnosis.
func (s *SmartTransactions) Diagnosis(ctx context.Context) (*SmartTransaction, error) {
	return call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Execute, Action: "Diagnosis", Data: javaActionBody})
}

// EndOfDay runs the terminal's end-of-day closing ("Kassenschnitt").
func (s *SmartTransactions) EndOfDay(ctx context.Context) (*SmartTransaction, error) {
	return call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Execute, Action: "EndofDay", Data: javaActionBody})
}

// CancelTrx cancels a completed payment by its receipt number.
func (s *SmartTransactions) CancelTrx(ctx context.Context, receiptNumber string) (*SmartTransaction, error) {
	if err := segment("receiptNumber", receiptNumber); err != nil {
		return nil, err
	}
	return call[SmartTransaction](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Execute, ID: receiptNumber, Action: "cancelTrx", Data: javaActionBody})
}

// PreTransaction asks which loyalty bonus products the basket of transaction
// id qualifies for.
func (s *SmartTransactions) PreTransaction(ctx context.Context, id string) (*LoyaltyBonus, error) {
	if id == "" {
		return nil, errs.Invalid("id", "is required")
	}
	return call[LoyaltyBonus](ctx, s.d, &api.Request{Resource: ResSmartTransactions, Op: api.Execute, ID: id, Action: "preTransaction", Data: javaActionBody})
}

// Validate checks the transaction's structure before it is sent: the basket
// total is not negative, a currency is three letters, and every bundle child
// names an existing, unambiguous parent without cycles. It deliberately does
// not compare basket_info.sum with the products: discounts exist and the
// server is the authority on amounts.
func (t *SmartTransaction) Validate() error {
	if bi := t.BasketInfo; bi != nil {
		if bi.Sum < 0 {
			return errs.Invalid("basket_info.sum", "must not be negative, got %d", bi.Sum)
		}
		if bi.Currency != "" && !isCurrencyCode(bi.Currency) {
			return errs.Invalid("basket_info.currency", `must be a three-letter ISO 4217 code such as "EUR", got %q`, bi.Currency)
		}
	}
	if t.Basket == nil {
		return nil
	}
	products := t.Basket.Products
	first := make(map[int]int, len(products)) // id -> index of its first product
	shared := map[int]bool{}
	for i, p := range products {
		if _, dup := first[p.ID]; dup {
			shared[p.ID] = true
			continue
		}
		first[p.ID] = i
	}
	for i, p := range products {
		if p.Parent == nil {
			continue
		}
		field := fmt.Sprintf("basket.products[%d].parent", i)
		parent := *p.Parent
		switch _, ok := first[parent]; {
		case parent == p.ID:
			return errs.Invalid(field, "refers to the product itself (id %d)", parent)
		case !ok:
			return errs.Invalid(field, "refers to id %d, which no product in the basket has", parent)
		case shared[parent]:
			return errs.Invalid(field, "refers to id %d, which several products in the basket share", parent)
		}
		// Walk up the parents; more steps than products means a cycle.
		at := parent
		for steps := 0; ; steps++ {
			if steps > len(products) {
				return errs.Invalid(field, "forms a cycle of parents")
			}
			up := products[first[at]].Parent
			if up == nil {
				break
			}
			at = *up
			if _, ok := first[at]; !ok {
				break // reported when that product's own parent is checked
			}
		}
	}
	return nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// SmartIdents lists the identification types a till accepts (loyalty card,
// check-in) and reads an ident from the reader.
type SmartIdents struct {
	d api.Doer
}

// NewSmartIdents returns the smart.idents helper.
func NewSmartIdents(d api.Doer) *SmartIdents { return &SmartIdents{d: d} }

// List returns every ident.
func (s *SmartIdents) List(ctx context.Context) ([]Ident, error) {
	l, err := NewTyped[Ident](s.d, ResSmartIdents).List(ctx, nil)
	if err != nil {
		return nil, err
	}
	return l.Data, nil
}

// Read reads ident id (e.g. from the card reader).
func (s *SmartIdents) Read(ctx context.Context, id string) (*Ident, error) {
	if id == "" {
		return nil, errs.Invalid("id", "is required")
	}
	return call[Ident](ctx, s.d, &api.Request{Resource: ResSmartIdents, Op: api.Execute, ID: id, Action: "read"})
}

// SmartCheckins lists the customers checked in at the store.
type SmartCheckins struct {
	d api.Doer
}

// NewSmartCheckins returns the smart.checkins helper.
func NewSmartCheckins(d api.Doer) *SmartCheckins { return &SmartCheckins{d: d} }

// List returns the current check-ins.
func (s *SmartCheckins) List(ctx context.Context) ([]Checkin, error) {
	l, err := NewTyped[Checkin](s.d, ResSmartCheckins).List(ctx, nil)
	if err != nil {
		return nil, err
	}
	return l.Data, nil
}

// LoyaltyMerchantCards gives typed access to loyalty.merchantcards and the
// card checks a till runs before charging a card.
type LoyaltyMerchantCards struct {
	*Typed[MerchantCard]
}

// NewLoyaltyMerchantCards returns the loyalty.merchantcards helper.
func NewLoyaltyMerchantCards(d api.Doer) *LoyaltyMerchantCards {
	return &LoyaltyMerchantCards{NewTyped[MerchantCard](d, ResLoyaltyMerchantCards)}
}

// CheckCsc reports whether csc is the card's security code.
func (m *LoyaltyMerchantCards) CheckCsc(ctx context.Context, cardnumber, csc string) (bool, error) {
	if strings.TrimSpace(cardnumber) == "" {
		return false, errs.Invalid("cardnumber", "is required")
	}
	if strings.TrimSpace(csc) == "" {
		return false, errs.Invalid("csc", "is required")
	}
	data, err := json.Marshal(struct {
		CardNumber string `json:"cardnumber"`
		CSC        string `json:"csc"`
	}{cardnumber, csc})
	if err != nil {
		return false, errs.Wrap(errs.Internal, "loyalty.merchantcards.execute.CheckCsc", err, "encoding the request failed")
	}
	return callBool(ctx, m.d, &api.Request{Resource: ResLoyaltyMerchantCards, Op: api.Execute, ID: "me", Action: "CheckCsc", Data: data})
}

// CheckPasscode reports whether pin is the card's passcode.
func (m *LoyaltyMerchantCards) CheckPasscode(ctx context.Context, cardnumber, pin string) (bool, error) {
	if strings.TrimSpace(cardnumber) == "" {
		return false, errs.Invalid("cardnumber", "is required")
	}
	if strings.TrimSpace(pin) == "" {
		return false, errs.Invalid("pin", "is required")
	}
	data, err := json.Marshal(struct {
		CardNumber string `json:"cardnumber"`
		PIN        string `json:"pin"`
	}{cardnumber, pin})
	if err != nil {
		return false, errs.Wrap(errs.Internal, "loyalty.merchantcards.execute.CheckPasscode", err, "encoding the request failed")
	}
	return callBool(ctx, m.d, &api.Request{Resource: ResLoyaltyMerchantCards, Op: api.Execute, ID: "me", Action: "CheckPasscode", Data: data})
}

// segment checks a helper argument that becomes a URL path segment.
func segment(field, v string) error {
	if v == "" {
		return errs.Invalid(field, "is required")
	}
	if strings.ContainsAny(v, "/?# \t\r\n") {
		return errs.Invalid(field, `must not contain "/", "?", "#" or spaces, got %q`, v)
	}
	return nil
}

// encodeBody marshals a model for a request body.
func encodeBody(resource string, v any) (json.RawMessage, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, errs.Wrap(errs.InvalidArgument, resource, err, "the object cannot be encoded as JSON: %v", err)
	}
	if bytes.Equal(data, []byte("null")) {
		return nil, errs.Invalid("data", "is required")
	}
	return data, nil
}

// do runs req and guarantees an *errs.Error on failure.
func do(ctx context.Context, d api.Doer, req *api.Request) (json.RawMessage, error) {
	if d == nil {
		return nil, errs.New(errs.Internal, req.Name(), "no client to send the request with (nil api.Doer)")
	}
	raw, err := d.Do(ctx, req)
	if err != nil {
		return nil, errs.As(err)
	}
	return raw, nil
}

// call runs req and decodes the answer into a T.
func call[T any](ctx context.Context, d api.Doer, req *api.Request) (*T, error) {
	raw, err := do(ctx, d, req)
	if err != nil {
		return nil, err
	}
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, unreadable(req.Name(), nil, "the server sent no object")
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, unreadable(req.Name(), err, "the answer does not fit the %T model: %v", v, err)
	}
	return &v, nil
}

// callBool runs req and interprets its {"result": ...} answer.
func callBool(ctx context.Context, d api.Doer, req *api.Request) (bool, error) {
	raw, err := do(ctx, d, req)
	if err != nil {
		return false, err
	}
	ok, err := api.ResultBool(raw)
	if err != nil {
		return false, unreadable(req.Name(), err, "%v", err)
	}
	return ok, nil
}

// unreadable reports an answer that arrived but does not fit the model: the
// call has taken effect, so it is not retryable (the zero value; only
// call.Finish ever sets retryable).
func unreadable(op string, cause error, format string, args ...any) *errs.Error {
	return errs.Wrap(errs.Network, op, cause, "unreadable answer: "+format, args...)
}
