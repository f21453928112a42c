package core

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
)

func TestParseConfigDefaultsAreProduction(t *testing.T) {
	c, err := ParseConfig([]byte(`{"credentials":{"client_id":"id","client_secret":"secret"}}`))
	require.NoError(t, err)
	r, err := c.resolve()
	require.NoError(t, err)
	assert.Equal(t, "https://connect.secucard.com/oauth/token", r.oauthURL)
	assert.Equal(t, "https://connect.secucard.com/api/v2", r.restURL)
	assert.Equal(t, "connect.secucard.com", r.stompHost)
	assert.Equal(t, 61614, r.stompPort)
	assert.True(t, r.stompTLS)
	assert.True(t, r.stompEnabled)
	assert.Equal(t, int64(30000), r.connect.Milliseconds())
	assert.Equal(t, int64(30000), r.response.Milliseconds())
	assert.Equal(t, uint16(0x0303), r.tls.minVersion, "TLS 1.2 minimum")
	assert.True(t, r.idempotency)
	assert.Equal(t, auth.ClientCredentials, r.creds.Grant)
	assert.Equal(t, 3, r.policy.MaxAttempts)
	assert.Equal(t, int64(200), r.policy.Backoff.Initial.Milliseconds())
	assert.Equal(t, int64(10000), r.policy.Backoff.Max.Milliseconds())
	assert.Equal(t, int64(30000), r.policy.MaxWait.Milliseconds())
}

func TestParseConfigSandboxAndCustom(t *testing.T) {
	c, err := ParseConfig([]byte(`{"environment":"sandbox","sandbox_url":"http://127.0.0.1:8080/","stomp":{"port":61613,"tls":false}}`))
	require.NoError(t, err)
	r, _ := c.resolve()
	assert.Equal(t, "http://127.0.0.1:8080/oauth/token", r.oauthURL)
	assert.Equal(t, "http://127.0.0.1:8080/api/v2", r.restURL)
	assert.Equal(t, "127.0.0.1", r.stompHost)
	assert.True(t, r.stompEnabled, "a sandbox with a STOMP port enables STOMP")

	c, err = ParseConfig([]byte(`{"environment":"sandbox","sandbox_url":"http://localhost:1"}`))
	require.NoError(t, err)
	r, _ = c.resolve()
	assert.False(t, r.stompEnabled, "no STOMP port: REST only")

	c, err = ParseConfig([]byte(`{"environment":"custom","oauth_url":"https://auth.example/token","rest_url":"https://api.example/v2/","stomp":{"host":"mq.example"}}`))
	require.NoError(t, err)
	r, _ = c.resolve()
	assert.Equal(t, "https://api.example/v2", r.restURL)
	assert.Equal(t, "mq.example", r.stompHost)
}

