package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/libsecucard/libsecucard/sandbox/catalog"
)

// cardSecret is the check data of a seeded loyalty card (never returned by
// the API; CheckCsc/CheckPasscode compare against it).
type cardSecret struct {
	csc, pin string
}

// SeedCard is a loyalty card of the seed data, for tests and the README.
type SeedCard struct {
	CardNumber   string // 16 digits, prefix 9276, Luhn-valid
	CSC, PIN     string
	MerchantCard string // loyalty.merchantcards id
	Card         string // loyalty.cards id
}

// SeedCards are the loyalty cards every new sandbox holds.
var SeedCards = []SeedCard{
	{CardNumber: "9276000000000016", CSC: "1234", PIN: "4711", MerchantCard: seedID("MCD_", 1), Card: seedID("CRD_", 1)},
	{CardNumber: "9276000000000024", CSC: "5678", PIN: "0815", MerchantCard: seedID("MCD_", 2), Card: seedID("CRD_", 2)},
	{CardNumber: "9276000000000032", CSC: "9012", PIN: "1234", MerchantCard: seedID("MCD_", 3), Card: seedID("CRD_", 3)},
}

// seedID makes a stable, readable id of the real shape: prefix + 30
// upper-case alphanumerics ("MRC_SANDBOX00000000000000000000001").
func seedID(prefix string, n int) string {
	return fmt.Sprintf("%sSANDBOX%023d", prefix, n)
}

// Seed ids that tests and the README refer to.
var (
	SeedMerchantID = seedID("MRC_", 1)
	SeedAccountID  = seedID("ACC_", 1)
	SeedDeviceID   = seedID("SDV_", 1)
	// SeedAppID is the app id the Java SDK pings and logs to (spec §4.13).
	SeedAppID = "APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG"
)

// seedTime is when the seed data was "created": fixed, so lists sort the
// same in every run.
const seedTime = "2024-03-01T09:00:00+01:00"

func ref(obj, id string) map[string]any { return map[string]any{"object": obj, "id": id} }

