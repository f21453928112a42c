package core

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
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
	assert.Equal(t, int64(30000), r.connectTimeout.Milliseconds())
	assert.Equal(t, int64(30000), r.responseTimeout.Milliseconds())
	assert.Equal(t, uint16(0x0303), r.tls.MinVersion, "TLS 1.2 minimum")
	assert.False(t, r.tls.InsecureSkipVerify)
	assert.True(t, r.idempotency)
	assert.Equal(t, "client_credentials", c.Credentials.EffectiveGrant())
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
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	cases := map[string]struct{ in, field string }{
		"unknown key":          {`{"enviroment":"sandbox"}`, "enviroment"},
		"nested unknown":       {`{"stomp":{"prot":1}}`, "prot"},
		"wrong type":           {`{"timeouts":{"connect_ms":"30s"}}`, "timeouts.connect_ms"},
		"bad environment":      {`{"environment":"staging"}`, "environment"},
		"sandbox without url":  {`{"environment":"sandbox"}`, "sandbox_url"},
		"custom without oauth": {`{"environment":"custom","rest_url":"https://x"}`, "oauth_url"},
		"http to a network":    {`{"environment":"custom","oauth_url":"http://auth.example/token","rest_url":"https://x"}`, "oauth_url"},
		"url with userinfo":    {`{"environment":"custom","oauth_url":"https://u:p@auth.example","rest_url":"https://x"}`, "oauth_url"},
		"ftp url":              {`{"rest_url":"ftp://x"}`, "rest_url"},
		"plain stomp remote":   {`{"stomp":{"tls":false}}`, "stomp.tls"},
		"port range":           {`{"stomp":{"port":70000}}`, "stomp.port"},
		"negative timeout":     {`{"timeouts":{"response_ms":-1}}`, "timeouts.response_ms"},
		"routing":              {`{"stomp":{"routing":"mqtt"}}`, "stomp.routing"},
		"routing stomp off":    {`{"stomp":{"enabled":false,"routing":"stomp"}}`, "stomp.routing"},
		"language":             {`{"language":"fr"}`, "language"},
		"log level":            {`{"log_level":"loud"}`, "log_level"},
		"grant":                {`{"credentials":{"grant":"password","client_id":"a","client_secret":"b"}}`, "credentials.grant"},
		"device without uuid":  {`{"credentials":{"grant":"device","client_id":"a","client_secret":"b"}}`, "credentials.device_uuid"},
		"missing secret":       {`{"credentials":{"client_id":"a"}}`, "credentials.client_secret"},
		"store type":           {`{"store":{"type":"redis"}}`, "store.type"},
		"sqlite without path":  {`{"store":{"type":"sqlite"}}`, "store.path"},
		"short key":            {`{"store":{"encryption_key":"abcd"}}`, "store.encryption_key"},
		"tls version":          {`{"tls":{"min_version":"1.0"}}`, "tls.min_version"},
		"ca not pem":           {`{"tls":{"ca_file":"` + notPEM + `"}}`, "tls.ca_file"},
		"ca missing":           {`{"tls":{"ca_file":"/nonexistent/ca.pem"}}`, "tls.ca_file"},
		"retry bound":          {`{"retry":{"max_attempts":50}}`, "retry.max_attempts"},
		"heartbeat too small":  {`{"stomp":{"heartbeat_ms":10}}`, "stomp.heartbeat_ms"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.in))
			e := errs.As(err)
			require.NotNil(t, e, "expected an error")
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, c.field, e.Field, e.Error())
		})
	}
}

func TestConfigErrorNeverEchoesTheSecret(t *testing.T) {
	_, err := ParseConfig([]byte(`{"credentials":{"client_id":"a","client_secret":"s3cr3t-value-xyz","grant":"bogus"}}`))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-value-xyz")
}