func TestParseConfigErrorsNameTheKey(t *testing.T) {
	cases := map[string]struct{ in, field string }{
		"unknown key":           {`{"enviroment":"sandbox"}`, "enviroment"},
		"nested unknown":        {`{"stomp":{"prot":1}}`, "stomp.prot"},
		"nested unknown ms":     {`{"timeouts":{"bogus_ms":1}}`, "timeouts.bogus_ms"},
		"deeper unknown":        {`{"credentials":{"client_id":"a","client_secret":"b","devices":{}}}`, "credentials.devices"},
		"wrong type":            {`{"timeouts":{"connect_ms":"30s"}}`, "timeouts.connect_ms"},
		"string for a section":  {`{"stomp":"on"}`, "stomp"},
		"fraction":              {`{"retry":{"max_attempts":2.5}}`, "retry.max_attempts"},
		"grant not a string":    {`{"credentials":{"grant":5}}`, "credentials.grant"},
		"device_info value":     {`{"credentials":{"device_info":{"os":7}}}`, "credentials.device_info.os"},
		"bad environment":       {`{"environment":"staging"}`, "environment"},
		"sandbox without url":   {`{"environment":"sandbox"}`, "sandbox_url"},
		"sandbox url on http":   {`{"environment":"sandbox","sandbox_url":"http://sandbox.example.com:8080"}`, "sandbox_url"},
		"sandbox url not a url": {`{"environment":"sandbox","sandbox_url":"127.0.0.1:8080"}`, "sandbox_url"},
		"custom without oauth":  {`{"environment":"custom","rest_url":"https://x"}`, "oauth_url"},
		"http to a network":     {`{"environment":"custom","oauth_url":"http://auth.example/token","rest_url":"https://x"}`, "oauth_url"},
		"url with userinfo":     {`{"environment":"custom","oauth_url":"https://u:p@auth.example","rest_url":"https://x"}`, "oauth_url"},
		"ftp url":               {`{"rest_url":"ftp://x"}`, "rest_url"},
		"plain stomp remote":    {`{"stomp":{"tls":false}}`, "stomp.tls"},
		"port range":            {`{"stomp":{"port":70000}}`, "stomp.port"},
		"negative timeout":      {`{"timeouts":{"response_ms":-1}}`, "timeouts.response_ms"},
		"routing":               {`{"stomp":{"routing":"mqtt"}}`, "stomp.routing"},
		"routing stomp off":     {`{"stomp":{"enabled":false,"routing":"stomp"}}`, "stomp.routing"},
		"language":              {`{"language":"fr"}`, "language"},
		"log level":             {`{"log_level":"loud"}`, "log_level"},
		"grant":                 {`{"credentials":{"grant":"password","client_id":"a","client_secret":"b"}}`, "credentials.grant"},
		"device without uuid":   {`{"credentials":{"grant":"device","client_id":"a","client_secret":"b"}}`, "credentials.device_uuid"},
		"missing secret":        {`{"credentials":{"client_id":"a"}}`, "credentials.client_secret"},
		"store type":            {`{"store":{"type":"redis"}}`, "store.type"},
		"sqlite without path":   {`{"store":{"type":"sqlite"}}`, "store.path"},
		"short key":             {`{"store":{"encryption_key":"abcd"}}`, "store.encryption_key"},
		"tls version":           {`{"tls":{"min_version":"1.0"}}`, "tls.min_version"},
		"retry bound":           {`{"retry":{"max_attempts":50}}`, "retry.max_attempts"},
		"backoff order":         {`{"retry":{"initial_backoff_ms":5000,"max_backoff_ms":100}}`, "retry.initial_backoff_ms"},
		"heartbeat too small":   {`{"stomp":{"heartbeat_ms":10}}`, "stomp.heartbeat_ms"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.in))
			e := errs.As(err)
			require.NotNil(t, e, "expected an error")
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, c.field, e.Field, e.Error())
			for _, internal := range []string{"Go struct field", "cannot unmarshal", "json:", "core.", "auth.Grant", "reflect"} {
				assert.NotContains(t, e.Message, internal, "messages speak JSON, not Go")
			}
		})
	}
}

// A wrong type is named in JSON terms: a string where a string belongs to a
// named Go type is not "an object".
func TestConfigTypeMessages(t *testing.T) {
	cases := map[string]string{
		`{"credentials":{"grant":5}}`:           "must be a string, got a number",
		`{"stomp":"on"}`:                        "must be an object, got a string",
		`{"idempotency":"yes"}`:                 "must be true or false, got a string",
		`{"timeouts":{"connect_ms":"30s"}}`:     "must be a whole number, got a string",
		`{"events":{"queue_size":[1]}}`:         "must be a whole number, got an array",
		`{"credentials":{"device_info":"pos"}}`: "must be an object, got a string",
	}
	for in, want := range cases {
		_, err := ParseConfig([]byte(in))
		require.Error(t, err, in)
		assert.Contains(t, errs.As(err).Message, want, in)
	}
}

