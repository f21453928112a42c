package core_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/product"
	"github.com/libsecucard/libsecucard/sandbox"
)

// paidOrDeclined accepts either end of a demo payment (the sandbox declines
// a share of them): paid is a nil error and status ok; declined is a
// Declined error with the transaction, status failed, handed back as well.
func paidOrDeclined(t *testing.T, tx *product.SmartTransaction, err error) {
	t.Helper()
	require.NotNil(t, tx, "the transaction comes back either way (err: %v)", err)
	if err == nil {
		assert.Equal(t, "ok", tx.Status)
		return
	}
	e := errs.As(err)
	require.Equal(t, errs.Declined, e.Kind, "%v", err)
	assert.Equal(t, "failed", tx.Status)
	assert.Equal(t, "failed", e.Reason)
}

// TestDeclinedStartIsAnError (issue 10.8a): a declined payment came back as
// SECUCARD_OK with "status":"failed", and a till that checks the status code
// took it for paid. A start whose transaction ends without payment is a
// Declined error carrying the transaction and its receipt, on REST and on
// STOMP; a paid one is a success.
func TestDeclinedStartIsAnError(t *testing.T) {
	for _, channel := range []api.Channel{api.REST, api.STOMP} {
		t.Run(string(channel), func(t *testing.T) {
			srv, stompCfg := stompSandbox(t, sandbox.Options{StartDelay: -1, Seed: 1})
			c := newClient(t, srv, `{`+stompCfg+`}`)
			require.NoError(t, c.Open(context.Background()))
			var paid, declined int
			// The demo terminal declines a fifth of the payments at random
			// (seeded): pay until both ends were seen.
			for i := 0; i < 100 && (paid == 0 || declined == 0); i++ {
				id := createdTx(t, c).ID
				res, err := c.Call(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute,
					ID: id, Action: "start", Arg: "demo", Channel: channel})
				if err == nil {
					paid++
					status, _ := product.Settled("smart.transactions", res)
					assert.Equal(t, "ok", status, "a success is a payment")
					continue
				}
				declined++
				e := errs.As(err)
				require.Equal(t, errs.Declined, e.Kind, "%v", err)
				assert.Nil(t, res)
				assert.Equal(t, "failed", e.Reason)
				assert.False(t, e.Retryable)
				assert.Equal(t, errs.OutcomeRejected, e.Outcome, "the server answered: no payment")
				assert.Equal(t, id, e.ObjectID)
				assert.NotEmpty(t, e.IdempotencyKey)
				assert.Contains(t, e.Message, `ended with status "failed"`)
				var tx product.SmartTransaction
				require.NoError(t, json.Unmarshal(e.Transaction, &tx))
				assert.Equal(t, id, tx.ID)
				assert.Equal(t, "failed", tx.Status)
				require.NotEmpty(t, tx.Receipt, "the decline receipt is there to print")

				// The error JSON the C API hands out prints as a receipt.
				body, err := json.Marshal(e)
				require.NoError(t, err)
				lines, err := product.ReceiptLines(body)
				require.NoError(t, err)
				assert.Contains(t, product.FormatReceipt(lines, 40), "12,97")
			}
			assert.Positive(t, paid)
			assert.Positive(t, declined)
			assert.Equal(t, int64(declined), c.Stats().Calls["declined"])
		})
	}
	_ = core.Version
}
