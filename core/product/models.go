package product

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Typed models of the POS core (spec §7). They are faithful, not exhaustive:
// every model keeps the members it does not name in Extra and writes them
// back, so an object fetched, changed and sent back loses nothing.
//
// Conventions:
//   - Money is int64 minor units (cents).
//   - Fields a client sends and for which zero is meaningful (priceOne,
//     quantity, basket_info.sum, amount) are values and always encoded.
//   - Numbers and booleans only the server fills are pointers: nil means the
//     server did not send them, which is not the same as 0 or false.
//   - Slices use omitzero: nil is left out, an empty array round-trips.
//   - Timestamps and scalars the SDKs disagree on are Flex.

// Extra holds the JSON members of an object that its Go model does not name.
type Extra map[string]json.RawMessage

// knownKeys caches the JSON names a struct type declares, including those of
// embedded structs.
var knownKeys sync.Map // reflect.Type -> map[string]bool

func keysOf(t reflect.Type) map[string]bool {
	if v, ok := knownKeys.Load(t); ok {
		return v.(map[string]bool)
	}
	keys := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k := range keysOf(f.Type) {
				keys[k] = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys[name] = true
	}
	knownKeys.Store(t, keys)
	return keys
}

// decodeKeep unmarshals b into *plain (a method-less copy of a model's type)
// and returns the members plain does not declare.
func decodeKeep[P any](b []byte, plain *P) (Extra, error) {
	if err := json.Unmarshal(b, plain); err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil || all == nil {
		return nil, err // null: nothing to keep
	}
	known := keysOf(reflect.TypeOf(plain).Elem())
	var extra Extra
	for k, v := range all {
		if known[k] {
			continue
		}
		if extra == nil {
			extra = Extra{}
		}
		extra[k] = v
	}
	return extra, nil
}