// Config errors never repeat a value: a secret typed into the wrong key must
// not come back in the error JSON (or any log line made from it).
func TestConfigErrorNeverEchoesTheSecret(t *testing.T) {
	const secret = "s3cr3t-value-xyz"
	for _, in := range []string{
		`{"credentials":{"client_id":"a","client_secret":"` + secret + `","grant":"bogus"}}`,
		`{"credentials":{"client_id":"a","client_secret":"x","grant":"` + secret + `"}}`,
		`{"environment":"` + secret + `"}`,
		`{"log_level":"` + secret + `"}`,
		`{"language":"` + secret + `"}`,
		`{"store":{"type":"` + secret + `"}}`,
		`{"stomp":{"routing":"` + secret + `"}}`,
		`{"tls":{"min_version":"` + secret + `"}}`,
		`{"rest_url":"http://example.com/` + secret + `"}`,
		`{"environment":"custom","oauth_url":"https://u:` + secret + `@x","rest_url":"https://x"}`,
		`{"stomp":{"destination":"` + secret + `"}}`,
		`{"stomp":{"host":"` + secret + `.example","tls":false}}`,
	} {
		_, err := ParseConfig([]byte(in))
		require.Error(t, err, in)
		b, _ := json.Marshal(errs.As(err))
		assert.NotContains(t, string(b), secret, in)
		assert.NotContains(t, err.Error(), secret, in)
	}
}

// An absurd key is repeated only in part: a 10 MB key must not make a 20 MB
// error.
func TestConfigErrorCapsEchoedKeys(t *testing.T) {
	huge := strings.Repeat("k", 10<<20)
	for _, in := range []string{`{"` + huge + `":1}`, `{"timeouts":{"` + huge + `":1}}`} {
		_, err := ParseConfig([]byte(in))
		require.Error(t, err)
		b, _ := json.Marshal(errs.As(err))
		assert.Less(t, len(b), 1024)
		assert.Contains(t, errs.As(err).Field, "kkkk")
	}
}

// An empty key is named too (found by FuzzRequestURL): the field is `""`,
// never nothing.
func TestConfigErrorNamesAnEmptyKey(t *testing.T) {
	for in, field := range map[string]string{`{"":1}`: `""`, `{"stomp":{"":1}}`: `stomp.""`,
		`{"credentials":{"device_info":{"":1}}}`: `credentials.device_info.""`} {
		_, err := ParseConfig([]byte(in))
		require.Error(t, err)
		assert.Equal(t, field, errs.As(err).Field, in)
		assert.Contains(t, err.Error(), field)
	}
}

// Validation is pure: the CA file is read once, by New, not by ParseConfig.
func TestCAFileIsReadOnceInNew(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	for path, want := range map[string]string{notPEM: "holds no PEM certificate", filepath.Join(dir, "missing.pem"): "does not exist"} {
		cfg, err := ParseConfig([]byte(`{"tls":{"ca_file":` + mustQuote(path) + `}}`))
		require.NoError(t, err, "ParseConfig reads no file")
		_, err = New(cfg)
		e := errs.As(err)
		require.NotNil(t, e)
		assert.Equal(t, "tls.ca_file", e.Field)
		assert.Contains(t, e.Message, want)
		assert.NotContains(t, e.Message, "open ", "no Go wording")
	}
}