// seed fills every catalog resource's collection and adds the seed objects.
func (s *Server) seed() {
	for _, r := range catalog.All() {
		s.colls[r.Name] = newCollection(r)
	}
	add := func(res string, fields map[string]any) {
		c := s.colls[res]
		o := object(clone(normalizeNumbers(fields)).(map[string]any))
		o["object"] = res
		if _, ok := o["created"]; !ok {
			o["created"] = seedTime
		}
		c.put(o["id"].(string), o)
	}

	// smart.idents exactly as recorded (spec §7.2).
	add("smart.idents", map[string]any{"id": "smi_1", "type": "card", "prefix": "9276", "length": 16, "name": "secucard Kundenkarte"})
	add("smart.idents", map[string]any{"id": "smi_2", "type": "checkin", "prefix": "CKI_", "length": 34, "name": "secucard Check-In"})
	add("smart.idents", map[string]any{"id": "smi_3", "type": "checkin", "prefix": "PPT_", "length": 34, "name": "PayPal Check-In"})
	s.colls["smart.idents"].seq = 3
	for _, o := range s.colls["smart.idents"].items {
		delete(o, "created") // the recorded idents carry none
	}

	m1, m2 := SeedMerchantID, seedID("MRC_", 2)
	add("general.merchants", map[string]any{"id": m1, "name": "Bäckerei Sandmann GmbH", "email": "kasse@baeckerei-sandmann.example",
		"location": map[string]any{"lat": 51.0504, "lon": 13.7373}})
	add("general.merchants", map[string]any{"id": m2, "name": "Café Zur Düne", "email": "info@cafe-duene.example",
		"location": map[string]any{"lat": 54.0924, "lon": 12.0991}})
	s.colls["general.merchants"].me = m1

	stores := []struct {
		n                 int
		merchant, name    string
		street, zip, city string
		lat, lon          float64
		category          string
	}{
		{1, m1, "Filiale Hauptstraße", "Hauptstraße 1", "01097", "Dresden", 51.0603, 13.7430, "bakery"},
		{2, m1, "Filiale Hauptbahnhof", "Wiener Platz 4", "01069", "Dresden", 51.0404, 13.7320, "bakery"},
		{3, m2, "Café Zur Düne", "Strandweg 7", "18119", "Rostock", 54.1780, 12.0830, "cafe"},
	}
	for _, st := range stores {
		add("general.stores", map[string]any{
			"id": seedID("STO_", st.n), "merchant": ref("general.merchants", st.merchant), "name": st.name, "name_raw": st.name,
			"source": "sandbox", "address_formatted": fmt.Sprintf("%s, %s %s, Deutschland", st.street, st.zip, st.city),
			"address_components": []any{
				map[string]any{"long_name": st.street, "short_name": st.street, "types": []any{"route"}},
				map[string]any{"long_name": st.zip, "short_name": st.zip, "types": []any{"postal_code"}},
				map[string]any{"long_name": st.city, "short_name": st.city, "types": []any{"locality"}},
			},
			"geometry": map[string]any{"lat": st.lat, "lon": st.lon}, "category": []any{st.category}, "category_main": st.category,
			"open_now": true, "has_beacon": false,
		})
	}

	add("general.accounts", map[string]any{"id": SeedAccountID, "username": "cashier@baeckerei-sandmann.example", "role": "cashier",
		"contact": map[string]any{"forename": "Kim", "surname": "Kasse", "name": "Kim Kasse", "email": "cashier@baeckerei-sandmann.example"}})
	s.colls["general.accounts"].me = SeedAccountID
	add("general.apps", map[string]any{"id": SeedAppID, "name": "secucard connect SDK"})
	add("smart.devices", map[string]any{"id": SeedDeviceID, "merchant": ref("general.merchants", m1), "store": ref("general.stores", seedID("STO_", 1)),
		"vendor": "sandbox", "vendor_uid": "/pointofsale/sandbox-till-1", "type": "cashier", "description": "Kasse 1", "online": true, "number": 1})

	add("loyalty.cardgroups", map[string]any{"id": seedID("CRG_", 1), "display_name": "Stammkunden", "display_name_raw": "Stammkunden",
		"stock_warn_limit": 500, "merchant": ref("general.merchants", m1)})
	add("loyalty.customers", map[string]any{"id": seedID("CUS_", 1), "merchant": ref("general.merchants", m1), "customernumber": "10001",
		"contact": map[string]any{"forename": "Erika", "surname": "Mustermann", "name": "Erika Mustermann", "email": "erika@example.com"}})

	balances := []struct{ balance, cash, bonus, points, passcode int }{{2500, 2000, 500, 120, 3}, {0, 0, 0, 0, 2}, {10000, 10000, 0, 40, 1}}
	for i, sc := range SeedCards {
		add("loyalty.cards", map[string]any{"id": sc.Card, "cardnumber": sc.CardNumber, "account": ref("general.accounts", SeedAccountID)})
		mc := map[string]any{
			"id": sc.MerchantCard, "merchant": ref("general.merchants", m1), "created_for_merchant": ref("general.merchants", m1),
			"created_for_store": ref("general.stores", seedID("STO_", 1)),
			"card":              map[string]any{"object": "loyalty.cards", "id": sc.Card, "cardnumber": sc.CardNumber},
			"cardgroup":         ref("loyalty.cardgroups", seedID("CRG_", 1)), "is_base_card": false,
			"balance": balances[i].balance, "cash_balance": balances[i].cash, "bonus_balance": balances[i].bonus,
			"points": balances[i].points, "stock_status": "active", "lock_status": "unlocked", "passcode": balances[i].passcode,
		}
		if i == 0 {
			mc["customer"] = ref("loyalty.customers", seedID("CUS_", 1))
		}
		add("loyalty.merchantcards", mc)
		s.cardSecrets[sc.CardNumber] = cardSecret{csc: sc.CSC, pin: sc.PIN}
	}
	s.colls["loyalty.sales"].seq = 100000
}

// normalizeNumbers turns Go numbers in seed literals into json.Number, the
// form decoded bodies use.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
		return t
	case int:
		return json.Number(fmt.Sprint(t))
	case float64:
		return json.Number(strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.6f", t), "0"), "."))
	}
	return v
}