// encodeKeep marshals plain and appends the extra members that do not clash
// with a modelled one (sorted, for stable output).
func encodeKeep(plain any, extra Extra) ([]byte, error) {
	b, err := json.Marshal(plain)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	known := keysOf(reflect.TypeOf(plain))
	names := make([]string, 0, len(extra))
	for k, v := range extra {
		// A hand-set value that is not JSON cannot be sent; json.Marshal of
		// the model reports it like any other bad RawMessage.
		if !known[k] && json.Valid(v) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return b, nil
	}
	sort.Strings(names)
	var out bytes.Buffer
	out.Write(b[:len(b)-1]) // without the closing brace
	for i, k := range names {
		if i > 0 || len(b) > 2 {
			out.WriteByte(',')
		}
		out.WriteString(strconv.Quote(k))
		out.WriteByte(':')
		out.Write(bytes.TrimSpace(extra[k]))
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// Flex is a scalar the API sends sometimes as a string and sometimes as a
// number: receipt_number is a string in Java/.NET and an integer in the
// successor API; timestamps are strings in answers but epoch milliseconds in
// Java requests. It holds the text and encodes as a JSON string.
type Flex string

// UnmarshalJSON accepts a string, a number, a boolean or null.
func (f *Flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = Flex(s)
	case b[0] == '{' || b[0] == '[':
		return &json.UnmarshalTypeError{Value: "object or array", Type: reflect.TypeOf(*f)}
	default:
		*f = Flex(b)
	}
	return nil
}

// String returns the text.
func (f Flex) String() string { return string(f) }

// Ref is a reference stub {object, id}; embedded extras (a card's cardnumber)
// are kept in Extra.
type Ref struct {
	Object string `json:"object,omitempty"`
	ID     string `json:"id,omitempty"`
	Extra  Extra  `json:"-"`
}

func (v *Ref) UnmarshalJSON(b []byte) error {
	type plain Ref
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Ref(p), x
	return err
}

func (v Ref) MarshalJSON() ([]byte, error) {
	type plain Ref
	return encodeKeep(plain(v), v.Extra)
}

// SmartTransaction is a smart.transactions object (spec §7.1).
type SmartTransaction struct {
	Object               string          `json:"object,omitempty"`
	ID                   string          `json:"id,omitempty"`
	Status               string          `json:"status,omitempty"` // created, ok, canceled/cancelled, failed, ...
	Created              Flex            `json:"created,omitempty"`
	Updated              Flex            `json:"updated,omitempty"`
	MerchantRef          string          `json:"merchantRef,omitempty"`
	TransactionRef       string          `json:"transactionRef,omitempty"`
	Basket               *Basket         `json:"basket,omitempty"`
	BasketInfo           *BasketInfo     `json:"basket_info,omitempty"`
	Idents               []Ident         `json:"idents,omitzero"`
	DeviceSource         *Ref            `json:"device_source,omitempty"`
	DeviceDestination    *Ref            `json:"device_destination,omitempty"`
	PaymentMethod        string          `json:"payment_method,omitempty"`
	Receipt              []ReceiptLine   `json:"receipt,omitzero"`
	ReceiptMerchant      []ReceiptLine   `json:"receipt_merchant,omitzero"`
	ReceiptMerchantPrint *bool           `json:"receipt_merchant_print,omitempty"`
	ReceiptNumber        Flex            `json:"receipt_number,omitempty"`
	Error                string          `json:"error,omitempty"`
	PrepaidSales         json.RawMessage `json:"prepaid_sales,omitempty"` // array (Java) or object (successor)
	Extra                Extra           `json:"-"`
}

func (v *SmartTransaction) UnmarshalJSON(b []byte) error {
	type plain SmartTransaction
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = SmartTransaction(p), x
	return err
}

func (v SmartTransaction) MarshalJSON() ([]byte, error) {
	type plain SmartTransaction
	return encodeKeep(plain(v), v.Extra)
}

// Basket is a smart transaction's basket.
type Basket struct {
	Products []Product       `json:"products,omitzero"`
	Texts    json.RawMessage `json:"texts,omitempty"` // recorded only as []; shape unknown
	Type     string          `json:"type,omitempty"`  // PHP
	Extra    Extra           `json:"-"`
}

func (v *Basket) UnmarshalJSON(b []byte) error {
	type plain Basket
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Basket(p), x
	return err
}

func (v Basket) MarshalJSON() ([]byte, error) {
	type plain Basket
	return encodeKeep(plain(v), v.Extra)
}

// BasketInfo is the basket's total.
type BasketInfo struct {
	Sum      int64  `json:"sum"` // cents
	Currency string `json:"currency,omitempty"`
	Extra    Extra  `json:"-"`
}

func (v *BasketInfo) UnmarshalJSON(b []byte) error {
	type plain BasketInfo
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = BasketInfo(p), x
	return err
}

func (v BasketInfo) MarshalJSON() ([]byte, error) {
	type plain BasketInfo
	return encodeKeep(plain(v), v.Extra)
}

// Product is a basket item. A bundle child names its parent's ID.
type Product struct {
	ID            int            `json:"id"`
	Parent        *int           `json:"parent,omitempty"`
	ArticleNumber string         `json:"articleNumber,omitempty"`
	SerialNumber  string         `json:"serialNumber,omitempty"`
	EAN           string         `json:"ean,omitempty"`
	Desc          string         `json:"desc,omitempty"`
	Quantity      float64        `json:"quantity"` // Java sends a decimal
	PriceOne      int64          `json:"priceOne"` // cents
	Tax           float64        `json:"tax"`      // percent
	Group         []ProductGroup `json:"group,omitzero"`
	ItemType      string         `json:"item_type,omitempty"` // PHP/successor: article, shipping, coupon, ...
	Extra         Extra          `json:"-"`
}

func (v *Product) UnmarshalJSON(b []byte) error {
	type plain Product
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Product(p), x
	return err
}

func (v Product) MarshalJSON() ([]byte, error) {
	type plain Product
	return encodeKeep(plain(v), v.Extra)
}

// ProductGroup is a product's article group.
type ProductGroup struct {
	ID    Flex   `json:"id,omitempty"`
	Desc  string `json:"desc,omitempty"`
	Level *int   `json:"level,omitempty"`
	Extra Extra  `json:"-"`
}

func (v *ProductGroup) UnmarshalJSON(b []byte) error {
	type plain ProductGroup
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = ProductGroup(p), x
	return err
}

func (v ProductGroup) MarshalJSON() ([]byte, error) {
	type plain ProductGroup
	return encodeKeep(plain(v), v.Extra)
}

// ReceiptLine is one line of a receipt: type separator, space, textline or
// name-value (spec §7.1); unknown types are kept and printed as text.
type ReceiptLine struct {
	Type  string        `json:"type"`
	Value *ReceiptValue `json:"value,omitempty"`
	Extra Extra         `json:"-"`
}

func (v *ReceiptLine) UnmarshalJSON(b []byte) error {
	type plain ReceiptLine
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = ReceiptLine(p), x
	return err
}

func (v ReceiptLine) MarshalJSON() ([]byte, error) {
	type plain ReceiptLine
	return encodeKeep(plain(v), v.Extra)
}

// ReceiptValue is a receipt line's content.
type ReceiptValue struct {
	Caption    Flex        `json:"caption,omitempty"`
	Text       Flex        `json:"text,omitempty"`
	Name       Flex        `json:"name,omitempty"`
	Value      Flex        `json:"value,omitempty"`
	Decoration Decorations `json:"decoration,omitzero"`
	Extra      Extra       `json:"-"`
}

// UnmarshalJSON also accepts a bare string as the text (tolerance: the shape
// of every recorded value is an object, but nothing forbids a string).
func (v *ReceiptValue) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return err
		}
		*v = ReceiptValue{Text: Flex(s)}
		return nil
	}
	type plain ReceiptValue
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = ReceiptValue(p), x
	return err
}