func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// One credentials type and one check: the config's credentials and a
// credential callback's answer get the same verdict.
func TestOneCredentialsCheck(t *testing.T) {
	cases := map[string]bool{
		`{"client_id":"a","client_secret":"b"}`:                              true,
		`{"client_id":"a"}`:                                                  false,
		`{"grant":"device","client_id":"a","client_secret":"b"}`:             false,
		`{"client_id":"a","client_secret":"b","device_uuid":"/vendor/x"}`:    true,
		`{"grant":"appuser","client_id":"a","username":"u","password":"p"}`:  true, // the app client may have no secret (spec §2.2 leaves it open)
		`{"client_id":"a","username":"u"}`:                                   true,
		`{"grant":"appuser","client_id":"a"}`:                                false,
		`{"grant":"password","client_id":"a","client_secret":"b"}`:           false,
		`{"grant":"Client_Credentials","client_id":"a","client_secret":"b"}`: true,
	}
	for in, ok := range cases {
		t.Run(in, func(t *testing.T) {
			_, cfgErr := ParseConfig([]byte(`{"credentials":` + in + `}`))

			answer, err := ParseCredentials([]byte(in))
			require.NoError(t, err)
			// Nothing listens on port 1: valid credentials fail on the
			// network, invalid ones before anything is sent.
			m, err := auth.NewManager(auth.Config{TokenURL: "http://127.0.0.1:1/oauth/token", WaitTimeout: 1, Policy: resolvedPolicy(t),
				Sleep: retry.NoSleep,
				Provider: auth.ProviderFunc(func(ctx context.Context, req auth.PromptRequest) (auth.Credentials, error) {
					return answer, nil
				})})
			require.NoError(t, err)
			_, cbErr := m.Token(context.Background(), false)
			if ok {
				assert.NoError(t, cfgErr)
				assert.NotEqual(t, errs.InvalidArgument, errs.KindOf(cbErr), "%v", cbErr)
				return
			}
			require.Error(t, cfgErr)
			require.Error(t, cbErr)
			assert.Equal(t, errs.InvalidArgument, errs.KindOf(cbErr), "%v", cbErr)
			assert.Equal(t, errs.As(cfgErr).Field, errs.As(cbErr).Field)
		})
	}
}

func resolvedPolicy(t *testing.T) call.Policy {
	t.Helper()
	c := Config{}
	r, err := c.resolve()
	require.NoError(t, err)
	return r.policy
}

// Every default comes from the one table, also for the sub-packages: the
// resolved values equal the table's.
func TestResolveAppliesTheDefaultsTable(t *testing.T) {
	r, err := (&Config{}).resolve()
	require.NoError(t, err)
	d := defaults
	assert.Equal(t, d.Auth.WaitTimeoutMS, int(r.waitTimeout.Milliseconds()))
	assert.Equal(t, d.Auth.RefreshMarginMS, int(r.margin.Milliseconds()))
	assert.Equal(t, d.Timeouts.ConnectMS, int(r.connect.Milliseconds()))
	assert.Equal(t, d.Timeouts.ResponseMS, int(r.response.Milliseconds()))
	assert.Equal(t, d.Retry.MaxAttempts, r.policy.MaxAttempts)
	assert.Equal(t, d.Retry.InitialBackoffMS, int(r.policy.Backoff.Initial.Milliseconds()))
	assert.Equal(t, d.Retry.MaxBackoffMS, int(r.policy.Backoff.Max.Milliseconds()))
	assert.Equal(t, d.Retry.MaxRetryAfterMS, int(r.policy.MaxWait.Milliseconds()))
	assert.Equal(t, d.STOMP.HeartbeatMS, int(r.stomp.heartbeat.Milliseconds()))
	assert.Equal(t, d.STOMP.MessageTimeoutMS, int(r.stomp.message.Milliseconds()))
	assert.Equal(t, d.STOMP.Destination, r.STOMP.Destination)
	assert.Equal(t, d.Events.QueueSize, r.Events.QueueSize)
	assert.Equal(t, d.Language, r.Language)
	assert.Equal(t, "memory", r.store.typ)
	assert.Equal(t, "auto", r.stomp.routing)

	// Values the host gives win, zero means the default.
	c := Config{Retry: RetryConfig{MaxAttempts: 1}, Timeouts: Timeouts{ConnectMS: 5}}
	r, err = c.resolve()
	require.NoError(t, err)
	assert.Equal(t, 1, r.policy.MaxAttempts)
	assert.Equal(t, int64(5), r.connect.Milliseconds())
	assert.Equal(t, d.Timeouts.ResponseMS, int(r.response.Milliseconds()))
}
