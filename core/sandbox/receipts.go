package sandbox

import (
	"strconv"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/redact"
)

// Receipt lines in the real shape (spec §7.1): {type, value} with type
// separator | space | textline | name-value, and decorations as recorded
// (important, align-center, align-left, align-right; hyphenated).

func rlSpace() object { return object{"type": "space"} }

func rlSeparator(caption string) object {
	if caption == "" {
		return object{"type": "separator"}
	}
	return object{"type": "separator", "value": object{"caption": caption}}
}

func rlText(text string, decoration ...string) object {
	return object{"type": "textline", "value": withDecoration(object{"text": text}, decoration)}
}

func rlNameValue(name, value string, decoration ...string) object {
	return object{"type": "name-value", "value": withDecoration(object{"name": name, "value": value}, decoration)}
}

func withDecoration(v object, decoration []string) object {
	if len(decoration) > 0 {
		d := make([]any, len(decoration))
		for i, s := range decoration {
			d[i] = s
		}
		v["decoration"] = d
	}
	return v
}

// euro formats cents the German way: 123456 -> "1.234,56 EUR".
func euro(cents int64, currency string) string {
	if currency == "" {
		currency = "EUR"
	}
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	frac := cents % 100
	return sign + b.String() + "," + string(rune('0'+frac/10)) + string(rune('0'+frac%10)) + " " + currency
}

// receiptHeader is the shop's letterhead. The non-ASCII characters exercise
// the \uXXXX encoding of receipts on purpose.
func receiptHeader() []any {
	return []any{
		rlText("secucard Sandbox-Markt", "important", "align-center"),
		rlText("Musterstraße 1, 01067 Dresden", "align-center"),
		rlSpace(),
	}
}

func receiptFooter() []any {
	return []any{rlSpace(), rlText("SANDBOX – keine echte Zahlung", "align-center")}
}

// paymentReceipt builds the customer or merchant copy of a payment.
func paymentReceipt(tx object, copyCaption, receiptNo, method string, ok bool, when time.Time) []any {
	sum, currency := txSum(tx)
	lines := receiptHeader()
	lines = append(lines,
		rlSeparator(copyCaption),
		rlNameValue("Datum:", when.In(serverZone).Format("02.01.2006 15:04"), "align-left"),
		rlNameValue("Beleg-Nr.:", receiptNo, "align-left"),
		rlNameValue("Zahlart:", methodLabel(method), "align-left"),
	)
	if card := txCardNumber(tx); card != "" {
		lines = append(lines, rlNameValue("Kartennummer:", redact.Last4(card), "align-left"))
	}
	lines = append(lines, rlSeparator(""))
	for _, p := range lookupPath(map[string]any(tx), []string{"basket", "products"}) {
		m, _ := p.(map[string]any)
		if m == nil {
			continue
		}
		desc, _ := m["desc"].(string)
		price, _ := integer(m["priceOne"])
		qty, okQty := number(m["quantity"])
		if !okQty {
			qty = 1
		}
		lines = append(lines, rlNameValue(desc, euro(int64(float64(price)*qty), currency), "align-right"))
	}
	lines = append(lines, rlSeparator(""), rlNameValue("Betrag:", euro(sum, currency), "important"))
	if ok {
		lines = append(lines, rlSpace(), rlText("Zahlung erfolgt", "important", "align-center"))
	} else {
		lines = append(lines, rlSpace(), rlText("Zahlung abgelehnt", "important", "align-center"),
			rlText("Bitte andere Zahlart wählen", "align-center"))
	}
	return append(lines, receiptFooter()...)
}

// reversalReceipt is printed when a completed payment is canceled.
func reversalReceipt(tx object, copyCaption string, when time.Time) []any {
	sum, currency := txSum(tx)
	receiptNo, _ := tx["receipt_number"].(string)
	lines := receiptHeader()
	lines = append(lines,
		rlSeparator(copyCaption),
		rlText("STORNO", "important", "align-center"),
		rlNameValue("Datum:", when.In(serverZone).Format("02.01.2006 15:04"), "align-left"),
		rlNameValue("Beleg-Nr.:", receiptNo, "align-left"),
		rlNameValue("Betrag:", euro(-sum, currency), "important"),
	)
	return append(lines, receiptFooter()...)
}

func diagnosisReceipt(when time.Time) []any {
	lines := receiptHeader()
	lines = append(lines,
		rlSeparator("Diagnose"),
		rlNameValue("Datum:", when.In(serverZone).Format("02.01.2006 15:04"), "align-left"),
		rlNameValue("Terminal-ID:", "52000001", "align-left"),
		rlNameValue("Verbindung:", "OK", "align-left"),
		rlSpace(),
		rlText("Diagnose erfolgreich", "important", "align-center"),
	)
	return append(lines, receiptFooter()...)
}

func endOfDayReceipt(count int, sum int64, when time.Time) []any {
	lines := receiptHeader()
	lines = append(lines,
		rlSeparator("Kassenschnitt"),
		rlNameValue("Datum:", when.In(serverZone).Format("02.01.2006 15:04"), "align-left"),
		rlNameValue("Anzahl Zahlungen:", strconv.Itoa(count), "align-left"),
		rlNameValue("Summe:", euro(sum, "EUR"), "important"),
		rlSpace(),
		rlText("Kassenschnitt erfolgreich", "important", "align-center"),
	)
	return append(lines, receiptFooter()...)
}

func methodLabel(method string) string {
	switch method {
	case "demo":
		return "Demo"
	case "cash":
		return "Bar"
	case "loyalty":
		return "Kundenkarte"
	case "debit":
		return "Lastschrift"
	case "creditcard":
		return "Kreditkarte"
	case "invoice":
		return "Rechnung"
	case "prepaid":
		return "Vorkasse"
	case "paypal":
		return "PayPal"
	}
	return "Karte"
}
