package product

import (
	"regexp"
	"testing"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogCoversSpec(t *testing.T) {
	// Every resource spec §6.1 lists for the Java SDK, plus a sample of §6.2.
	for _, name := range []string{
		"auth.sessions", "smart.transactions", "smart.idents", "smart.checkins", "loyalty.merchantcards",
		"loyalty.cardgroups", "loyalty.cards", "loyalty.customers", "general.stores", "general.accounts",
		"general.accountdevices", "general.apps", "general.merchants", "general.publicmerchants",
		"general.notifications", "general.news", "general.transactions", "document.uploads",
		"payment.containers", "payment.customers", "payment.contracts", "payment.secupaydebits",
		"payment.secupayprepays", "payment.secupaycreditcards", "payment.secupayinvoices",
		"payment.secupaypayout", "payment.transactions", "services.identrequests", "services.identresults",
		// JavaScript SDK additions
		"cardprocessing.invoices", "clearing.sepaoutrecords", "easycredit.transactions", "event.actions",
		"general.skeletons", "loyalty.actionconfigs", "payment.mandates", "prepaid.stocks", "public.website",
		"services.identcases", "smart.routings", "smart.devices", "smart.configurations",
	} {
		_, ok := Lookup(name)
		assert.True(t, ok, name)
	}
	assert.GreaterOrEqual(t, len(All()), 80)
}

func TestCatalogEntriesWellFormed(t *testing.T) {
	name := regexp.MustCompile(`^[a-z]+\.[a-z]+$`)
	prefix := regexp.MustCompile(`^[A-Za-z]{3}_$`)
	seen := map[string]bool{}
	for _, r := range All() {
		assert.Regexp(t, name, r.Name)
		assert.Regexp(t, prefix, r.IDPrefix, r.Name)
		assert.False(t, seen[r.IDPrefix], "duplicate prefix %s", r.IDPrefix)
		seen[r.IDPrefix] = true
		for _, a := range r.Actions {
			assert.True(t, a.Op.Valid(), "%s.%s", r.Name, a.Name)
		}
	}
}

func TestLookupCaseInsensitiveAndSuggest(t *testing.T) {
	r, ok := Lookup("Smart.Transactions")
	require.True(t, ok)
	assert.Equal(t, "STX_", r.IDPrefix)
	a, ok := r.Action("diagnosis")
	require.True(t, ok)
	assert.Equal(t, "Diagnosis", a.Name)
	assert.True(t, a.NoID)
	assert.Equal(t, "smart.transactions", Suggest("smart.transaction"))
	assert.Equal(t, "", Suggest("completely.different"))
}

func TestPreferSTOMP(t *testing.T) {
	cases := []struct {
		req  api.Request
		want bool
	}{
		{api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"}, true},
		{api.Request{Resource: "smart.transactions", Op: api.Execute, Action: "EndOfDay"}, true},
		{api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "1", Action: "cancelTrx"}, true},
		{api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "cancel"}, false},
		{api.Request{Resource: "smart.transactions", Op: api.Create}, false},
		{api.Request{Resource: "smart.checkins", Op: api.List}, true},
		{api.Request{Resource: "loyalty.merchantcards", Op: api.Execute, ID: "me", Action: "CheckCsc"}, true},
		{api.Request{Resource: "smart.idents", Op: api.List}, false},
		{api.Request{Resource: "unknown.thing", Op: api.List}, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, PreferSTOMP(&c.req), c.req.Name())
	}
}
