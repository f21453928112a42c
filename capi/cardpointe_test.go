package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// A CardPointe decline reaches the host through the one error mapper with
// every Gateway field at the top level of the error JSON.
func TestErrorJSONCarriesGatewayFields(t *testing.T) {
	e := errs.New(errs.Declined, "cardpointe.auth", "Do not honor (FNOR 05)")
	e.Gateway = errs.Gateway{RespStat: "C", RespCode: "05", RespText: "Do not honor", RespProc: "FNOR",
		Retref: "343005123456", AVSResp: "Y", CVVResp: "M", OrderID: "ORDER-17"}
	e.Outcome = errs.OutcomeRejected
	st, js := mapError(e)
	assert.Equal(t, statusDeclined, st)
	var m map[string]any
	require.NoError(t, json.Unmarshal(js, &m))
	for k, v := range map[string]any{"respstat": "C", "respcode": "05", "resptext": "Do not honor", "respproc": "FNOR",
		"retref": "343005123456", "avsresp": "Y", "cvvresp": "M", "orderid": "ORDER-17", "type": "declined", "outcome": "rejected"} {
		assert.Equal(t, v, m[k], k)
	}
	_, js = mapError(errs.New(errs.API, "smart.transactions.get", "x"))
	assert.NotContains(t, string(js), "respstat", "secucard errors carry no gateway fields")
}

// The request JSON names its system; capi hands either kind to core
// unchanged, on the same handle.
func TestCallRoutesBySystem(t *testing.T) {
	s := testkit.Sandbox(t, sandbox.Options{})
	cfg := testkit.ClientConfig(t, s)
	cfg["stomp"] = map[string]any{"enabled": false}
	cfg["cardpointe"] = testkit.CardPointeConfig(s)
	id, err := clientNew(testkit.JSON(t, cfg), nil)
	require.NoError(t, err)
	defer clientFree(id, false)

	res, err := call(id, []byte(`{"system":"cardpointe","op":"auth","data":{"account":"4111111111111111","expiry":"1230","amount":100}}`))
	require.NoError(t, err)
	var a map[string]any
	require.NoError(t, json.Unmarshal(res, &a))
	assert.Equal(t, "A", a["respstat"])

	res, err = call(id, []byte(`{"system":"secucard","resource":"smart.idents","op":"list"}`))
	require.NoError(t, err, "the secucard side of the same handle")
	assert.Contains(t, string(res), `"count"`)

	_, err = call(id, []byte(`{"system":"cardpointe","op":"auth","data":{"account":"4387751111111038","expiry":"1230","amount":100}}`))
	st, js := mapError(err)
	assert.Equal(t, statusDeclined, st)
	assert.Contains(t, string(js), `"respcode":"05"`)

	_, err = call(id, []byte(`{"system":"other","op":"auth"}`))
	st, js = mapError(err)
	assert.Equal(t, statusInvalidArgument, st)
	assert.Contains(t, string(js), `"field":"system"`)

	done := make(chan []byte, 1)
	_, err = callAsync(id, []byte(`{"system":"cardpointe","op":"inquireMerchant"}`), func(_ uint64, status int, result, ej []byte) {
		assert.Equal(t, statusOK, status, "%s", ej)
		done <- result
	})
	require.NoError(t, err)
	assert.Contains(t, string(<-done), `"merchid"`)
	_, err = callAsync(id, []byte(`{"system":"cardpointe","op":"auth","data":{"amount":"1.00"}}`), func(uint64, int, []byte, []byte) {
		t.Error("a request refused up front never completes")
	})
	st, js = mapError(err)
	assert.Equal(t, statusInvalidArgument, st)
	assert.Contains(t, string(js), `"field":"data.amount"`)
}
