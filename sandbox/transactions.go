package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/libsecucard/libsecucard/sandbox/query"
)

// StartTypes are the payment types of smart.transactions start (spec §6.2).
var StartTypes = []string{"demo", "cash", "auto", "cashless", "loyalty", "debit", "creditcard", "invoice", "prepaid", "paypal"}

// Transaction statuses the sandbox uses (spec §7.1; "canceled" as the Java
// demo spells it, PHP spells it "cancelled").
const (
	statusCreated  = "created"
	statusOK       = "ok"
	statusFailed   = "failed"
	statusCanceled = "canceled"
)

// demoDeclineRate is the share of demo payments that fail (spec §6.2: demo
// simulates a random outcome).
const demoDeclineRate = 0.2

// smartTransactions handles the calls with behaviour beyond generic CRUD.
func (s *Server) smartTransactions(ctx context.Context, c *call) (DispatchResponse, bool) {
	switch {
	case c.op == "add":
		return s.create(c, func(o object) (DispatchResponse, bool) {
			o["status"] = statusCreated
			return s.checkTransaction(o)
		}), true
	case c.op == "update" && c.action == "":
		return s.update(c, func(old, merged object) (DispatchResponse, bool) {
			id, _ := old["id"].(string)
			if st, _ := old["status"].(string); st != statusCreated || s.starting[id] {
				return s.notAllowed(codeBadState, fmt.Sprintf("transaction %s cannot be changed in status %q; only %q transactions can", id, st, statusCreated)), false
			}
			merged["status"] = statusCreated
			return s.checkTransaction(merged)
		}), true
	}
	switch c.action {
	case "start":
		return s.startTransaction(c), true
	case "cancel":
		return s.cancelTransaction(c), true
	case "Diagnosis":
		return s.terminalReport(c, "Diagnose", diagnosisLines), true
	case "EndofDay":
		return s.terminalReport(c, "Kassenschnitt", s.endOfDayLines), true
	case "cancelTrx":
		return s.cancelByReceipt(c), true
	case "preTransaction":
		return s.preTransaction(c), true
	}
	return DispatchResponse{}, false
}

// checkTransaction validates money fields: cents are integers (spec §7.1).
// It runs under s.mu (create and update call their checks locked).
func (s *Server) checkTransaction(o object) (DispatchResponse, bool) {
	if bi, ok := o["basket_info"]; ok && bi != nil {
		m, ok := bi.(map[string]any)
		if !ok {
			return s.fieldError("basket_info", "must be an object {sum, currency}, got "+jsonType(bi)), false
		}
		if sum, ok := m["sum"]; ok && !isInteger(sum) {
			return s.fieldError("basket_info.sum", "must be an integer amount in cents, got "+describeValue(sum)), false
		}
		if cur, ok := m["currency"]; ok && cur != nil {
			if _, isStr := cur.(string); !isStr {
				return s.fieldError("basket_info.currency", "must be a currency code string such as \"EUR\", got "+jsonType(cur)), false
			}
		}
	}
	if b, ok := o["basket"]; ok && b != nil {
		bm, ok := b.(map[string]any)
		if !ok {
			return s.fieldError("basket", "must be an object {products, texts}, got "+jsonType(b)), false
		}
		if ps, ok := bm["products"]; ok && ps != nil {
			list, ok := ps.([]any)
			if !ok {
				return s.fieldError("basket.products", "must be an array, got "+jsonType(ps)), false
			}
			for i, p := range list {
				pm, ok := p.(map[string]any)
				field := fmt.Sprintf("basket.products[%d]", i)
				if !ok {
					return s.fieldError(field, "must be an object, got "+jsonType(p)), false
				}
				if v, ok := pm["priceOne"]; ok && !isInteger(v) {
					return s.fieldError(field+".priceOne", "must be an integer amount in cents, got "+describeValue(v)), false
				}
				if v, ok := pm["quantity"]; ok && v != nil {
					if _, isNum := v.(json.Number); !isNum {
						return s.fieldError(field+".quantity", "must be a number, got "+jsonType(v)), false
					}
				}
				if v, ok := pm["tax"]; ok && v != nil && !isInteger(v) {
					return s.fieldError(field+".tax", "must be an integer percentage, got "+describeValue(v)), false
				}
			}
		}
	}
	if ids, ok := o["idents"]; ok && ids != nil {
		list, ok := ids.([]any)
		if !ok {
			return s.fieldError("idents", "must be an array, got "+jsonType(ids)), false
		}
		for i, e := range list {
			if _, ok := e.(map[string]any); !ok {
				return s.fieldError(fmt.Sprintf("idents[%d]", i), "must be an object, got "+jsonType(e)), false
			}
		}
		o["idents"] = s.completeIdentsLocked(list)
	}
	return DispatchResponse{}, true
}

