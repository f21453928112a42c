package sandbox_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox"
)

func TestHTTPSServesEverything(t *testing.T) {
	s, err := sandbox.New(sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	assert.Error(t, s.StartTLS("127.0.0.1:0", &tls.Config{}), "a certificate is needed")
	conf, caPEM, err := sandbox.SelfSignedTLS()
	require.NoError(t, err)
	require.NoError(t, s.StartTLS("127.0.0.1:0", conf))
	e := s.Endpoints()
	assert.True(t, strings.HasPrefix(e.RESTURL, "https://127.0.0.1:"), e.RESTURL)
	assert.Equal(t, caPEM, e.HTTPCA)
	assert.Empty(t, e.STOMPCA)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(e.HTTPCA))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := client.PostForm(e.OAuthURL, url.Values{"grant_type": {"device"}, "uuid": {"/vendor/x"},
		"client_id": {e.ClientID}, "client_secret": {e.ClientSecret}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `"verification_url":"https:\/\/`, "the device page is on https too")

	s.AddFault(sandbox.Fault{Path: "/smart/idents", Drop: sandbox.DropBeforeRead})
	// A fresh connection: Go retries a GET that failed on a reused one.
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}}
	_, err = fresh.Get(e.RESTURL + "/smart/idents")
	require.Error(t, err, "a dropped connection over TLS is a dropped connection")
	assert.NotContains(t, err.Error(), "certificate")
	assert.Equal(t, 0, s.Requests()[len(s.Requests())-1].Status)
}
