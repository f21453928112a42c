package sandbox_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox"
)

func TestIdentsReadAndValidate(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	card := sandbox.SeedCards[0].CardNumber

	a := c.do("POST", "/api/v2/smart/idents/smi_1/read", tok, nil, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	assert.Equal(t, "secucard Kundenkarte", a.JSON(t)["name"])

	a = c.do("POST", "/api/v2/smart/idents/smi_9/read", tok, nil, nil)
	assert.Equal(t, http.StatusNotFound, a.Status)

	a = c.do("POST", "/api/v2/smart/idents/notused/validate", tok, []map[string]string{
		{"type": "card", "value": card}, {"type": "card", "value": "9276000000000001"}, {"type": "checkin", "value": "CKI_X"},
	}, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	got := a.Array(t)
	require.Len(t, got, 3)
	first, second, third := got[0].(map[string]any), got[1].(map[string]any), got[2].(map[string]any)
	assert.Equal(t, "smi_1", first["id"])
	assert.Equal(t, true, first["valid"], "a seeded card is valid")
	assert.Equal(t, false, second["valid"], "an unknown card is not")
	assert.Equal(t, "9276", second["prefix"])
	assert.Equal(t, "smi_2", third["id"], "matched by type and prefix")

	a = c.do("POST", "/api/v2/smart/idents/notused/validate", tok, map[string]string{"value": card}, nil)
	assert.Equal(t, http.StatusBadRequest, a.Status)
	assert.Contains(t, string(a.Raw), "data")
}

func TestTransactionIdentsCompletedAndEmptyBasketNotStarted(t *testing.T) {
	c := start(t, sandbox.Options{StartDelay: -1})
	tok := c.token()
	a := c.do("POST", "/api/v2/smart/transactions", tok, map[string]any{
		"idents": []map[string]string{{"type": "card", "value": sandbox.SeedCards[0].CardNumber}},
	}, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	tx := a.JSON(t)
	ident := tx["idents"].([]any)[0].(map[string]any)
	assert.Equal(t, "smi_1", ident["id"])
	assert.Equal(t, "secucard Kundenkarte", ident["name"])
	assert.Equal(t, true, ident["valid"])

	a = c.do("POST", "/api/v2/smart/transactions/"+str(tx["id"])+"/start/demo", tok, nil, nil)
	assert.Equal(t, http.StatusBadRequest, a.Status, "no amount: nothing to charge")
	assert.Contains(t, string(a.Raw), "basket_info.sum")
}
