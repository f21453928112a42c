package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

var (
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hex40 = regexp.MustCompile(`^[0-9a-f]{40}$`)
	hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func TestNewGeneratesCredentials(t *testing.T) {
	s, err := sandbox.New(sandbox.Options{})
	require.NoError(t, err)
	defer s.Close()
	assert.Regexp(t, hex32, s.ClientID())
	assert.Regexp(t, hex64, s.ClientSecret())

	_, err = sandbox.New(sandbox.Options{TokenTTL: -time.Second})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TokenTTL")
}

func TestClientCredentials(t *testing.T) {
	c := start(t, sandbox.Options{ClientID: "my-id", ClientSecret: "my-secret", TokenTTL: 90 * time.Second})
	t.Run("form", func(t *testing.T) {
		a := c.form(c.creds("grant_type", "client_credentials"))
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "application/json", a.Header.Get("Content-Type"))
		m := a.JSON(t)
		assert.Regexp(t, hex40, m["access_token"])
		assert.Regexp(t, hex40, m["refresh_token"])
		assert.Equal(t, json.Number("90"), m["expires_in"])
		assert.Equal(t, "bearer", m["token_type"])
		assert.Equal(t, "https://scope.secucard.com/e/api", m["scope"])
		assert.True(t, c.s.ValidToken(str(m["access_token"])))
	})
	t.Run("json body, Accept ignored", func(t *testing.T) {
		a := c.do("POST", "/oauth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": "my-id", "client_secret": "my-secret"},
			map[string]string{"Accept": "application/x-www-form-urlencoded"})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.True(t, c.s.ValidToken(str(a.JSON(t)["access_token"])))
	})
	errorsTable := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"my-id"}, "client_secret": {"nope"}}, 401, "invalid_client"},
		{"wrong id", url.Values{"grant_type": {"client_credentials"}, "client_id": {"other"}, "client_secret": {"my-secret"}}, 401, "invalid_client"},
		{"missing secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"my-id"}}, 400, "invalid_request"},
		{"missing grant", url.Values{"client_id": {"my-id"}, "client_secret": {"my-secret"}}, 400, "invalid_request"},
		{"unknown grant", url.Values{"grant_type": {"password"}, "client_id": {"my-id"}, "client_secret": {"my-secret"}}, 400, "unsupported_grant_type"},
	}
	for _, tc := range errorsTable {
		t.Run(tc.name, func(t *testing.T) {
			a := c.form(tc.form)
			assert.Equal(t, tc.status, a.Status)
			m := a.JSON(t)
			assert.Equal(t, tc.code, m["error"])
			assert.NotEmpty(t, m["error_description"])
			assert.NotContains(t, string(a.Raw), "my-secret")
		})
	}
}

// deviceStep1 requests codes and returns the step-1 answer.
func deviceStep1(t *testing.T, c *client) map[string]any {
	t.Helper()
	a := c.form(c.creds("grant_type", "device", "uuid", "/vendor/acme/pos/17"))
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	return a.JSON(t)
}

func poll(c *client, code string) answer {
	return c.form(c.creds("grant_type", "device", "code", code))
}

