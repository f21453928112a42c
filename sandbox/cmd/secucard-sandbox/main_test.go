package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// build compiles the command once per test run.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the CLI test builds the binary and needs go on PATH: %v", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "secucard-sandbox-test"); buildErr != nil {
			return
		}
		if out, err := exec.Command(goBin, "build", "-o", filepath.Join(buildDir, "secucard-sandbox"), ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(buildDir, "secucard-sandbox")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// syncBuffer collects stderr while the process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCommandContract(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin, "-http", "127.0.0.1:0", "-stomp", "127.0.0.1:0", "-seed", "3", "-v",
		"-device-auto-approve", "0s", "-device-interval", "0", "-start-delay", "1ms", "-token-ttl", "2m")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	reader := bufio.NewReader(stdout)
	lines := make(chan string, 1)
	go func() {
		line, _ := reader.ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("no ready line within 30s; stderr: %s", stderr.String())
	}
	require.True(t, strings.HasSuffix(line, "\n"), "one complete line: %q (stderr: %s)", line, stderr.String())

	dec := json.NewDecoder(strings.NewReader(line))
	var order []string
	_, err = dec.Token()
	require.NoError(t, err)
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		order = append(order, k.(string))
		var skip any
		require.NoError(t, dec.Decode(&skip))
	}
	assert.Equal(t, []string{"rest_url", "oauth_url", "stomp_addr", "admin_url", "client_id", "client_secret", "sandbox_url",
		"cardpointe_url", "cardpointe_username", "cardpointe_password", "cardpointe_merchid"}, order)

	var info map[string]string
	require.NoError(t, json.Unmarshal([]byte(line), &info))
	base := info["sandbox_url"]
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, base)
	assert.Equal(t, base+"/api/v2", info["rest_url"])
	assert.Equal(t, base+"/oauth/token", info["oauth_url"])
	assert.Equal(t, base+"/sandbox", info["admin_url"])
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, info["stomp_addr"])
	assert.Regexp(t, `^[0-9a-f]{32}$`, info["client_id"])
	assert.Regexp(t, `^[0-9a-f]{64}$`, info["client_secret"])
	assert.Equal(t, base+"/cardconnect/rest", info["cardpointe_url"])
	assert.Equal(t, "testing", info["cardpointe_username"], "the public UAT values by default")
	assert.Equal(t, "testing123", info["cardpointe_password"])
	assert.Equal(t, "496160873888", info["cardpointe_merchid"])

	httpc := &http.Client{Timeout: 10 * time.Second}
	creds := url.Values{"client_id": {info["client_id"]}, "client_secret": {info["client_secret"]}}
	post := func(extra url.Values) map[string]any {
		v := url.Values{}
		for k, vs := range creds {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		resp, err := httpc.PostForm(info["oauth_url"], v)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", m)
		return m
	}
	tok := post(url.Values{"grant_type": {"client_credentials"}})
	assert.EqualValues(t, 120, tok["expires_in"], "-token-ttl")

	codes := post(url.Values{"grant_type": {"device"}, "uuid": {"/vendor/test/pos/1"}})
	assert.EqualValues(t, 0, codes["interval"], "-device-interval 0")
	post(url.Values{"grant_type": {"device"}, "code": {codes["device_code"].(string)}}) // -device-auto-approve 0s

	req, _ := http.NewRequest("GET", info["rest_url"]+"/smart/idents", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, err := httpc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"count":3`)

	// The STOMP endpoint answers at stomp_addr with the same token.
	sc := stompLogin(t, info["stomp_addr"], nil, tok["access_token"].(string))
	send := frame.New(frame.SEND, frame.Destination, "/exchange/connect.api/api:get:smart.idents", "correlation-id", "c1",
		"reply-to", "/temp-queue/main", frame.Receipt, "r1")
	send.Body = []byte(`{}`)
	require.NoError(t, sc.w.Write(send))
	assert.Equal(t, frame.RECEIPT, sc.read(t).Command)
	reply := sc.read(t)
	assert.Equal(t, "c1", reply.Header.Get("correlation-id"))
	assert.Contains(t, string(reply.Body), `"status":"ok"`)
	_ = sc.nc.Close()

	resp, err = httpc.Get(info["admin_url"] + "/requests")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"grant_type":"client_credentials"`)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	rest, _ := io.ReadAll(reader)
	err = cmd.Wait()
	exited = true
	require.NoError(t, err, "exit status 0 after SIGTERM; stderr: %s", stderr.String())
	assert.Empty(t, string(rest), "nothing but the ready line on stdout")

	log := stderr.String()
	assert.Contains(t, log, "STOMP CONNECT -> CONNECTED")
	assert.Contains(t, log, "POST /oauth/token -> 200 grant_type=client_credentials", "-v logs requests")
	assert.NotContains(t, log, tok["access_token"].(string))
	assert.NotContains(t, log, info["client_secret"])
}

