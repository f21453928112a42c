package sandbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// smart.transactions (spec §7.1, §9.3): create -> "created"; update while
// created; start/<type> simulates the terminal (display events StartDelay
// apart, then a "changed" event) and answers the final transaction; cancel,
// cancelTrx, Diagnosis, EndofDay, preTransaction.

const txResource = "smart.transactions"

// startTypes are the payment types of start (Java: demo, cash, auto,
// cashless, loyalty; .NET/PHP add the rest; spec §6.2).
var startTypes = map[string]bool{
	"demo": true, "cash": true, "auto": true, "cashless": true, "loyalty": true,
	"debit": true, "creditcard": true, "invoice": true, "prepaid": true, "paypal": true,
}

// demoFailureRate is how often a demo start fails: the Java demo notes the
// server simulates random outcomes (spec §6.2).
const demoFailureRate = 0.2

// bonusThreshold is the basket sum from which preTransaction offers a bonus
// product (invented; the real rules are merchant configuration).
const bonusThreshold = 1000

// serverOwnedTxFields are set by the server only; a client cannot write them.
var serverOwnedTxFields = []string{"status", "receipt", "receipt_merchant", "receipt_number", "payment_method", "error"}

func init() {
	createHooks[txResource] = txCreate
	updateHooks[txResource] = txUpdate
	for name, h := range map[string]actionHandler{
		"start":          {fn: (*Server).txStart},
		"cancel":         {fn: (*Server).txCancel},
		"canceltrx":      {fn: (*Server).txCancelByReceipt, ownLookup: true},
		"diagnosis":      {fn: (*Server).txDiagnosis},
		"endofday":       {fn: (*Server).txEndOfDay},
		"pretransaction": {fn: (*Server).txPreTransaction},
	} {
		actionHandlers[txResource+"."+name] = h
	}
}

func txCreate(s *Server, o object) *apiError {
	for _, k := range serverOwnedTxFields {
		delete(o, k)
	}
	if aerr := validateTx(o); aerr != nil {
		return aerr
	}
	o["status"] = "created"
	s.completeIdentsLocked(o)
	return nil
}

func txUpdate(s *Server, old, merged object) *apiError {
	if st, _ := old["status"].(string); st != "created" {
		return errNotAllowed("%s %s has status %s; only transactions with status created can be updated", txResource, quote(old["id"].(string)), quote(st))
	}
	for _, k := range serverOwnedTxFields {
		if v, ok := old[k]; ok {
			merged[k] = v
		} else {
			delete(merged, k)
		}
	}
	if aerr := validateTx(merged); aerr != nil {
		return aerr
	}
	s.completeIdentsLocked(merged)
	return nil
}

