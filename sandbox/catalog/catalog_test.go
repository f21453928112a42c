package catalog

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTableLoadsAndCitesTheSpec(t *testing.T) {
	all := All()
	require.GreaterOrEqual(t, len(all), 80, "every resource of spec §6")
	section := regexp.MustCompile(`^§[1-9][0-9]?(\.[0-9]+)?$`)
	for _, r := range all {
		require.NotEmpty(t, r.Spec, r.Name)
		for _, s := range r.Spec {
			assert.Regexp(t, section, s, r.Name)
		}
		for _, a := range r.Actions {
			require.NotEmpty(t, a.Spec, r.Name+"."+a.Name)
			for _, s := range a.Spec {
				assert.Regexp(t, section, s, r.Name+"."+a.Name)
			}
		}
	}
}

// The facts the POS core depends on, stated once more against the spec
// text, so an edit of resources.txt that loses one fails here.
func TestSpecFacts(t *testing.T) {
	tx, ok := Lookup("Smart.Transactions")
	require.True(t, ok, "lookup is case-insensitive (spec §3.1)")
	assert.Equal(t, "STX_", tx.IDPrefix)
	assert.Equal(t, Recorded, tx.PrefixEvidence)
	for _, name := range []string{"diagnosis", "ENDOFDAY"} {
		a, ok := tx.Action(name)
		require.True(t, ok, name)
		assert.True(t, a.NoID, "%s is called without an id (spec §6.1)", name)
	}
	for _, name := range []string{"start", "cancel", "cancelTrx", "preTransaction", "prepare", "abort"} {
		a, ok := tx.Action(name)
		require.True(t, ok, name)
		assert.False(t, a.NoID, name)
	}

	acc, _ := Lookup("general.accounts")
	assert.True(t, acc.AnonymousCreate, "spec §3.4")
	pr, ok := acc.Action("passwordreset")
	require.True(t, ok)
	assert.True(t, pr.Anonymous, "spec §3.4: Java omits the token for passwordreset")
	up, _ := Lookup("document.uploads")
	assert.True(t, up.AnonymousCreate, "spec §3.4: JS omits the token for uploads")
	for _, r := range All() {
		if r.Name != "general.accounts" && r.Name != "document.uploads" {
			assert.False(t, r.AnonymousCreate, r.Name)
		}
	}

	idents, _ := Lookup("smart.idents")
	assert.Equal(t, "smi_", idents.IDPrefix, "spec §7.2: smi_1..smi_3")
	sales, _ := Lookup("loyalty.sales")
	assert.Equal(t, "sls_", sales.IDPrefix)

	payout, _ := Lookup("payment.secupaypayout")
	assert.Equal(t, []string{"cancel", "PayoutWithoutCustomer"}, payout.ActionNames(),
		"the .NET/PHP payment base actions are not documented for payouts")

	_, ok = Lookup("smart.transaction")
	assert.False(t, ok)
	assert.Equal(t, "smart.transactions", Suggest("smart.transaction"))
	assert.Equal(t, "", Suggest("completely.different"))
}

func TestParseNamesTheLine(t *testing.T) {
	cases := map[string]string{
		"no citation":        "resource a.b ABC_ invented\n",
		"bad prefix":         "resource a.b ABCD invented §6.2\n",
		"duplicate prefix":   "resource a.b ABC_ invented §6.2\nresource a.c ABC_ invented §6.2\n",
		"duplicate resource": "resource a.b ABC_ invented §6.2\nresource a.b ABD_ invented §6.2\n",
		"upper case":         "resource A.b ABC_ invented §6.2\n",
		"bad evidence":       "resource a.b ABC_ guessed §6.2\n",
		"orphan action":      "action x §6.2\n",
		"duplicate action":   "resource a.b ABC_ invented §6.2\n  action x §6.2\n  action X §6.2\n",
		"flag on resource":   "resource a.b ABC_ invented no-id §6.2\n",
		"flag on action":     "resource a.b ABC_ invented §6.2\n  action x anonymous-create §6.2\n",
		"unknown entry":      "resource a.b ABC_ invented §6.2\nthing x §6.2\n",
		"extra word":         "resource a.b ABC_ invented §6.2\n  action x y §6.2\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(text))
			require.Error(t, err)
			lines := strings.Count(strings.TrimRight(text, "\n"), "\n") + 1
			assert.Regexp(t, `^line [1-`+string(rune('0'+lines))+`]: `, err.Error())
		})
	}
	_, err := Parse([]byte("# only a comment\n"))
	assert.EqualError(t, err, "the table is empty")

	rs, err := Parse([]byte("resource a.b ABC_ recorded anonymous-create §3.4 # note\n  action Go no-id anonymous §6.1\n"))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, Resource{Name: "a.b", IDPrefix: "ABC_", PrefixEvidence: Recorded, AnonymousCreate: true, Spec: []string{"§3.4"},
		Actions: []Action{{Name: "Go", NoID: true, Anonymous: true, Spec: []string{"§6.1"}}}}, rs[0])
}