// describeValue names a wrong value's type, or the number itself.
func describeValue(v any) string {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return jsonType(v)
}

func (s *Server) fieldError(field, msg string) DispatchResponse {
	return s.envelope(http.StatusBadRequest, excFormat, codeBadBody, field+": "+msg,
		"The transaction data is invalid ("+field+").")
}

// completeIdentsLocked echoes idents the way the recorded transactions do:
// a known ident id is filled with prefix/name/type, and valid says whether
// the value is a card the sandbox knows (recorded false for an unknown card).
func (s *Server) completeIdentsLocked(list []any) []any {
	out := make([]any, len(list))
	for i, e := range list {
		m := clone(e).(map[string]any)
		if seed, ok := s.identForLocked(m); ok {
			for _, k := range []string{"id", "prefix", "name", "type", "length"} {
				if _, has := m[k]; !has {
					m[k] = seed[k]
				}
			}
			m["object"] = "smart.idents"
		}
		value, _ := m["value"].(string)
		_, known := s.cardSecrets[value]
		m["valid"] = known
		out[i] = m
	}
	return out
}

// displaySteps are the cashier display texts of the simulated terminal.
func displaySteps(typ string, sum int64) []string {
	amount := "Betrag: " + euro(sum)
	switch typ {
	case "cash":
		return []string{amount, "Barzahlung wird gebucht", "Bitte Wechselgeld prüfen"}
	case "loyalty", "prepaid":
		return []string{amount, "Kundenkarte wird geprüft", "Guthaben wird gebucht"}
	case "invoice", "paypal":
		return []string{amount, "Zahlung wird angelegt", "Bitte warten"}
	}
	return []string{amount, "Bitte Karte einstecken oder auflegen", "Verbindung zum Zahlungsnetz", "Zahlung wird geprüft"}
}