// validateTx checks the types that matter for money: cents are integers
// (spec §7: money is integer minor units). Unknown keys are accepted.
func validateTx(o object) *apiError {
	if bi, ok := o["basket_info"]; ok {
		m, ok := bi.(map[string]any)
		if !ok {
			return errFormat("basket_info must be an object {\"sum\": <cents>, \"currency\": \"EUR\"}")
		}
		if v, ok := m["sum"]; ok {
			if _, ok := integer(v); !ok {
				return errFormat("basket_info.sum must be an integer number of cents, got %s", jsonText(v))
			}
		}
		if v, ok := m["currency"]; ok {
			if _, ok := v.(string); !ok {
				return errFormat("basket_info.currency must be a string such as \"EUR\", got %s", jsonText(v))
			}
		}
	}
	if b, ok := o["basket"]; ok {
		m, ok := b.(map[string]any)
		if !ok {
			return errFormat("basket must be an object {\"products\": [...]}")
		}
		if p, ok := m["products"]; ok {
			products, ok := p.([]any)
			if !ok {
				return errFormat("basket.products must be an array")
			}
			for i, item := range products {
				prod, ok := item.(map[string]any)
				if !ok {
					return errFormat("basket.products[%d] must be an object", i)
				}
				for _, k := range []string{"priceOne", "id", "parent", "tax"} {
					if v, ok := prod[k]; ok {
						if _, ok := integer(v); !ok {
							what := "an integer"
							if k == "priceOne" {
								what = "an integer number of cents"
							}
							return errFormat("basket.products[%d].%s must be %s, got %s", i, k, what, jsonText(v))
						}
					}
				}
				if v, ok := prod["quantity"]; ok {
					if _, isNum := v.(json.Number); !isNum {
						return errFormat("basket.products[%d].quantity must be a number, got %s", i, jsonText(v))
					}
				}
			}
		}
	}
	if v, ok := o["idents"]; ok {
		idents, ok := v.([]any)
		if !ok {
			return errFormat("idents must be an array of {\"type\", \"value\"} objects")
		}
		for i, x := range idents {
			if _, ok := x.(map[string]any); !ok {
				return errFormat("idents[%d] must be an object", i)
			}
		}
	}
	return nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// completeIdentsLocked echoes each ident the way the real server does (spec
// §7.2): prefix, name, type and length from the matching smart.idents entry,
// valid when the value fits it (and, for cards, names a known card), and the
// merchant card of a known card.
func (s *Server) completeIdentsLocked(tx object) {
	idents, _ := tx["idents"].([]any)
	known := s.collection("smart.idents")
	for _, x := range idents {
		in := x.(map[string]any)
		value, _ := in["value"].(string)
		var def object
		if id, _ := in["id"].(string); id != "" {
			def = known.byID[id]
		}
		if def == nil {
			for _, id := range known.order {
				d := known.byID[id]
				prefix, _ := d["prefix"].(string)
				if prefix != "" && strings.HasPrefix(value, prefix) && (in["type"] == nil || in["type"] == d["type"]) {
					def = d
					break
				}
			}
		}
		valid := false
		if def != nil {
			for _, k := range []string{"id", "object", "prefix", "name", "type", "length"} {
				if _, ok := in[k]; !ok && def[k] != nil {
					in[k] = def[k]
				}
			}
			prefix, _ := def["prefix"].(string)
			length, _ := integer(def["length"])
			valid = value != "" && strings.HasPrefix(value, prefix) && (length == 0 || int64(len(value)) == length)
		}
		if valid && in["type"] == "card" {
			mc, ok := s.findLocked("loyalty.merchantcards", value)
			valid = ok
			if ok {
				in["merchantcard"] = ref("loyalty.merchantcards", mc["id"].(string))
			}
		}
		in["valid"] = valid
	}
}

// txSum is the basket sum in cents and its currency.
func txSum(tx object) (int64, string) {
	bi, _ := tx["basket_info"].(map[string]any)
	sum, _ := integer(bi["sum"])
	currency, _ := bi["currency"].(string)
	return sum, currency
}

// txCardNumber is the value of the first valid card ident.
func txCardNumber(tx object) string {
	idents, _ := tx["idents"].([]any)
	for _, x := range idents {
		in, _ := x.(map[string]any)
		if in["type"] == "card" && in["valid"] == true {
			v, _ := in["value"].(string)
			return v
		}
	}
	return ""
}

// txStart runs POST smart/transactions/<id>/start/<type>.
func (s *Server) txStart(c *call) (any, *apiError) {
	if len(c.args) == 0 || c.args[0] == "" {
		return nil, errFormat("start needs a payment type: smart/transactions/<id>/start/<type> (demo, cash, auto, cashless, loyalty, debit, creditcard, invoice, prepaid, paypal)")
	}
	typ := strings.ToLower(c.args[0])
	if !startTypes[typ] {
		return nil, errFormat("unknown payment type %s for start (demo, cash, auto, cashless, loyalty, debit, creditcard, invoice, prepaid, paypal)", quote(c.args[0]))
	}

	s.mu.Lock()
	tx, ok := s.findLocked(txResource, c.id)
	if !ok {
		s.mu.Unlock()
		return nil, errNotFound("%s %s does not exist", txResource, quote(c.id))
	}
	id := tx["id"].(string)
	if st, _ := tx["status"].(string); st != "created" {
		s.mu.Unlock()
		return nil, errNotAllowed("%s %s has status %s; only transactions with status created can be started", txResource, quote(id), quote(st))
	}
	bi, _ := tx["basket_info"].(map[string]any)
	if _, ok := integer(bi["sum"]); !ok {
		s.mu.Unlock()
		return nil, errFormat("basket_info.sum is required to start a transaction")
	}
	tx["status"] = "processing" // PHP's constant; a second start is refused meanwhile
	snapshot := cloneObject(tx)
	failure := s.startOutcomeLocked(snapshot, typ)
	s.mu.Unlock()

	sum, currency := txSum(snapshot)
	for i, text := range displaySteps(typ, euro(sum, currency), failure == "") {
		if i > 0 && !s.pause() {
			return nil, &apiError{503, "ProductInternalException", "the sandbox is shutting down",
				"The service is temporarily unavailable.", "Der Dienst ist vorübergehend nicht verfügbar."}
		}
		s.pushToClient(c.client, Event{Target: "general.notifications", Type: "display", Data: mustEncode(map[string]any{"text": text})})
	}
	if !s.pause() {
		return nil, &apiError{503, "ProductInternalException", "the sandbox is shutting down",
			"The service is temporarily unavailable.", "Der Dienst ist vorübergehend nicht verfügbar."}
	}

	now := time.Now()
	s.mu.Lock()
	tx, ok = s.findLocked(txResource, id)
	if !ok {
		s.mu.Unlock()
		return nil, errNotFound("%s %s was deleted while it was being processed", txResource, quote(id))
	}
	s.receiptSeq++
	number := strconv.Itoa(s.receiptSeq)
	method := typ
	tx["status"] = "ok"
	if failure != "" {
		tx["status"] = "failed"
		tx["error"] = failure
	} else if typ == "loyalty" {
		s.chargeCardLocked(txCardNumber(tx), sum)
	}
	tx["payment_method"] = method
	tx["receipt_number"] = number
	tx["receipt"] = paymentReceipt(tx, "Kundenbeleg", number, method, failure == "", now)
	tx["receipt_merchant"] = paymentReceipt(tx, "Händlerbeleg", number, method, failure == "", now)
	tx["receipt_merchant_print"] = failure == ""
	tx["updated"] = timestamp(now)
	s.completedAt[id] = now
	final := cloneObject(tx)
	s.mu.Unlock()

	s.pushToClient(c.client, txChangedEvent(id))
	return final, nil
}

// startOutcomeLocked decides how a start ends: "" for success, otherwise the
// error text. demo fails at random (seedable); loyalty needs a valid card
// with enough balance, which gives tests a deterministic decline.
func (s *Server) startOutcomeLocked(tx object, typ string) string {
	switch typ {
	case "demo":
		if s.chance(demoFailureRate) {
			return "Zahlung abgelehnt (Demo)"
		}
	case "loyalty":
		card := txCardNumber(tx)
		if card == "" {
			return "Keine gültige Kundenkarte"
		}
		mc, ok := s.findLocked("loyalty.merchantcards", card)
		if !ok {
			return "Keine gültige Kundenkarte"
		}
		if mc["lock_status"] == "locked" {
			return "Karte gesperrt"
		}
		balance, _ := integer(mc["balance"])
		sum, _ := txSum(tx)
		if balance < sum {
			return "Guthaben nicht ausreichend"
		}
	}
	return ""
}

func (s *Server) chargeCardLocked(card string, sum int64) {
	mc, ok := s.findLocked("loyalty.merchantcards", card)
	if !ok {
		return
	}
	balance, _ := integer(mc["balance"])
	mc["balance"] = json.Number(strconv.FormatInt(balance-sum, 10))
	mc["last_usage"] = timestamp(time.Now())
}

// displaySteps are the cashier-display texts a terminal shows during start.
func displaySteps(typ, amount string, ok bool) []string {
	last := "Zahlung erfolgt"
	if !ok {
		last = "Zahlung abgelehnt"
	}
	switch typ {
	case "demo":
		return []string{"DEMO: Betrag " + amount, "DEMO: Bitte Karte vorhalten", "DEMO: Bitte warten …", "DEMO: " + last}
	case "cash":
		return []string{"Barzahlung " + amount, "Bitte Wechselgeld prüfen", "Kassenlade geöffnet"}
	case "loyalty":
		return []string{"Betrag " + amount, "Kundenkarte wird geprüft", "Guthaben wird belastet", last}
	case "invoice", "prepaid", "paypal":
		return []string{"Betrag " + amount, "Zahlung wird angefordert", "Bitte warten …", last}
	}
	return []string{"Betrag " + amount, "Bitte Karte einstecken oder vorhalten", "Bitte PIN eingeben", "Bitte warten …", last}
}

// pause waits StartDelay. A simulated terminal step keeps going when the
// caller gives up (a timed-out start may still run on the server, spec §11);
// only Close stops it. It reports false when the sandbox closed.
func (s *Server) pause() bool {
	if s.opts.StartDelay <= 0 {
		return s.life.Err() == nil
	}
	t := time.NewTimer(s.opts.StartDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.life.Done():
		return false
	}
}

func txChangedEvent(id string) Event {
	return Event{Target: txResource, Type: "changed", Data: mustEncode([]any{ref(txResource, id)})}
}

// txCancel runs smart/transactions/<id>/cancel: created and completed
// transactions become "canceled" (Java's spelling; PHP expects "cancelled",
// spec §7.1); a completed payment gets a reversal receipt.
func (s *Server) txCancel(c *call) (any, *apiError) {
	s.mu.Lock()
	tx, ok := s.findLocked(txResource, c.id)
	if !ok {
		s.mu.Unlock()
		return nil, errNotFound("%s %s does not exist", txResource, quote(c.id))
	}
	final, aerr := s.cancelLocked(tx)
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	s.pushToClient(c.client, txChangedEvent(final["id"].(string)))
	return final, nil
}

func (s *Server) cancelLocked(tx object) (object, *apiError) {
	now := time.Now()
	switch st, _ := tx["status"].(string); st {
	case "created":
	case "ok":
		tx["receipt"] = reversalReceipt(tx, "Kundenbeleg", now)
		tx["receipt_merchant"] = reversalReceipt(tx, "Händlerbeleg", now)
		if tx["payment_method"] == "loyalty" {
			sum, _ := txSum(tx)
			s.chargeCardLocked(txCardNumber(tx), -sum)
		}
	default:
		return nil, errNotAllowed("%s %s has status %s; only transactions with status created or ok can be canceled", txResource, quote(tx["id"].(string)), quote(st))
	}
	tx["status"] = "canceled"
	tx["updated"] = timestamp(now)
	return cloneObject(tx), nil
}

// txCancelByReceipt runs smart/transactions/<receipt_number>/cancelTrx.
func (s *Server) txCancelByReceipt(c *call) (any, *apiError) {
	s.mu.Lock()
	var tx object
	coll := s.collection(txResource)
	for _, id := range coll.order {
		if o := coll.byID[id]; o["receipt_number"] == c.id {
			tx = o
			break
		}
	}
	if tx == nil {
		s.mu.Unlock()
		return nil, errNotFound("no %s with receipt_number %s", txResource, quote(c.id))
	}
	if tx["status"] != "ok" {
		s.mu.Unlock()
		return nil, errNotAllowed("the payment with receipt_number %s has status %s and cannot be canceled", quote(c.id), quote(fmt.Sprint(tx["status"])))
	}
	final, aerr := s.cancelLocked(tx)
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	s.pushToClient(c.client, txChangedEvent(final["id"].(string)))
	return final, nil
}

// terminalResult is the transaction-shaped answer of Diagnosis and EndofDay.
// It is not stored: what the real server does with it is unknown.
func (s *Server) terminalResult(receipt []any, method string) object {
	now := time.Now()
	s.mu.Lock()
	id := s.newIDLocked(mustLookup(txResource))
	s.mu.Unlock()
	return object{
		"object": txResource, "id": id, "status": "ok", "created": timestamp(now),
		"payment_method": method, "receipt": receipt, "receipt_merchant": receipt,
	}
}

func (s *Server) txDiagnosis(*call) (any, *apiError) {
	return s.terminalResult(diagnosisReceipt(time.Now()), "diagnosis"), nil
}

// txEndOfDay totals the payments completed since the previous EndofDay
// ("Kassenschnitt").
func (s *Server) txEndOfDay(*call) (any, *apiError) {
	now := time.Now()
	s.mu.Lock()
	since := s.endOfDay
	s.endOfDay = now
	count, total := 0, int64(0)
	coll := s.collection(txResource)
	for _, id := range coll.order {
		tx := coll.byID[id]
		if tx["status"] != "ok" {
			continue
		}
		if done, ok := s.completedAt[id]; !ok || done.Before(since) {
			continue
		}
		sum, _ := txSum(tx)
		count++
		total += sum
	}
	s.mu.Unlock()
	return s.terminalResult(endOfDayReceipt(count, total, now), "endofday"), nil
}

// txPreTransaction answers the loyalty bonus check (Java
// appendLoyaltyBonusProducts): baskets from 10 EUR get a free coffee.
func (s *Server) txPreTransaction(c *call) (any, *apiError) {
	tx, _ := s.find(txResource, c.id)
	sum, _ := txSum(tx)
	if sum < bonusThreshold {
		return map[string]any{"missing_sum": bonusThreshold - sum, "bonus_products": []any{}}, nil
	}
	return map[string]any{"missing_sum": 0, "bonus_products": []any{map[string]any{
		"id": 1, "articleNumber": "BONUS-1", "desc": "Gratis Kaffee", "quantity": 1, "priceOne": 0, "tax": 19,
	}}}, nil
}