func (v ReceiptValue) MarshalJSON() ([]byte, error) {
	type plain ReceiptValue
	return encodeKeep(plain(v), v.Extra)
}

// Decorations are a receipt line's decorations; a single string is accepted
// as a one-element list.
type Decorations []string

func (d *Decorations) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return err
		}
		*d = Decorations{s}
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*d = a
	return nil
}

// Ident is a smart.idents object, or an ident inside a transaction (spec §7.2).
type Ident struct {
	Object       string           `json:"object,omitempty"`
	ID           string           `json:"id,omitempty"`
	Type         string           `json:"type,omitempty"` // card | checkin
	Name         string           `json:"name,omitempty"`
	Length       *int             `json:"length,omitempty"`
	Prefix       string           `json:"prefix,omitempty"`
	Value        string           `json:"value,omitempty"`
	Valid        *bool            `json:"valid,omitempty"`
	Customer     *LoyaltyCustomer `json:"customer,omitempty"`
	MerchantCard *MerchantCard    `json:"merchantcard,omitempty"`
	Extra        Extra            `json:"-"`
}

func (v *Ident) UnmarshalJSON(b []byte) error {
	type plain Ident
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Ident(p), x
	return err
}

func (v Ident) MarshalJSON() ([]byte, error) {
	type plain Ident
	return encodeKeep(plain(v), v.Extra)
}

// Checkin is a smart.checkins object (spec §7.3).
type Checkin struct {
	Object       string           `json:"object,omitempty"`
	ID           string           `json:"id,omitempty"`
	CustomerName string           `json:"customerName,omitempty"`
	Picture      string           `json:"picture,omitempty"`
	Created      Flex             `json:"created,omitempty"`
	Account      *Ref             `json:"account,omitempty"`
	Customer     *LoyaltyCustomer `json:"customer,omitempty"`
	MerchantCard *MerchantCard    `json:"merchantcard,omitempty"`
	Extra        Extra            `json:"-"`
}

func (v *Checkin) UnmarshalJSON(b []byte) error {
	type plain Checkin
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Checkin(p), x
	return err
}

func (v Checkin) MarshalJSON() ([]byte, error) {
	type plain Checkin
	return encodeKeep(plain(v), v.Extra)
}

// LoyaltyCard is a loyalty.cards object (spec §7.5).
type LoyaltyCard struct {
	Object     string `json:"object,omitempty"`
	ID         string `json:"id,omitempty"`
	CardNumber string `json:"cardnumber,omitempty"`
	Created    Flex   `json:"created,omitempty"`
	Account    *Ref   `json:"account,omitempty"`
	Extra      Extra  `json:"-"`
}

func (v *LoyaltyCard) UnmarshalJSON(b []byte) error {
	type plain LoyaltyCard
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = LoyaltyCard(p), x
	return err
}