func TestDeviceFlow(t *testing.T) {
	t.Run("codes", func(t *testing.T) {
		c := start(t, sandbox.Options{DeviceAutoApprove: -1, DeviceCodeTTL: 600 * time.Second, DeviceInterval: 3})
		m := deviceStep1(t, c)
		assert.Regexp(t, hex32, m["device_code"])
		assert.Regexp(t, `^[a-z0-9]{8}$`, m["user_code"])
		assert.Equal(t, c.s.URL()+"/sandbox/verify", m["verification_url"])
		assert.Equal(t, json.Number("600"), m["expires_in"])
		assert.Equal(t, json.Number("3"), m["interval"])
	})
	t.Run("pending, slow_down, approved, consumed", func(t *testing.T) {
		clock := testkit.NewClock()
		c := start(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: 5})
		c.s.SetClock(clock.Now)
		m := deviceStep1(t, c)
		code, user := str(m["device_code"]), str(m["user_code"])

		a := poll(c, code)
		assert.Equal(t, http.StatusUnauthorized, a.Status)
		assert.Equal(t, "authorization_pending", a.JSON(t)["error"])

		clock.Advance(time.Second)
		a = poll(c, code)
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Equal(t, "slow_down", a.JSON(t)["error"])

		require.NoError(t, c.s.ApproveDevice(strings.ToUpper(user)), "user codes are accepted in any case")
		clock.Advance(5 * time.Second)
		a = poll(c, code)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		tok := a.JSON(t)
		assert.Regexp(t, hex40, tok["refresh_token"])
		assert.True(t, c.s.ValidToken(str(tok["access_token"])))

		clock.Advance(5 * time.Second)
		a = poll(c, code)
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Equal(t, "invalid_grant", a.JSON(t)["error"], "a device code is exchanged once")
		assert.Error(t, c.s.ApproveDevice(user), "a consumed code cannot be approved again")
	})
	outcomes := []struct {
		name   string
		act    func(s *sandbox.Server, user string) error
		status int
		code   string
	}{
		{"denied", (*sandbox.Server).DenyDevice, 400, "access_denied"},
		{"expired", (*sandbox.Server).ExpireDevice, 400, "expired_token"},
	}
	for _, tc := range outcomes {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: -1})
			m := deviceStep1(t, c)
			require.NoError(t, tc.act(c.s, str(m["user_code"])))
			a := poll(c, str(m["device_code"]))
			assert.Equal(t, tc.status, a.Status)
			assert.Equal(t, tc.code, a.JSON(t)["error"])
		})
	}
	t.Run("expires by itself", func(t *testing.T) {
		clock := testkit.NewClock()
		c := start(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: -1, DeviceCodeTTL: time.Minute})
		c.s.SetClock(clock.Now)
		m := deviceStep1(t, c)
		clock.Advance(time.Minute)
		a := poll(c, str(m["device_code"]))
		assert.Equal(t, "expired_token", a.JSON(t)["error"])
	})
	t.Run("unknown code", func(t *testing.T) {
		c := start(t, sandbox.Options{})
		a := poll(c, strings.Repeat("ab", 16))
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Equal(t, "invalid_grant", a.JSON(t)["error"])
		assert.Error(t, c.s.ApproveDevice("zzzzzzzz"))
	})
	t.Run("auto approve", func(t *testing.T) {
		clock := testkit.NewClock()
		c := start(t, sandbox.Options{DeviceAutoApprove: 10 * time.Second, DeviceInterval: -1})
		c.s.SetClock(clock.Now)
		m := deviceStep1(t, c)
		assert.Equal(t, json.Number("0"), m["interval"], "negative DeviceInterval sends 0")
		assert.Equal(t, http.StatusUnauthorized, poll(c, str(m["device_code"])).Status)
		clock.Advance(10 * time.Second)
		assert.Equal(t, http.StatusOK, poll(c, str(m["device_code"])).Status)
	})
	t.Run("zero auto approve is immediate", func(t *testing.T) {
		c := start(t, sandbox.Options{DeviceAutoApprove: 0})
		m := deviceStep1(t, c)
		assert.Equal(t, http.StatusOK, poll(c, str(m["device_code"])).Status)
	})
	t.Run("successor polls with the code under uuid", func(t *testing.T) {
		c := start(t, sandbox.Options{DeviceAutoApprove: 0})
		m := deviceStep1(t, c)
		a := c.form(c.creds("grant_type", "device", "uuid", str(m["device_code"])))
		assert.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	})
	t.Run("admin api", func(t *testing.T) {
		c := start(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: -1})
		m := deviceStep1(t, c)
		a := c.do("POST", "/sandbox/devices/approve", "", map[string]string{"user_code": str(m["user_code"])}, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, http.StatusOK, poll(c, str(m["device_code"])).Status)

		a = c.do("POST", "/sandbox/devices/deny", "", map[string]string{"user_code": "nosuchcd"}, nil)
		assert.Equal(t, http.StatusNotFound, a.Status)
		assert.Equal(t, "user_code", a.JSON(t)["field"])
		a = c.do("POST", "/sandbox/devices/expire", "", map[string]string{}, nil)
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Contains(t, a.JSON(t)["message"], "user_code")
		a = c.do("POST", "/sandbox/devices/approve", "", map[string]string{"usercode": "x"}, nil)
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Equal(t, "usercode", a.JSON(t)["field"])
	})
	t.Run("verify page", func(t *testing.T) {
		c := start(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: -1})
		m := deviceStep1(t, c)
		a := c.do("GET", "/sandbox/verify?user_code="+str(m["user_code"]), "", nil, nil)
		assert.Equal(t, http.StatusOK, a.Status)
		assert.Contains(t, string(a.Raw), `<form method="post"`)
		resp, err := c.http.PostForm(c.s.URL()+"/sandbox/verify", url.Values{"user_code": {str(m["user_code"])}, "decision": {"approve"}})
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, http.StatusOK, poll(c, str(m["device_code"])).Status)
	})
}