// startTransaction simulates the terminal: display events StartDelay apart,
// then the final status and the answer. It pushes only what the real
// service is known to send during a start, general.notifications display
// (spec §5.3, §7.1, §9.3); no smart.transactions event, which no SDK
// registers (the JavaScript SDK throws on a target it does not know, §5.3).
// Tests push other events through Push or POST /sandbox/events. Once
// started it runs to completion even if the caller gives up, as a real
// terminal would (spec §11: a timed-out start may still run); only Close
// stops it.
func (s *Server) startTransaction(c *call) DispatchResponse {
	if c.id == "" {
		return s.notAllowed(codeBadMethod, "start needs a transaction id: smart/transactions/<id>/start/<type>")
	}
	typ := ""
	if len(c.args) > 0 {
		typ = strings.ToLower(c.args[0])
	}
	if !contains(StartTypes, typ) {
		return s.badRequest(codeBadBody, fmt.Sprintf("start needs a payment type (%s), got %q", strings.Join(StartTypes, ", "), typ))
	}
	s.mu.Lock()
	tx, ok := s.lookupLocked(c.coll, c.id)
	if !ok {
		s.mu.Unlock()
		return s.notFound(codeNoObject, fmt.Sprintf("smart.transactions %q does not exist", c.id))
	}
	id := tx["id"].(string)
	st, _ := tx["status"].(string)
	if st != statusCreated || s.starting[id] {
		s.mu.Unlock()
		if s.starting[id] {
			st = "being started"
		}
		return s.notAllowed(codeBadState, fmt.Sprintf("transaction %s cannot be started in status %q; only %q transactions can", id, st, statusCreated))
	}
	sum := transactionSum(tx)
	if sum <= 0 {
		s.mu.Unlock()
		// A terminal cannot charge nothing; the real server's answer is unknown,
		// a till must not be able to "pay" an empty basket here.
		return s.fieldError("basket_info.sum", "must be a positive amount in cents to start a payment")
	}
	s.starting[id] = true
	ok = true
	if typ == "demo" {
		ok = s.rng.Float64() >= demoDeclineRate
	}
	s.receiptSeq++
	receiptNo := fmt.Sprintf("%06d", s.receiptSeq)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.starting, id)
		s.mu.Unlock()
	}()

	for i, text := range displaySteps(typ, sum) {
		if i > 0 && !s.sleep(context.Background(), s.opts.StartDelay) {
			return s.envelope(http.StatusServiceUnavailable, excInternal, codeUnavailable, "the sandbox is shutting down", "Please try again.")
		}
		s.pushTo(c.client, Event{Target: "general.notifications", Type: "display", Data: mustJSON(map[string]string{"text": text})})
	}
	if !s.sleep(context.Background(), s.opts.StartDelay) {
		return s.envelope(http.StatusServiceUnavailable, excInternal, codeUnavailable, "the sandbox is shutting down", "Please try again.")
	}

	now := s.stamp(s.now())
	s.mu.Lock()
	cur, exists := c.coll.items[id]
	if !exists {
		s.mu.Unlock()
		return s.notFound(codeNoObject, fmt.Sprintf("smart.transactions %q was deleted during start", id))
	}
	tx = cloneObject(cur)
	tx["payment_method"] = typ
	tx["receipt_number"] = receiptNo
	tx["updated"] = now
	merchantName := s.merchantNameLocked()
	if ok {
		tx["status"] = statusOK
		delete(tx, "error")
	} else {
		tx["status"] = statusFailed
		tx["error"] = "Zahlung abgelehnt"
	}
	tx["receipt"] = paymentReceipt(merchantName, typ, sum, receiptNo, now, ok, false, cardOf(tx))
	tx["receipt_merchant"] = paymentReceipt(merchantName, typ, sum, receiptNo, now, ok, true, cardOf(tx))
	tx["receipt_merchant_print"] = typ != "cash"
	c.coll.put(id, tx)
	out := cloneObject(tx)
	s.mu.Unlock()

	return s.reply(out)
}

func contains(list []string, v string) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

func transactionSum(tx object) int64 {
	if bi, ok := tx["basket_info"].(map[string]any); ok && isInteger(bi["sum"]) {
		return asInt(bi["sum"])
	}
	return 0
}

// cardOf returns the first ident value, masked, for the receipt.
func cardOf(tx object) string {
	ids, _ := tx["idents"].([]any)
	for _, e := range ids {
		if m, ok := e.(map[string]any); ok {
			if v, _ := m["value"].(string); v != "" {
				return maskCard(v)
			}
		}
	}
	return ""
}

func (s *Server) merchantNameLocked() string {
	if m, ok := s.colls["general.merchants"].items[SeedMerchantID]; ok {
		if n, _ := m["name"].(string); n != "" {
			return n
		}
	}
	return "Sandbox"
}

// euro formats cents the German way: 504 -> "5,04 EUR".
func euro(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d,%02d EUR", sign, cents/100, cents%100)
}

// Receipt lines in the recorded shape (spec §7.1): separator {caption},
// space (no value), textline {text, decoration}, name-value {name, value,
// decoration}.
func separator(caption string) map[string]any {
	return map[string]any{"type": "separator", "value": map[string]any{"caption": caption}}
}

func space() map[string]any { return map[string]any{"type": "space"} }

func textline(text string, deco ...string) map[string]any {
	return map[string]any{"type": "textline", "value": map[string]any{"text": text, "decoration": decorations(deco)}}
}

func nameValue(name, value string, deco ...string) map[string]any {
	return map[string]any{"type": "name-value", "value": map[string]any{"name": name, "value": value, "decoration": decorations(deco)}}
}

func decorations(d []string) []any {
	out := make([]any, len(d)) // [] rather than null, as recorded
	for i, x := range d {
		out[i] = x
	}
	return out
}

