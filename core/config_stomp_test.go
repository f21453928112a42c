package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
)

func TestSTOMPTimeoutDefaultsAndOverrides(t *testing.T) {
	c, err := ParseConfig([]byte(`{}`))
	require.NoError(t, err)
	r, err := c.resolve()
	require.NoError(t, err)
	assert.Equal(t, int64(30000), r.stomp.heartbeat.Milliseconds())
	assert.Equal(t, int64(20000), r.stomp.connect.Milliseconds())
	assert.Equal(t, int64(120000), r.stomp.message.Milliseconds())
	assert.Equal(t, int64(15000), r.stomp.sessionRefresh.Milliseconds())

	c, err = ParseConfig([]byte(`{"stomp":{"heartbeat_ms":5000,"connect_timeout_ms":1000,"message_timeout_ms":2000,"session_refresh_timeout_ms":3000}}`))
	require.NoError(t, err)
	r, err = c.resolve()
	require.NoError(t, err)
	assert.Equal(t, int64(5000), r.stomp.heartbeat.Milliseconds())
	assert.Equal(t, int64(1000), r.stomp.connect.Milliseconds())
	assert.Equal(t, int64(2000), r.stomp.message.Milliseconds())
	assert.Equal(t, int64(3000), r.stomp.sessionRefresh.Milliseconds())
}

func TestSTOMPDestinationsAreChecked(t *testing.T) {
	tests := []struct{ in, field string }{
		{`{"stomp":{"destination":"exchange/connect.api/"}}`, "stomp.destination"},
		{`{"stomp":{"reply_queue":"/temp-queue/a b"}}`, "stomp.reply_queue"},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.in))
			require.Error(t, err)
			assert.Equal(t, tc.field, errs.As(err).Field)
		})
	}
	_, err := ParseConfig([]byte(`{"stomp":{"destination":"/exchange/other/","reply_queue":"/temp-queue/till7"}}`))
	assert.NoError(t, err)
}