func (v LoyaltyCard) MarshalJSON() ([]byte, error) {
	type plain LoyaltyCard
	return encodeKeep(plain(v), v.Extra)
}

// CardGroup is a loyalty.cardgroups object.
type CardGroup struct {
	Object         string `json:"object,omitempty"`
	ID             string `json:"id,omitempty"`
	DisplayName    string `json:"display_name,omitempty"`
	DisplayNameRaw string `json:"display_name_raw,omitempty"`
	StockWarnLimit *int64 `json:"stock_warn_limit,omitempty"`
	Merchant       *Ref   `json:"merchant,omitempty"`
	Picture        string `json:"picture,omitempty"`
	Extra          Extra  `json:"-"`
}

func (v *CardGroup) UnmarshalJSON(b []byte) error {
	type plain CardGroup
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = CardGroup(p), x
	return err
}

func (v CardGroup) MarshalJSON() ([]byte, error) {
	type plain CardGroup
	return encodeKeep(plain(v), v.Extra)
}

// MerchantCard is a loyalty.merchantcards object (spec §7.5). Balances are
// cents; nil means the server did not send the field.
type MerchantCard struct {
	Object             string           `json:"object,omitempty"`
	ID                 string           `json:"id,omitempty"`
	Merchant           *Ref             `json:"merchant,omitempty"`
	CreatedForMerchant *Ref             `json:"created_for_merchant,omitempty"`
	CreatedForStore    *Ref             `json:"created_for_store,omitempty"`
	Card               *LoyaltyCard     `json:"card,omitempty"`
	IsBaseCard         *bool            `json:"is_base_card,omitempty"`
	CardGroup          *CardGroup       `json:"cardgroup,omitempty"`
	Customer           *LoyaltyCustomer `json:"customer,omitempty"`
	Balance            *int64           `json:"balance,omitempty"`
	CashBalance        *int64           `json:"cash_balance,omitempty"`
	BonusBalance       *int64           `json:"bonus_balance,omitempty"`
	Points             *int64           `json:"points,omitempty"`
	LastUsage          Flex             `json:"last_usage,omitempty"`
	LastCharge         Flex             `json:"last_charge,omitempty"`
	StockStatus        string           `json:"stock_status,omitempty"`
	LockStatus         string           `json:"lock_status,omitempty"`
	Passcode           *int             `json:"passcode,omitempty"` // 1 not enabled, 2 not set, 3 set
	Extra              Extra            `json:"-"`
}

func (v *MerchantCard) UnmarshalJSON(b []byte) error {
	type plain MerchantCard
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = MerchantCard(p), x
	return err
}

func (v MerchantCard) MarshalJSON() ([]byte, error) {
	type plain MerchantCard
	return encodeKeep(plain(v), v.Extra)
}

// LoyaltyCustomer is a loyalty.customers object (spec §7.5).
type LoyaltyCustomer struct {
	Object            string          `json:"object,omitempty"`
	ID                string          `json:"id,omitempty"`
	Merchant          *Ref            `json:"merchant,omitempty"`
	Contact           *Contact        `json:"contact,omitempty"`
	MerchantContact   *Contact        `json:"merchant_contact,omitempty"`
	AccountContact    *Contact        `json:"account_contact,omitempty"`
	Note              string          `json:"note,omitempty"`
	CustomerNumber    Flex            `json:"customernumber,omitempty"`
	Age               *int            `json:"age,omitempty"`
	DaysUntilBirthday *int            `json:"days_until_birthday,omitempty"`
	AdditionalData    json.RawMessage `json:"additional_data,omitempty"`
	Created           Flex            `json:"created,omitempty"`
	Extra             Extra           `json:"-"`
}

func (v *LoyaltyCustomer) UnmarshalJSON(b []byte) error {
	type plain LoyaltyCustomer
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = LoyaltyCustomer(p), x
	return err
}

func (v LoyaltyCustomer) MarshalJSON() ([]byte, error) {
	type plain LoyaltyCustomer
	return encodeKeep(plain(v), v.Extra)
}

// LoyaltyBonus is the answer of smart.transactions preTransaction.
type LoyaltyBonus struct {
	MissingSum    *int64    `json:"missing_sum,omitempty"` // cents
	BonusProducts []Product `json:"bonus_products,omitzero"`
	Extra         Extra     `json:"-"`
}