func paymentReceipt(merchant, typ string, sum int64, receiptNo, when string, ok, merchantCopy bool, card string) []any {
	copyName := "Kundenbeleg"
	if merchantCopy {
		copyName = "Händlerbeleg"
	}
	method := map[string]string{
		"cash": "Barzahlung", "loyalty": "Kundenkarte", "prepaid": "Guthabenkarte", "invoice": "Rechnung",
		"paypal": "PayPal", "debit": "girocard", "creditcard": "Kreditkarte", "demo": "Demo-Zahlung",
	}[typ]
	if method == "" {
		method = "Kartenzahlung"
	}
	lines := []any{
		textline(merchant, "important", "align-center"),
		textline(copyName, "align-center"),
		separator(method),
		nameValue("Datum:", when[:10]),
		nameValue("Uhrzeit:", when[11:19]),
		nameValue("Beleg-Nr.:", receiptNo),
		nameValue("Terminal-ID:", "SANDBOX1"),
	}
	if card != "" && typ != "cash" {
		lines = append(lines, nameValue("Karte:", card))
	}
	lines = append(lines, space(), nameValue("Betrag:", euro(sum), "important"), space())
	if ok {
		lines = append(lines, textline("Zahlung erfolgt", "important", "align-center"))
	} else {
		lines = append(lines, textline("Zahlung abgelehnt", "important", "align-center"),
			textline("Bitte andere Zahlungsart wählen", "align-center"))
	}
	if merchantCopy {
		lines = append(lines, space(), textline("Bitte Beleg aufbewahren", "align-left"))
	} else {
		lines = append(lines, space(), textline("Vielen Dank für Ihren Einkauf!", "align-center"))
	}
	return lines
}

