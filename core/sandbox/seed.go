package sandbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// cardSecret holds what CheckCsc and CheckPasscode compare; it is never
// served.
type cardSecret struct{ csc, pin string }

// SeedCard describes a seeded loyalty card for tests and the README.
type SeedCard struct {
	CardNumber     string // 16 digits, prefix 9276 (smart.idents smi_1)
	MerchantCardID string
	CSC, PIN       string
	Balance        int64 // cents
	Locked         bool
}

// SeedCards are the loyalty cards of the seed data. Card 1 pays, card 2 has
// no balance (a loyalty start is declined), card 3 is locked.
var SeedCards = []SeedCard{
	{CardNumber: luhnComplete("927600000000001"), MerchantCardID: seedID("MCD_", 1), CSC: "123", PIN: "1234", Balance: 5000},
	{CardNumber: luhnComplete("927600000000002"), MerchantCardID: seedID("MCD_", 2), CSC: "456", PIN: "0000", Balance: 0},
	{CardNumber: luhnComplete("927600000000003"), MerchantCardID: seedID("MCD_", 3), CSC: "789", PIN: "4321", Balance: 12345, Locked: true},
}

// Seed ids are fixed so tests and documentation can name them: the prefix,
// "SANDBOX" and a zero-padded number (30 characters after the prefix).
func seedID(prefix string, n int) string { return fmt.Sprintf("%sSANDBOX%023d", prefix, n) }

// Seed object ids.
var (
	SeedMerchantID  = seedID("MRC_", 1)
	SeedStoreID     = seedID("STO_", 1)
	SeedCardGroupID = seedID("CRG_", 1)
)

// SupportAppID is the app id the Java SDK uses for ping and sendLog (spec §4.13).
const SupportAppID = "APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG"

// luhnComplete appends the Luhn check digit, so seeded card numbers look real
// to card-number redaction.
func luhnComplete(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + strconv.Itoa((10-sum%10)%10)
}

func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

// seed loads the seed data: the three recorded smart.idents (spec §7.2) and a
// little plausible data for general.merchants, general.stores,
// loyalty.cardgroups, loyalty.customers, loyalty.cards,
// loyalty.merchantcards and general.apps.
func (s *Server) seed() {
	created := func(daysAgo int) string { return timestamp(time.Now().AddDate(0, 0, -daysAgo).Truncate(time.Hour)) }
	put := func(name string, o object) {
		o["object"] = name
		if _, ok := o["created"]; !ok {
			o["created"] = created(30)
		}
		s.collection(name).put(o)
	}
	for i, def := range []struct {
		typ, prefix, name string
		length            int64
	}{
		{"card", "9276", "secucard Kundenkarte", 16},
		{"checkin", "CKI_", "secucard Check-In", 34},
		{"checkin", "PPT_", "PayPal Check-In", 34},
	} {
		put("smart.idents", object{"id": "smi_" + strconv.Itoa(i+1), "type": def.typ, "name": def.name,
			"prefix": def.prefix, "length": num(def.length), "value": "", "valid": false})
	}
	s.idSeq["smart.idents"] = 3

	merchant := ref("general.merchants", SeedMerchantID)
	put("general.merchants", object{"id": SeedMerchantID, "name": "secucard Sandbox-Markt", "email": "markt@example.com",
		"location": object{"lat": json.Number("51.0504"), "lon": json.Number("13.7373")}, "created": created(400)})
	put("general.merchants", object{"id": seedID("MRC_", 2), "name": "Bäckerei Beispiel", "email": "backstube@example.com",
		"location": object{"lat": json.Number("52.5200"), "lon": json.Number("13.4050")}, "created": created(200)})

	for i, st := range []struct{ name, city, street, category string }{
		{"Sandbox-Markt Altstadt", "Dresden", "Musterstraße 1", "supermarket"},
		{"Sandbox-Markt Neustadt", "Dresden", "Hauptstraße 12", "supermarket"},
		{"Sandbox-Café am Markt", "Leipzig", "Markt 3", "cafe"},
	} {
		put("general.stores", object{"id": seedID("STO_", i+1), "merchant": merchant, "name": st.name, "name_raw": st.name,
			"source": "sandbox", "address_formatted": st.street + ", " + st.city, "category_main": st.category,
			"open_now": i != 2, "_isDefault": i == 0, "created": created(300 - 10*i)})
	}

	put("loyalty.cardgroups", object{"id": SeedCardGroupID, "merchant": merchant, "display_name": "Stammkunden",
		"display_name_raw": "Stammkunden", "stock_warn_limit": num(10)})
	for i, c := range []struct{ forename, surname string }{{"Erika", "Mustermann"}, {"Max", "Müller"}} {
		put("loyalty.customers", object{"id": seedID("CUS_", i+1), "merchant": merchant, "customernumber": strconv.Itoa(10001 + i),
			"contact": object{"forename": c.forename, "surname": c.surname, "email": fmt.Sprintf("kunde%d@example.com", i+1)}})
	}
	for i, c := range SeedCards {
		cardID := seedID("CRD_", i+1)
		put("loyalty.cards", object{"id": cardID, "cardnumber": c.CardNumber, "created": created(100 - i)})
		mc := object{"id": c.MerchantCardID, "merchant": merchant, "created_for_merchant": merchant,
			"created_for_store": ref("general.stores", SeedStoreID),
			"card":              object{"object": "loyalty.cards", "id": cardID, "cardnumber": c.CardNumber},
			"cardgroup":         object{"object": "loyalty.cardgroups", "id": SeedCardGroupID, "display_name": "Stammkunden"},
			"is_base_card":      false, "balance": num(c.Balance), "cash_balance": num(c.Balance), "bonus_balance": num(0),
			"points": num(int64(10 * (i + 1))), "stock_status": "active", "lock_status": "unlocked", "passcode": num(3)}
		if c.Locked {
			mc["lock_status"] = "locked"
		}
		if i < 2 {
			mc["customer"] = ref("loyalty.customers", seedID("CUS_", i+1))
		}
		put("loyalty.merchantcards", mc)
		s.cardSecrets[c.CardNumber] = cardSecret{csc: c.CSC, pin: c.PIN}
	}
	put("general.apps", object{"id": SupportAppID, "name": "secucard support"})
}