func (v *LoyaltyBonus) UnmarshalJSON(b []byte) error {
	type plain LoyaltyBonus
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = LoyaltyBonus(p), x
	return err
}

func (v LoyaltyBonus) MarshalJSON() ([]byte, error) {
	type plain LoyaltyBonus
	return encodeKeep(plain(v), v.Extra)
}

// Contact is a general.contacts object, embedded in many others (spec §7.7).
type Contact struct {
	Object      string   `json:"object,omitempty"`
	ID          string   `json:"id,omitempty"`
	Salutation  string   `json:"salutation,omitempty"`
	Title       string   `json:"title,omitempty"`
	Name        string   `json:"name,omitempty"`
	Forename    string   `json:"forename,omitempty"`
	Surname     string   `json:"surname,omitempty"`
	Gender      string   `json:"gender,omitempty"` // MALE | FEMALE
	Nationality string   `json:"nationality,omitempty"`
	DOB         Flex     `json:"dob,omitempty"` // sent as yyyy-MM-dd, returned as a timestamp
	Birthplace  string   `json:"birthplace,omitempty"`
	CompanyName string   `json:"companyname,omitempty"`
	Email       string   `json:"email,omitempty"`
	Phone       string   `json:"phone,omitempty"`
	Mobile      string   `json:"mobile,omitempty"`
	Address     *Address `json:"address,omitempty"`
	URLWebsite  string   `json:"url_website,omitempty"`
	Picture     string   `json:"picture,omitempty"`
	Extra       Extra    `json:"-"`
}

func (v *Contact) UnmarshalJSON(b []byte) error {
	type plain Contact
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Contact(p), x
	return err
}

func (v Contact) MarshalJSON() ([]byte, error) {
	type plain Contact
	return encodeKeep(plain(v), v.Extra)
}

// Address is a postal address.
type Address struct {
	Type                  string `json:"type,omitempty"`
	Street                string `json:"street,omitempty"`
	StreetNumber          Flex   `json:"street_number,omitempty"`
	PostalCode            Flex   `json:"postal_code,omitempty"`
	City                  string `json:"city,omitempty"`
	Country               string `json:"country,omitempty"`
	AdditionalAddressData string `json:"additional_address_data,omitempty"`
	Extra                 Extra  `json:"-"`
}

func (v *Address) UnmarshalJSON(b []byte) error {
	type plain Address
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Address(p), x
	return err
}

func (v Address) MarshalJSON() ([]byte, error) {
	type plain Address
	return encodeKeep(plain(v), v.Extra)
}

// PaymentCustomer is a payment.customers object (spec §7.6).
type PaymentCustomer struct {
	Object             string   `json:"object,omitempty"`
	ID                 string   `json:"id,omitempty"`
	Contract           *Ref     `json:"contract,omitempty"`
	Merchant           *Ref     `json:"merchant,omitempty"`
	Contact            *Contact `json:"contact,omitempty"`
	Created            Flex     `json:"created,omitempty"`
	Updated            Flex     `json:"updated,omitempty"`
	MerchantCustomerID string   `json:"merchant_customer_id,omitempty"`
	Extra              Extra    `json:"-"`
}

func (v *PaymentCustomer) UnmarshalJSON(b []byte) error {
	type plain PaymentCustomer
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = PaymentCustomer(p), x
	return err
}

func (v PaymentCustomer) MarshalJSON() ([]byte, error) {
	type plain PaymentCustomer
	return encodeKeep(plain(v), v.Extra)
}

// PaymentContainer is a payment.containers object (a bank account).
type PaymentContainer struct {
	Object   string           `json:"object,omitempty"`
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type,omitempty"` // bank_account
	Private  *BankData        `json:"private,omitempty"`
	Public   *BankData        `json:"public,omitempty"` // validated/completed by the server
	Customer *PaymentCustomer `json:"customer,omitempty"`
	Contract *Ref             `json:"contract,omitempty"`
	Mandate  *Mandate         `json:"mandate,omitempty"`
	Merchant *Ref             `json:"merchant,omitempty"`
	Created  Flex             `json:"created,omitempty"`
	Updated  Flex             `json:"updated,omitempty"`
	Extra    Extra            `json:"-"`
}

