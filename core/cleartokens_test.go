package core_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// TestClearTokensThenCall (issue 10.8e): the header promised that after
// clear_tokens "the next open or call authenticates", while a device till's
// next call failed with a generic "call Open first". A call must never start
// an interactive authorization (a payment would wait minutes for a person),
// so the code is right for a till: the error now says why and what to do,
// and the header says the same.
func TestClearTokensThenCall(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{DeviceAutoApprove: 0})
	device := newDeviceClient(t, srv, "/vendor/test/pos/clear")
	require.NoError(t, device.Open(context.Background()))
	call(t, device, `{"resource":"smart.idents","op":"list"}`)

	require.NoError(t, device.ClearTokens(context.Background()))
	srv.ResetRequests()
	e := callErr(t, device, `{"resource":"smart.idents","op":"list"}`)
	assert.Equal(t, errs.Auth, e.Kind)
	assert.Equal(t, errs.ReasonNotAuthorized, e.Reason)
	assert.Contains(t, e.Message, "the stored token was cleared")
	assert.Contains(t, e.Message, "call Open to authorize this device again")
	assert.Empty(t, testkit.Grants(srv), "the call started no device authorization")

	require.NoError(t, device.Open(context.Background()), "open runs a new device authorization")
	assert.Equal(t, []string{"device", "device"}, testkit.Grants(srv), "codes requested, then the token")
	call(t, device, `{"resource":"smart.idents","op":"list"}`)

	// client_credentials needs nobody: the next call authenticates by itself.
	cc := newClient(t, srv, "")
	call(t, cc, `{"resource":"smart.idents","op":"list"}`)
	require.NoError(t, cc.ClearTokens(context.Background()))
	srv.ResetRequests()
	call(t, cc, `{"resource":"smart.idents","op":"list"}`)
	assert.Equal(t, []string{"client_credentials"}, testkit.Grants(srv))
}

// TestHeaderSaysWhatClearTokensDoes keeps include/secucard.h in step with
// the behaviour above.
func TestHeaderSaysWhatClearTokensDoes(t *testing.T) {
	h, err := os.ReadFile("../include/secucard.h")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?s)/\* secucard_client_clear_tokens (.*?)\*/`).FindSubmatch(h)
	require.NotNil(t, m)
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(m[1]), "*", " ")), " ")
	assert.Contains(t, doc, "With the client_credentials grant the next call authenticates by itself")
	assert.Contains(t, doc, `only secucard_client_open authorizes again`)
	assert.Contains(t, doc, `reason "not_authorized"`)
}