func TestCommandFlagErrors(t *testing.T) {
	cases := [][]string{
		{"-device-auto-approve", "soon"},
		{"-token-ttl", "0s"},
		{"-nope"},
		{"extra-arg"},
		{"-stomp-tls", "-stomp-ca-out", "ca.pem"},
		{"-stomp", "127.0.0.1:0", "-stomp-tls"},
		{"-stomp", "127.0.0.1:0", "-stomp-ca-out", "ca.pem"},
		{"-http-tls"},
		{"-http-ca-out", "ca.pem"},
		{"-cardpointe-timeout-delay", "-1s"},
		{"-cardpointe-timeout-delay", "soon"},
		{"-cardpointe-merchid", "not-digits"},
		{"-cardpointe-username", "a:b"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(args, &out, &errb)
			assert.Equal(t, 2, code)
			assert.Empty(t, out.String())
			assert.NotEmpty(t, errb.String())
		})
	}
	var out, errb bytes.Buffer
	assert.Equal(t, 1, run([]string{"-http", "256.0.0.1:99999"}, &out, &errb), "listen failure")
	assert.Contains(t, errb.String(), "cannot listen")
	assert.Empty(t, out.String())
	out.Reset()
	errb.Reset()
	assert.Equal(t, 1, run([]string{"-stomp", "256.0.0.1:99999"}, &out, &errb), "STOMP listen failure")
	assert.Contains(t, errb.String(), "cannot listen")
	assert.Empty(t, out.String())
}