func TestRefreshToken(t *testing.T) {
	c := start(t, sandbox.Options{})
	a := c.form(c.creds("grant_type", "client_credentials"))
	first := a.JSON(t)
	rt := str(first["refresh_token"])

	a = c.form(c.creds("grant_type", "refresh_token", "refresh_token", rt))
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	second := a.JSON(t)
	assert.NotEqual(t, first["access_token"], second["access_token"])
	assert.NotEqual(t, rt, second["refresh_token"], "refresh tokens rotate")
	assert.True(t, c.s.ValidToken(str(second["access_token"])))

	a = c.form(c.creds("grant_type", "refresh_token", "refresh_token", rt))
	assert.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "invalid_grant", a.JSON(t)["error"], "the rotated-out refresh token is dead")

	a = c.form(c.creds("grant_type", "refresh_token"))
	assert.Equal(t, "invalid_request", a.JSON(t)["error"])

	t.Run("revoked", func(t *testing.T) {
		c.s.RevokeRefreshTokens()
		a := c.form(c.creds("grant_type", "refresh_token", "refresh_token", str(second["refresh_token"])))
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Equal(t, "invalid_grant", a.JSON(t)["error"])
	})
	t.Run("revoked via admin", func(t *testing.T) {
		rt := str(c.form(c.creds("grant_type", "client_credentials")).JSON(t)["refresh_token"])
		require.Equal(t, http.StatusOK, c.do("POST", "/sandbox/tokens/revoke_refresh", "", map[string]any{}, nil).Status)
		a := c.form(c.creds("grant_type", "refresh_token", "refresh_token", rt))
		assert.Equal(t, "invalid_grant", a.JSON(t)["error"])
	})
	t.Run("expired", func(t *testing.T) {
		clock := testkit.NewClock()
		c := start(t, sandbox.Options{RefreshTokenTTL: time.Hour})
		c.s.SetClock(clock.Now)
		rt := str(c.form(c.creds("grant_type", "client_credentials")).JSON(t)["refresh_token"])
		clock.Advance(time.Hour)
		a := c.form(c.creds("grant_type", "refresh_token", "refresh_token", rt))
		assert.Equal(t, "invalid_grant", a.JSON(t)["error"])
	})
}

