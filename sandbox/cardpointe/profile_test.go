package cardpointe_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

func TestProfileLifecycle(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	created := g.put("profile", map[string]any{
		"account": visa, "expiry": "1230", "name": "TOM JONES", "postal": "84047", "city": "MIDVALE",
	})
	requireCode(t, created, "A", "PPS", "09")
	assert.Equal(t, "Profile Saved", created["resptext"])
	pid := created["profileid"].(string)
	assert.Regexp(t, `^\d{20}$`, pid)
	assert.Equal(t, "1", created["acctid"])
	assert.Equal(t, "Y", created["defaultacct"])
	assert.Equal(t, visaToken, created["token"])
	assert.Equal(t, "41XXXXXXXXXX1111", created["account"])
	assert.Equal(t, "VISA", created["accttype"])
	assert.Equal(t, "TOM JONES", created["name"])
	assert.Equal(t, "MIDVALE", created["city"])
	assert.Equal(t, "N", created["auoptout"])

	// An exact duplicate is not created again (since 7/2022).
	dup := g.put("profile", map[string]any{
		"account": visa, "expiry": "1230", "name": "TOM JONES", "postal": "84047", "city": "MIDVALE",
	})
	assert.Equal(t, pid, dup["profileid"])
	assert.Equal(t, "1", dup["acctid"])

	// A second account in the same profile.
	second := g.put("profile", map[string]any{"profile": pid, "account": "5454545454545454", "expiry": "0131"})
	requireCode(t, second, "A", "PPS", "09")
	assert.Equal(t, pid, second["profileid"])
	assert.Equal(t, "2", second["acctid"])
	assert.Equal(t, "N", second["defaultacct"])

	// Get all (empty acctid: "//") and one.
	all := g.get("profile/" + pid + "//" + mid).array(t)
	require.Len(t, all, 2)
	assert.NotContains(t, all[0], "respstat", "a profile list has no respstat")
	one := g.get("profile/" + pid + "/2/" + mid).array(t)
	require.Len(t, one, 1)
	assert.Equal(t, "MC", one[0]["accttype"])

	// Update account 1.
	upd := g.put("profile", map[string]any{"profile": pid + "/1", "profileupdate": "Y", "name": "TOMMY JONES", "phone": "8015551234"})
	requireCode(t, upd, "A", "PPS", "09")
	assert.Equal(t, "TOMMY JONES", upd["name"])
	assert.Equal(t, "8015551234", upd["phone"])
	assert.Equal(t, "MIDVALE", upd["city"], "fields not sent stay")

	// Charge the stored profile: default account, then a named one.
	a := g.put("auth", map[string]any{"profile": pid, "amount": "5.00", "capture": "Y"})
	requireCode(t, a, "A", "FNOR", "00")
	assert.Equal(t, visaToken, a["token"])
	assert.Equal(t, pid, a["profileid"])
	assert.Equal(t, "1", a["acctid"])
	assert.Equal(t, "1230", a["expiry"], "the stored expiry is used")
	a = g.put("auth", map[string]any{"profile": pid + "/2", "amount": "5.00"})
	requireCode(t, a, "A", "FNOR", "00")
	assert.Equal(t, "2", a["acctid"])
	assert.Equal(t, "P", a["cvvresp"], "recorded: no CVV with a stored profile")

	// Deleting the default account while another exists: PPS 34 (recorded).
	requireCode(t, g.do(http.MethodDelete, "/cardconnect/rest/profile/"+pid+"/1/"+mid, nil).object(t), "C", "PPS", "34")
	del := g.do(http.MethodDelete, "/cardconnect/rest/profile/"+pid+"/2/"+mid, nil).object(t)
	requireCode(t, del, "A", "PPS", "08")
	assert.Equal(t, "Profile Deleted", del["resptext"])
	assert.Len(t, g.get("profile/"+pid+"//"+mid).array(t), 1)
	requireCode(t, g.get("profile/"+pid+"/2/"+mid).object(t), "C", "PPS", "96")

	// Delete the whole profile.
	requireCode(t, g.do(http.MethodDelete, "/cardconnect/rest/profile/"+pid+"//"+mid, nil).object(t), "A", "PPS", "08")
	requireCode(t, g.get("profile/"+pid+"//"+mid).object(t), "C", "PPS", "96")
	requireCode(t, g.do(http.MethodDelete, "/cardconnect/rest/profile/"+pid+"//"+mid, nil).object(t), "C", "PPS", "96")
	requireCode(t, g.put("auth", map[string]any{"profile": pid, "amount": "5.00"}), "C", "PPS", "96")
}

func TestProfileFromAuth(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	a := g.auth(visa, "1.00", map[string]any{"profile": "Y", "name": "ANN"})
	requireCode(t, a, "A", "FNOR", "00")
	pid := a["profileid"].(string)
	assert.Regexp(t, `^\d{20}$`, pid)
	assert.Equal(t, "1", a["acctid"])
	got := g.get("profile/" + pid + "/1/" + mid).array(t)
	assert.Equal(t, "ANN", got[0]["name"])
	assert.Equal(t, visaToken, got[0]["token"])

	// A declined auth creates no profile.
	d := g.auth("4387751111111053", "1.00", map[string]any{"profile": "Y"})
	requireCode(t, d, "C", "FNOR", "NU")
	assert.NotContains(t, d, "profileid")
}

func TestProfileRefusals(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, c := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"account": "4111111111111112"}, "13"},
		{map[string]any{"account": ""}, "34"},
		{map[string]any{"account": visa, "merchid": "1"}, "21"},
		{map[string]any{"account": visa, "profile": "12345678901234567890"}, "96"},
		{map[string]any{"account": visa, "profile": "12345678901234567890/1"}, "96"},
		{map[string]any{"account": "123123123123", "accttype": "ECHK", "bankaba": "036001808"}, "48"},
		{map[string]any{"account": visa, "expiry": "ab12"}, "15"},
	} {
		requireCode(t, g.put("profile", c.body), "C", "PPS", c.code)
	}
	requireCode(t, g.get("profile/1//1").object(t), "C", "PPS", "21")
	assert.Equal(t, http.StatusNotFound, g.do(http.MethodGet, "/cardconnect/rest/profile/1/"+mid, nil).status)
}