func (v *PaymentContainer) UnmarshalJSON(b []byte) error {
	type plain PaymentContainer
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = PaymentContainer(p), x
	return err
}

func (v PaymentContainer) MarshalJSON() ([]byte, error) {
	type plain PaymentContainer
	return encodeKeep(plain(v), v.Extra)
}

// BankData is a container's private or public account data.
type BankData struct {
	Owner          string `json:"owner,omitempty"`
	IBAN           string `json:"iban,omitempty"`
	BIC            string `json:"bic,omitempty"`
	BankName       string `json:"bankname,omitempty"`
	PAN            string `json:"pan,omitempty"` // masked by the server for cards (PHP)
	ExpirationDate Flex   `json:"expiration_date,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	Extra          Extra  `json:"-"`
}

func (v *BankData) UnmarshalJSON(b []byte) error {
	type plain BankData
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = BankData(p), x
	return err
}

func (v BankData) MarshalJSON() ([]byte, error) {
	type plain BankData
	return encodeKeep(plain(v), v.Extra)
}

// Mandate is a SEPA mandate of a container.
type Mandate struct {
	IBAN           string `json:"iban,omitempty"`
	BIC            string `json:"bic,omitempty"`
	Type           string `json:"type,omitempty"`
	Identification string `json:"identification,omitempty"`
	Status         string `json:"status,omitempty"`
	SepaMandateID  Flex   `json:"sepa_mandate_id,omitempty"`
	Extra          Extra  `json:"-"`
}

func (v *Mandate) UnmarshalJSON(b []byte) error {
	type plain Mandate
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Mandate(p), x
	return err
}

func (v Mandate) MarshalJSON() ([]byte, error) {
	type plain Mandate
	return encodeKeep(plain(v), v.Extra)
}

// SecupayTransaction holds the fields the secupay payment resources share
// (debits, prepays, creditcards, invoices, sofort). It is embedded in
// SecupayDebit and SecupayPrepay and has no JSON methods of its own, so the
// embedding types' methods see all fields.
type SecupayTransaction struct {
	Object            string              `json:"object,omitempty"`
	ID                string              `json:"id,omitempty"`
	Amount            int64               `json:"amount"` // cents
	Currency          string              `json:"currency,omitempty"`
	Purpose           string              `json:"purpose,omitempty"`
	OrderID           Flex                `json:"order_id,omitempty"`
	TransID           Flex                `json:"trans_id,omitempty"`
	Status            string              `json:"status,omitempty"`
	TransactionStatus Flex                `json:"transaction_status,omitempty"`
	Customer          *PaymentCustomer    `json:"customer,omitempty"`
	Recipient         json.RawMessage     `json:"recipient,omitempty"`
	Contract          *Ref                `json:"contract,omitempty"`
	Basket            []SecupayBasketItem `json:"basket,omitzero"`
	Experience        *Experience         `json:"experience,omitempty"`
	Accrual           *bool               `json:"accrual,omitempty"`
	Subscription      json.RawMessage     `json:"subscription,omitempty"` // {purpose}
	RedirectURL       *RedirectURL        `json:"redirect_url,omitempty"`
	OptData           json.RawMessage     `json:"opt_data,omitempty"`
	PaymentAction     string              `json:"payment_action,omitempty"` // sale | authorization
	Demo              *bool               `json:"demo,omitempty"`
}

// SecupayDebit is a payment.secupaydebits object.
type SecupayDebit struct {
	SecupayTransaction
	Container *PaymentContainer `json:"container,omitempty"`
	Extra     Extra             `json:"-"`
}

func (v *SecupayDebit) UnmarshalJSON(b []byte) error {
	type plain SecupayDebit
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = SecupayDebit(p), x
	return err
}

func (v SecupayDebit) MarshalJSON() ([]byte, error) {
	type plain SecupayDebit
	return encodeKeep(plain(v), v.Extra)
}

// SecupayPrepay is a payment.secupayprepays object.
type SecupayPrepay struct {
	SecupayTransaction
	TransferPurpose string           `json:"transfer_purpose,omitempty"`
	TransferAccount *TransferAccount `json:"transfer_account,omitempty"`
	Extra           Extra            `json:"-"`
}

func (v *SecupayPrepay) UnmarshalJSON(b []byte) error {
	type plain SecupayPrepay
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = SecupayPrepay(p), x
	return err
}

func (v SecupayPrepay) MarshalJSON() ([]byte, error) {
	type plain SecupayPrepay
	return encodeKeep(plain(v), v.Extra)
}

// SecupayBasketItem is an item of a payment basket (keys per .NET/PHP/
// successor; the Java priceOne/articleNumber form is a client bug, spec §3.5).
type SecupayBasketItem struct {
	ItemType      string          `json:"item_type,omitempty"`
	ArticleNumber Flex            `json:"article_number,omitempty"`
	Quantity      float64         `json:"quantity"`
	Name          string          `json:"name,omitempty"`
	Model         string          `json:"model,omitempty"`
	EAN           string          `json:"ean,omitempty"`
	Tax           Flex            `json:"tax,omitempty"`
	Total         int64           `json:"total"` // cents
	Price         int64           `json:"price"` // cents
	APIKey        string          `json:"apikey,omitempty"`
	ContractID    string          `json:"contract_id,omitempty"`
	ReferenceID   Flex            `json:"reference_id,omitempty"`
	SubBasket     json.RawMessage `json:"sub_basket,omitempty"`
	Extra         Extra           `json:"-"`
}

func (v *SecupayBasketItem) UnmarshalJSON(b []byte) error {
	type plain SecupayBasketItem
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = SecupayBasketItem(p), x
	return err
}

func (v SecupayBasketItem) MarshalJSON() ([]byte, error) {
	type plain SecupayBasketItem
	return encodeKeep(plain(v), v.Extra)
}

// Experience is the customer's payment experience counters.
type Experience struct {
	Positive *int  `json:"positiv,omitempty"`
	Negative *int  `json:"negativ,omitempty"`
	Extra    Extra `json:"-"`
}

func (v *Experience) UnmarshalJSON(b []byte) error {
	type plain Experience
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Experience(p), x
	return err
}

func (v Experience) MarshalJSON() ([]byte, error) {
	type plain Experience
	return encodeKeep(plain(v), v.Extra)
}

// RedirectURL holds a payment's redirect and push URLs.
type RedirectURL struct {
	URLSuccess string `json:"url_success,omitempty"`
	URLFailure string `json:"url_failure,omitempty"`
	IframeURL  string `json:"iframe_url,omitempty"`
	URLPush    string `json:"url_push,omitempty"`
	Extra      Extra  `json:"-"`
}

func (v *RedirectURL) UnmarshalJSON(b []byte) error {
	type plain RedirectURL
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = RedirectURL(p), x
	return err
}

func (v RedirectURL) MarshalJSON() ([]byte, error) {
	type plain RedirectURL
	return encodeKeep(plain(v), v.Extra)
}

// TransferAccount is the account a prepay customer transfers to.
type TransferAccount struct {
	AccountOwner  string `json:"account_owner,omitempty"`
	AccountNumber Flex   `json:"accountnumber,omitempty"`
	IBAN          string `json:"iban,omitempty"`
	BIC           string `json:"bic,omitempty"`
	BankCode      Flex   `json:"bankcode,omitempty"`
	Owner         string `json:"owner,omitempty"`
	BankName      string `json:"bankname,omitempty"`
	Extra         Extra  `json:"-"`
}

func (v *TransferAccount) UnmarshalJSON(b []byte) error {
	type plain TransferAccount
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = TransferAccount(p), x
	return err
}

func (v TransferAccount) MarshalJSON() ([]byte, error) {
	type plain TransferAccount
	return encodeKeep(plain(v), v.Extra)
}

// GeneralMerchant is a general.merchants object.
type GeneralMerchant struct {
	Object    string          `json:"object,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Email     string          `json:"email,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	Location  json.RawMessage `json:"location,omitempty"`
	Photo     []string        `json:"photo,omitzero"`
	PhotoMain string          `json:"photo_main,omitempty"`
	Extra     Extra           `json:"-"`
}

