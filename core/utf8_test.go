package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/product"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// TestInvalidUTF8InConfigWebhookAndReceipt (issue 10.8b): text that is not
// UTF-8 was accepted and turned into U+FFFD on the way; it is refused as
// invalid_argument naming the field, wherever the host hands it in.
func TestInvalidUTF8InConfigWebhookAndReceipt(t *testing.T) {
	check := func(t *testing.T, err error, field string) {
		t.Helper()
		e := errs.As(err)
		require.NotNil(t, e, "accepted")
		assert.Equal(t, errs.InvalidArgument, e.Kind)
		assert.Equal(t, field, e.Field)
		assert.Contains(t, e.Message, "UTF-8")
	}
	t.Run("config", func(t *testing.T) {
		_, err := core.ParseConfig([]byte("{\"environment\":\"sandbox\",\"sandbox_url\":\"http://127.0.0.1:1\",\"app_id\":\"APP_caf\xe9\"}"))
		check(t, err, "app_id")
		_, err = core.ParseConfig([]byte("{\"credentials\":{\"client_id\":\"x\",\"client_secret\":\"y\",\"device_info\":{\"name\":\"Kasse \xfc\"}}}"))
		check(t, err, "credentials.device_info.name")
		_, err = core.ParseCredentials([]byte("{\"password\":\"geheim\xff\"}"))
		check(t, err, "credentials.password")
	})
	t.Run("webhook", func(t *testing.T) {
		c := newClient(t, testkit.Sandbox(t, sandbox.Options{}), "")
		err := c.HandleWebhook([]byte("{\"object\":\"event.pushes\",\"target\":\"general.notifications\",\"type\":\"display\",\"data\":{\"text\":\"Bitte Karte einstecken \xe9\"}}"))
		check(t, err, "data.text")
	})
	t.Run("receipt", func(t *testing.T) {
		_, err := product.ReceiptLines([]byte("[{\"type\":\"textline\",\"value\":{\"text\":\"ok\"}},{\"type\":\"textline\",\"value\":{\"text\":\"Caf\xe9\"}}]"))
		check(t, err, "receipt[1].value.text")
		_, err = product.ReceiptLines([]byte("{\"id\":\"STX_1\",\"receipt\":[{\"type\":\"textline\",\"value\":{\"text\":\"Caf\xe9\"}}]}"))
		check(t, err, "receipt[0].value.text")
	})
}
