package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// Issue 10.3: no secret in anything the library emits.

// lineSink collects log lines.
type lineSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *lineSink) Log(_ logging.Level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, msg)
}

func (s *lineSink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// TestErrorFieldNeverEchoesASecret: the field of the error JSON is host
// input too (10.3b).
func TestErrorFieldNeverEchoesASecret(t *testing.T) {
	_, err := api.ParseRequest([]byte(`{"resource":"smart.idents","op":"list","4111111111111111":1}`))
	e := errs.As(err)
	require.NotNil(t, e)
	assert.Equal(t, errs.InvalidArgument, e.Kind)
	assert.Equal(t, "************1111", e.Field)
	body, _ := json.Marshal(e)
	assert.NotContains(t, string(body), "4111111111111111")

	_, err = core.ParseConfig([]byte(`{"environment":"sandbox","sandbox_url":"http://127.0.0.1:1","5454545454545454":true}`))
	body, _ = json.Marshal(errs.As(err))
	assert.NotContains(t, string(body), "5454545454545454")
	assert.Contains(t, string(body), "5454", "the key stays recognisable by its last four")
}

// TestConfigErrorNeverEchoesTheSecret: a client secret typed into the wrong
// key (or a secret elsewhere in a config that fails) is not repeated by the
// error about it.
func TestConfigErrorNeverEchoesTheSecret(t *testing.T) {
	const secret = "Sup3r-Secret-Value-77"
	cases := map[string]string{
		"secret in the language key": `{"language":"` + secret + `","credentials":{"client_id":"id","client_secret":"` + secret + `"}}`,
		"secret in the sandbox url":  `{"environment":"sandbox","sandbox_url":"` + secret + `","credentials":{"client_id":"id","client_secret":"` + secret + `"}}`,
		"numeric pin as a key value": `{"credentials":{"client_id":"id","client_secret":"x","password":{"nested":"` + secret + `"}}}`,
		"password echoed by a type":  `{"credentials":{"client_id":"id","client_secret":"` + secret + `","device_uuid":42},"log_level":"` + secret + `"}`,
	}
	for name, cfgJSON := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := core.ParseConfig([]byte(cfgJSON))
			if err == nil {
				_, err = core.New(cfg)
			}
			require.Error(t, err)
			body, _ := json.Marshal(errs.As(err))
			assert.NotContains(t, string(body), secret)
			assert.NotContains(t, err.Error(), secret)
		})
	}
	// A Config built in Go reaches New without ParseConfig.
	_, err := core.New(core.Config{Language: secret, Credentials: &core.Credentials{ClientID: "id", ClientSecret: secret}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

// TestLiveClientSecretsSurviveOtherClients: the registry used to be one per
// process, capped at 512 values: 600 other clients pushed a live client's
// secret out, and its next log line carried it in clear (10.3d).
func TestLiveClientSecretsSurviveOtherClients(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	var sink lineSink
	c := newClient(t, srv, `{"log_level":"trace"}`, core.WithLogSink(&sink))
	_ = call(t, c, `{"resource":"smart.idents","op":"list"}`) // authenticated: the secret is known

	for i := 0; i < 600; i++ {
		other, err := core.New(core.Config{Credentials: &core.Credentials{ClientID: "id", ClientSecret: fmt.Sprintf("other-client-secret-%04d", i)}})
		require.NoError(t, err)
		require.NoError(t, other.ClearTokens(context.Background())) // builds its auth manager
		require.NoError(t, other.Close())
	}

	secret := srv.ClientSecret()
	_ = call(t, c, `{"resource":"smart.transactions","op":"create","data":{"merchantRef":"`+secret+`"}}`)
	logs := sink.all()
	require.Contains(t, logs, "request body", "the body was traced")
	assert.NotContains(t, logs, secret)
}

// TestTraceClipsAfterRedacting: a body over the 64 KiB line limit used to be
// cut first, so the card number at the cut lost its tail and escaped the
// mask (10.3a).
func TestTraceClipsAfterRedacting(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	var sink lineSink
	c := newClient(t, srv, `{"log_level":"trace"}`, core.WithLogSink(&sink))
	// Card numbers back to back, one per 17 bytes: whatever the prefix of
	// the line, the cut falls inside or right after one of them.
	pans := strings.Repeat(" 4111111111111111", (70<<10)/17)
	_ = call(t, c, `{"resource":"smart.transactions","op":"create","data":{"merchantRef":"`+pans+`"}}`)
	var traced string
	for _, l := range strings.Split(sink.all(), "\n") {
		if strings.Contains(l, "request body") {
			traced = l
		}
	}
	require.NotEmpty(t, traced)
	assert.LessOrEqual(t, len(traced), logging.MaxLine+64, "the line is clipped")
	assert.Contains(t, traced, "truncated")
	assert.Regexp(t, regexp.MustCompile(`\*{12}1111`), traced)
	assert.NotRegexp(t, regexp.MustCompile(`4111\d`), traced, "no card number, whole or cut, in clear")
}

// TestIDsKeepTheirDigits: the mask took ids for card numbers
// ("CUS_DOESNOTEXIST************0006"), garbling the one thing a till needs to
// report a missing object (10.3c).
func TestIDsKeepTheirDigits(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, "")
	const id = "CUS_DOESNOTEXIST4111111111110006" // its digits pass the Luhn check
	e := callErr(t, c, `{"resource":"payment.customers","op":"get","id":"`+id+`"}`)
	body, _ := json.Marshal(e)
	assert.Contains(t, string(body), id)
}

// TestEventsAreRedacted: an event is emitted bytes like a log line; its data
// stays valid JSON.
func TestEventsAreRedacted(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, "")
	_ = call(t, c, `{"resource":"smart.idents","op":"list"}`)
	secret := srv.ClientSecret()
	push := `{"object":"event.pushes","id":"evt-1","target":"smart.transactions","type":"changed",
		"data":{"pan":4111111111111111,"note":"` + secret + `","card":{"cvv":"123"}}}`
	require.NoError(t, c.HandleWebhook([]byte(push)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var e event.Event
	for e.Kind != event.KindPush {
		var err error
		e, err = c.NextEvent(ctx)
		require.NoError(t, err)
	}
	out := string(e.JSON())
	assert.True(t, json.Valid(e.JSON()), out)
	assert.NotContains(t, out, "4111111111111111")
	assert.NotContains(t, out, secret)
	assert.NotContains(t, out, `"123"`)
	assert.Contains(t, out, `"************1111"`)
}