func (v *GeneralMerchant) UnmarshalJSON(b []byte) error {
	type plain GeneralMerchant
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = GeneralMerchant(p), x
	return err
}

func (v GeneralMerchant) MarshalJSON() ([]byte, error) {
	type plain GeneralMerchant
	return encodeKeep(plain(v), v.Extra)
}

// GeneralStore is a general.stores object. The per-account computed fields
// (_news, _checkin_status, _balance, ...) stay in Extra.
type GeneralStore struct {
	Object               string             `json:"object,omitempty"`
	ID                   string             `json:"id,omitempty"`
	Merchant             *Ref               `json:"merchant,omitempty"`
	Name                 string             `json:"name,omitempty"`
	NameRaw              string             `json:"name_raw,omitempty"`
	Source               string             `json:"source,omitempty"`
	Key                  string             `json:"key,omitempty"`
	Hash                 string             `json:"hash,omitempty"`
	AddressComponents    []AddressComponent `json:"address_components,omitzero"`
	AddressFormatted     string             `json:"address_formatted,omitempty"`
	Geometry             *Geometry          `json:"geometry,omitempty"`
	Category             json.RawMessage    `json:"category,omitempty"` // array; item shape unknown
	CategoryMain         json.RawMessage    `json:"category_main,omitempty"`
	PhoneNumberFormatted string             `json:"phone_number_formatted,omitempty"`
	URLWebsite           string             `json:"url_website,omitempty"`
	FacebookID           Flex               `json:"facebook_id,omitempty"`
	Photo                []string           `json:"photo,omitzero"`
	PhotoMain            string             `json:"photo_main,omitempty"`
	HasBeacon            *bool              `json:"has_beacon,omitempty"`
	OpenHours            json.RawMessage    `json:"open_hours,omitempty"` // [{open{day,time}, close{...}}]
	OpenNow              *bool              `json:"open_now,omitempty"`
	OpenTime             *int               `json:"open_time,omitempty"`
	Extra                Extra              `json:"-"`
}