// -http-tls and -stomp-tls serve over TLS with one fresh certificate,
// written for the client's tls.ca_file; the URLs start with https.
func TestCommandTLS(t *testing.T) {
	dir := t.TempDir()
	httpCA, stompCA := filepath.Join(dir, "http-ca.pem"), filepath.Join(dir, "stomp-ca.pem")
	info, _ := startCommand(t, build(t), "-http-tls", "-http-ca-out", httpCA, "-stomp", "127.0.0.1:0", "-stomp-tls", "-stomp-ca-out", stompCA)
	base := info["sandbox_url"]
	assert.Regexp(t, `^https://127\.0\.0\.1:\d+$`, base)
	assert.Equal(t, base+"/api/v2", info["rest_url"])
	assert.Equal(t, base+"/oauth/token", info["oauth_url"])
	assert.Equal(t, base+"/sandbox", info["admin_url"])

	pemBytes, err := os.ReadFile(httpCA)
	require.NoError(t, err)
	stompPEM, err := os.ReadFile(stompCA)
	require.NoError(t, err)
	assert.Equal(t, pemBytes, stompPEM, "one certificate for both: a client needs one CA file")
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes), "the CA file holds a PEM certificate")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}

	resp, err := client.PostForm(info["oauth_url"], url.Values{"grant_type": {"client_credentials"},
		"client_id": {info["client_id"]}, "client_secret": {info["client_secret"]}})
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.NotEmpty(t, tok.AccessToken)

	req, _ := http.NewRequest("GET", info["rest_url"]+"/smart/idents", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "HTTP/1.1", resp.Proto, "no HTTP/2: a dropped-connection fault closes the connection")
	resp, err = client.Get(info["admin_url"] + "/faults")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// CardPointe shares the listener, so it is on https too.
	assert.Equal(t, base+"/cardconnect/rest", info["cardpointe_url"])
	req, _ = http.NewRequest("PUT", info["cardpointe_url"]+"/auth",
		strings.NewReader(`{"merchid":"`+info["cardpointe_merchid"]+`","account":"4111111111111111","cvv2":"123","amount":"1.00"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(info["cardpointe_username"], info["cardpointe_password"])
	resp, err = client.Do(req)
	require.NoError(t, err)
	var auth map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&auth))
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "A", auth["respstat"], "a CardPointe authorization over https")
	resp, err = client.Post(base+"/cardsecure/api/v1/ccn/tokenize", "application/json", strings.NewReader(`{"account":"4111111111111111"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "CardSecure over https")

	for _, host := range []string{"localhost", "[::1]"} {
		u := strings.Replace(info["admin_url"], "127.0.0.1", host, 1)
		if resp, err := client.Get(u + "/faults"); err == nil {
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the certificate is valid for %s", host)
		} else {
			assert.NotContains(t, err.Error(), "certificate", "the certificate is valid for %s", host)
		}
	}

	_, err = http.Get(info["admin_url"] + "/faults")
	assert.ErrorContains(t, err, "certificate", "verification stays on: the system roots do not know the sandbox")
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	_, err = old.Get(info["admin_url"] + "/faults")
	assert.Error(t, err, "TLS 1.2 at least")

	sc := stompLogin(t, info["stomp_addr"], &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, tok.AccessToken)
	_ = sc.nc.Close()
	_, err = tls.Dial("tcp", info["stomp_addr"], &tls.Config{MinVersion: tls.VersionTLS12})
	assert.Error(t, err, "verification stays on: the system roots do not know the sandbox")
}

type stompConn struct {
	nc net.Conn
	r  *frame.Reader
	w  *frame.Writer
}

// stompLogin connects (over TLS when conf is set) and logs in.
func stompLogin(t *testing.T, addr string, conf *tls.Config, token string) *stompConn {
	t.Helper()
	var nc net.Conn
	var err error
	if conf != nil {
		nc, err = tls.Dial("tcp", addr, conf)
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	sc := &stompConn{nc: nc, r: frame.NewReader(nc), w: frame.NewWriter(nc)}
	require.NoError(t, sc.w.Write(frame.New(frame.CONNECT, frame.AcceptVersion, "1.2", frame.Login, token, frame.Passcode, token)))
	f := sc.read(t)
	require.Equal(t, frame.CONNECTED, f.Command, "%s", f.Body)
	return sc
}

func (sc *stompConn) read(t *testing.T) *frame.Frame {
	t.Helper()
	_ = sc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := sc.r.Read()
		require.NoError(t, err)
		if f != nil {
			return f
		}
	}
}

// startCommand runs the binary with args and returns its ready line; the
// returned stop sends SIGTERM and returns stderr once the process exited 0.
func startCommand(t *testing.T, bin string, args ...string) (map[string]string, func() string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	var info map[string]string
	select {
	case line := <-lines:
		require.NoError(t, json.Unmarshal([]byte(line), &info), "ready line %q; stderr: %s", line, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no ready line within 30s; stderr: %s", stderr.String())
	}
	return info, func() string {
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		err := cmd.Wait()
		exited = true
		require.NoError(t, err, "exit status 0 after SIGTERM; stderr: %s", stderr.String())
		return stderr.String()
	}
}

// The CardPointe flags set what the Gateway accepts and what the ready line
// says; the Gateway, CardSecure and the settle call share the HTTP listener.
func TestCommandCardPointe(t *testing.T) {
	bin := build(t)
	info, stop := startCommand(t, bin, "-v", "-cardpointe-username", "till-7", "-cardpointe-password", "pw-7",
		"-cardpointe-merchid", "800000000007", "-cardpointe-timeout-delay", "0s")
	assert.Equal(t, info["sandbox_url"]+"/cardconnect/rest", info["cardpointe_url"])
	assert.Equal(t, "till-7", info["cardpointe_username"])
	assert.Equal(t, "pw-7", info["cardpointe_password"])
	assert.Equal(t, "800000000007", info["cardpointe_merchid"])

	call := func(method, url, body string, basic bool) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if basic {
			req.SetBasicAuth(info["cardpointe_username"], info["cardpointe_password"])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, _ := call("PUT", info["cardpointe_url"]+"/auth", `{"merchid":"800000000007","account":"4111111111111111","amount":"1.00"}`, false)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, tok := call("POST", info["sandbox_url"]+"/cardsecure/api/v1/ccn/tokenize", `{"account":"4111111111111111"}`, false)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "9418594164541111", tok["token"])
	status, auth := call("PUT", info["cardpointe_url"]+"/auth",
		`{"merchid":"800000000007","account":"4111111111111111","cvv2":"8642","amount":"1.00","capture":"Y"}`, true)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "A", auth["respstat"])
	status, settled := call("POST", info["admin_url"]+"/cardpointe/settle", `{}`, false)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, float64(1), settled["settled"])
	status, inq := call("GET", info["cardpointe_url"]+"/inquire/"+auth["retref"].(string)+"/800000000007", "", true)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "Accepted", inq["setlstat"])
	// A client that puts a card number into a path: the -v log masks it.
	call("GET", info["cardpointe_url"]+"/inquireByOrderid/4444333322221111/800000000007", "", true)

	log := stop()
	assert.Contains(t, log, "PUT /cardconnect/rest/auth -> 200")
	assert.Contains(t, log, "/inquireByOrderid/44XXXXXXXXXX1111/")
	assert.Contains(t, log, "cardpointe: auth retref="+auth["retref"].(string)+" account=41XXXXXXXXXX1111")
	for _, secret := range []string{"4111111111111111", "4444333322221111", "9418594164541111", "pw-7"} {
		assert.NotContains(t, log, secret)
	}
	assert.NotContains(t, strings.ToLower(log), "cvv", "the CVV is never logged (a value check would meet timestamps)")
}