// cancelTransaction sets status canceled. Canceling a canceled transaction
// answers it unchanged, so a retried cancel without X-Action is harmless.
func (s *Server) cancelTransaction(c *call) DispatchResponse {
	if c.id == "" {
		return s.notAllowed(codeBadMethod, "cancel needs a transaction id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, ok := s.lookupLocked(c.coll, c.id)
	if !ok {
		return s.notFound(codeNoObject, fmt.Sprintf("smart.transactions %q does not exist", c.id))
	}
	id := tx["id"].(string)
	if s.starting[id] {
		return s.notAllowed(codeBadState, fmt.Sprintf("transaction %s is being started and cannot be canceled now", id))
	}
	switch st, _ := tx["status"].(string); st {
	case statusCanceled:
		return s.reply(cloneObject(tx))
	case statusCreated, statusOK:
	default:
		return s.notAllowed(codeBadState, fmt.Sprintf("transaction %s cannot be canceled in status %q", id, st))
	}
	tx = s.cancelLocked(c.coll, tx)
	return s.reply(cloneObject(tx))
}

func (s *Server) cancelLocked(coll *collection, tx object) object {
	tx = cloneObject(tx)
	now := s.stamp(s.now())
	tx["status"] = statusCanceled
	tx["updated"] = now
	if rn, _ := tx["receipt_number"].(string); rn != "" {
		tx["receipt"] = []any{
			textline(s.merchantNameLocked(), "important", "align-center"),
			separator("Storno"),
			nameValue("Beleg-Nr.:", rn),
			nameValue("Betrag:", euro(-transactionSum(tx)), "important"),
			space(),
			textline("Storno erfolgt", "important", "align-center"),
		}
	}
	coll.put(tx["id"].(string), tx)
	return tx
}

// cancelByReceipt is smart/transactions/<receipt_number>/cancelTrx.
func (s *Server) cancelByReceipt(c *call) DispatchResponse {
	if c.id == "" {
		return s.notAllowed(codeBadMethod, "cancelTrx needs a receipt number: smart/transactions/<receipt_number>/cancelTrx")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range c.coll.order {
		tx := c.coll.items[id]
		if rn, _ := tx["receipt_number"].(string); rn == c.id || id == c.id {
			if st, _ := tx["status"].(string); st != statusOK && st != statusCanceled {
				return s.notAllowed(codeBadState, fmt.Sprintf("transaction with receipt number %s cannot be canceled in status %q", c.id, st))
			}
			if tx["status"] == statusCanceled {
				return s.reply(cloneObject(tx))
			}
			return s.reply(cloneObject(s.cancelLocked(c.coll, tx)))
		}
	}
	return s.notFound(codeNoObject, fmt.Sprintf("no smart.transactions with receipt number %q", c.id))
}

// terminalReport answers Diagnosis and EndofDay: a transaction-shaped object
// with receipt lines, stored like any transaction.
func (s *Server) terminalReport(c *call, title string, lines func(string) []any) DispatchResponse {
	now := s.stamp(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newIDLocked(c.coll)
	s.receiptSeq++
	body := lines(now)
	tx := object{
		"object": "smart.transactions", "id": id, "created": now, "updated": now, "status": statusOK,
		"receipt_number": fmt.Sprintf("%06d", s.receiptSeq), "device_source": ref("smart.devices", SeedDeviceID),
		"receipt":          append([]any{textline(s.merchantNameLocked(), "important", "align-center"), separator(title)}, body...),
		"receipt_merchant": append([]any{separator(title)}, body...),
	}
	c.coll.put(id, tx)
	return s.reply(cloneObject(tx))
}

func diagnosisLines(now string) []any {
	return []any{
		nameValue("Terminal-ID:", "SANDBOX1"),
		nameValue("Zeit:", now),
		nameValue("Verbindung:", "OK"),
		nameValue("Drucker:", "OK"),
		space(),
		textline("Diagnose erfolgreich", "important", "align-center"),
	}
}

// endOfDayLines totals the ok transactions since the last end of day.
func (s *Server) endOfDayLines(now string) []any {
	var n, total int64
	coll := s.colls["smart.transactions"]
	for _, id := range coll.order {
		tx := coll.items[id]
		if tx["status"] == statusOK && tx["payment_method"] != nil && !s.settled[id] {
			n++
			total += transactionSum(tx)
			s.settled[id] = true
		}
	}
	return []any{
		nameValue("Terminal-ID:", "SANDBOX1"),
		nameValue("Zeit:", now),
		nameValue("Anzahl Zahlungen:", strconv.FormatInt(n, 10)),
		nameValue("Summe:", euro(total), "important"),
		space(),
		textline("Kassenschnitt erfolgreich", "important", "align-center"),
	}
}

// preTransaction answers the loyalty bonus of a transaction: invented rule,
// one bonus product per full 10 EUR.
func (s *Server) preTransaction(c *call) DispatchResponse {
	const threshold = 1000
	s.mu.Lock()
	tx, ok := s.lookupLocked(c.coll, c.id)
	var sum int64
	if ok {
		sum = transactionSum(tx)
	}
	s.mu.Unlock()
	if !ok {
		return s.notFound(codeNoObject, fmt.Sprintf("smart.transactions %q does not exist", c.id))
	}
	bonus := []any{}
	for i := int64(0); i < sum/threshold; i++ {
		bonus = append(bonus, map[string]any{"id": num(i + 1), "articleNumber": "BONUS", "desc": "Bonusartikel",
			"quantity": num(1), "priceOne": num(0), "tax": num(7)})
	}
	return s.reply(map[string]any{"missing_sum": num(threshold - sum%threshold), "bonus_products": bonus})
}

// merchantCards handles CheckCsc and CheckPasscode against the seed cards.
func (s *Server) merchantCards(c *call) (DispatchResponse, bool) {
	var key string
	switch c.action {
	case "CheckCsc":
		key = "csc"
	case "CheckPasscode":
		key = "pin"
	default:
		return DispatchResponse{}, false
	}
	body, resp, ok := s.bodyObject(c.body)
	if !ok {
		return resp, true
	}
	card := query.Text(body["cardnumber"])
	given := query.Text(body[key])
	if card == "" {
		return s.envelope(http.StatusBadRequest, excFormat, codeBadCredential, "cardnumber is required", "Please enter the card number."), true
	}
	if given == "" {
		return s.envelope(http.StatusBadRequest, excFormat, codeBadCredential, key+" is required", "Please enter the "+key+"."), true
	}
	s.mu.Lock()
	sec, known := s.cardSecrets[card]
	s.mu.Unlock()
	want := sec.csc
	if key == "pin" {
		want = sec.pin
	}
	return okResult(known && given == want), true
}

// maskCard shows a card number on a receipt the way terminals print it:
// every digit but the last four as "*".
func maskCard(pan string) string {
	b := []byte(pan)
	keep := 4
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] >= '0' && b[i] <= '9' {
			if keep > 0 {
				keep--
				continue
			}
			b[i] = '*'
		}
	}
	return string(b)
}