func (v *GeneralStore) UnmarshalJSON(b []byte) error {
	type plain GeneralStore
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = GeneralStore(p), x
	return err
}

func (v GeneralStore) MarshalJSON() ([]byte, error) {
	type plain GeneralStore
	return encodeKeep(plain(v), v.Extra)
}

// AddressComponent is one component of a store address (Google style).
type AddressComponent struct {
	LongName  string   `json:"long_name,omitempty"`
	ShortName string   `json:"short_name,omitempty"`
	Types     []string `json:"types,omitzero"`
	Extra     Extra    `json:"-"`
}

func (v *AddressComponent) UnmarshalJSON(b []byte) error {
	type plain AddressComponent
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = AddressComponent(p), x
	return err
}

func (v AddressComponent) MarshalJSON() ([]byte, error) {
	type plain AddressComponent
	return encodeKeep(plain(v), v.Extra)
}

// Geometry is a geographic position. json.Number keeps the decimal exact and
// also accepts a numeric string.
type Geometry struct {
	Lat   json.Number `json:"lat,omitempty"`
	Lon   json.Number `json:"lon,omitempty"`
	Extra Extra       `json:"-"`
}

func (v *Geometry) UnmarshalJSON(b []byte) error {
	type plain Geometry
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = Geometry(p), x
	return err
}

func (v Geometry) MarshalJSON() ([]byte, error) {
	type plain Geometry
	return encodeKeep(plain(v), v.Extra)
}

// DocumentUpload is a document.uploads object (spec §7.8).
type DocumentUpload struct {
	Object  string `json:"object,omitempty"`
	ID      string `json:"id,omitempty"`
	Content string `json:"content,omitempty"` // base64
	Created Flex   `json:"created,omitempty"`
	Type    string `json:"type,omitempty"`
	Name    string `json:"name,omitempty"`
	Size    *int64 `json:"size,omitempty"`
	Extra   Extra  `json:"-"`
}

func (v *DocumentUpload) UnmarshalJSON(b []byte) error {
	type plain DocumentUpload
	var p plain
	x, err := decodeKeep(b, &p)
	*v, v.Extra = DocumentUpload(p), x
	return err
}

func (v DocumentUpload) MarshalJSON() ([]byte, error) {
	type plain DocumentUpload
	return encodeKeep(plain(v), v.Extra)
}