func TestAppUser(t *testing.T) {
	c := start(t, sandbox.Options{AppUsers: map[string]string{"anna": "s3cret-pass"}})
	cases := []struct {
		name   string
		extra  []string
		status int
		code   string
	}{
		{"ok", []string{"username", "anna", "password", "s3cret-pass", "device", "dev-1", "deviceinfo[name]", "Till 1"}, 200, ""},
		{"wrong password", []string{"username", "anna", "password", "nope"}, 401, "invalid_grant"},
		{"unknown user", []string{"username", "bob", "password", "s3cret-pass"}, 401, "invalid_grant"},
		{"missing password", []string{"username", "anna"}, 400, "invalid_request"},
		{"missing username", []string{"password", "x"}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := c.form(c.creds(append([]string{"grant_type", "appuser"}, tc.extra...)...))
			assert.Equal(t, tc.status, a.Status, "%s", a.Raw)
			if tc.code != "" {
				assert.Equal(t, tc.code, a.JSON(t)["error"])
				assert.NotContains(t, string(a.Raw), "s3cret-pass")
			} else {
				assert.True(t, c.s.ValidToken(str(a.JSON(t)["access_token"])))
			}
		})
	}
	t.Run("json with nested deviceinfo", func(t *testing.T) {
		a := c.do("POST", "/oauth/token", "", map[string]any{"grant_type": "appuser", "client_id": c.s.ClientID(), "client_secret": c.s.ClientSecret(),
			"username": "anna", "password": "s3cret-pass", "deviceinfo": map[string]string{"name": "Till"}}, nil)
		assert.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	})
	t.Run("default user", func(t *testing.T) {
		c := start(t, sandbox.Options{})
		a := c.form(c.creds("grant_type", "appuser", "username", "cashier", "password", "cashier-password"))
		assert.Equal(t, http.StatusOK, a.Status)
	})
}

func TestTokenExpiry(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	require.Equal(t, http.StatusOK, c.do("GET", "/api/v2/smart/idents", tok, nil, nil).Status)

	c.s.ExpireTokens()
	assert.False(t, c.s.ValidToken(tok))
	a := c.do("GET", "/api/v2/smart/idents", tok, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, a.Status)
	m := a.JSON(t)
	assert.Equal(t, "error", m["status"])
	assert.Equal(t, "ProductSecurityException", m["error"])
	assert.Contains(t, m["error_details"], "invalid or expired")
	assert.NotContains(t, string(a.Raw), tok)

	tok = c.token()
	require.Equal(t, http.StatusOK, c.do("POST", "/sandbox/tokens/expire", "", nil, nil).Status)
	assert.False(t, c.s.ValidToken(tok))

	t.Run("ttl", func(t *testing.T) {
		clock := testkit.NewClock()
		c := start(t, sandbox.Options{TokenTTL: 1500 * time.Millisecond})
		c.s.SetClock(clock.Now)
		a := c.form(c.creds("grant_type", "client_credentials"))
		m := a.JSON(t)
		assert.Equal(t, json.Number("1"), m["expires_in"], "whole seconds, rounded down, min 1")
		clock.Advance(1499 * time.Millisecond)
		assert.True(t, c.s.ValidToken(str(m["access_token"])))
		clock.Advance(time.Millisecond)
		assert.False(t, c.s.ValidToken(str(m["access_token"])))
	})
}

func TestRequestsRecordGrant(t *testing.T) {
	c := start(t, sandbox.Options{})
	c.s.ResetRequests()
	c.form(c.creds("grant_type", "client_credentials"))
	recs := c.s.Requests()
	require.Len(t, recs, 1)
	assert.Equal(t, "POST", recs[0].Method)
	assert.Equal(t, "/oauth/token", recs[0].Path)
	assert.Equal(t, "client_credentials", recs[0].GrantType)
	assert.Equal(t, 200, recs[0].Status)

	a := c.do("GET", "/sandbox/requests", "", nil, nil)
	require.Equal(t, http.StatusOK, a.Status)
	arr := a.Array(t)
	require.Len(t, arr, 1, "admin calls are not recorded")
	assert.Equal(t, "client_credentials", arr[0].(map[string]any)["grant_type"])
	assert.NotContains(t, string(a.Raw), c.s.ClientSecret())

	require.Equal(t, http.StatusOK, c.do("DELETE", "/sandbox/requests", "", nil, nil).Status)
	assert.Empty(t, c.s.Requests())
}
