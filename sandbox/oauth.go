package sandbox

import (
	"bytes"
	crand "crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenInfo is what the sandbox remembers about an access or refresh token.
type tokenInfo struct {
	clientID   string
	deviceUUID string // device grant: the vendor uuid of step 1
	username   string // appuser grant
	expires    time.Time
}

// deviceCode is one device-flow authorization in progress.
type deviceCode struct {
	userCode string
	clientID string
	uuid     string
	issued   time.Time
	expires  time.Time
	lastPoll time.Time
	state    deviceState
}

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
	deviceConsumed
)

// Exact OAuth strings (spec §2.3).
const (
	tokenScope = "https://scope.secucard.com/e/api"
	tokenType  = "bearer"
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

type deviceCodesResponse struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURL string `json:"verification_url"`
	ExpiresIn       int64  `json:"expires_in"`
	Interval        int    `json:"interval"`
}

// serveToken implements POST /oauth/token for every grant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, rec *RequestRecord) {
	if r.Method != http.MethodPost {
		s.oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint only accepts POST")
		return
	}
	p, err := tokenParams(r)
	if err != nil {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	grant := p.Get("grant_type")
	s.setGrant(rec, grant)
	switch grant {
	case "":
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	case "client_credentials", "device", "refresh_token", "appuser":
	default:
		// The PHP SDK's "password" grant is included here: whether the real
		// server supports it is unknown, so the sandbox does not.
		s.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", grant))
		return
	}
	if status, body, ok := s.checkClient(p); !ok {
		s.oauthError(w, status, body.Error, body.Description)
		return
	}
	switch grant {
	case "client_credentials":
		s.writeToken(w, tokenInfo{clientID: s.clientID})
	case "device":
		s.deviceGrant(w, r, p)
	case "refresh_token":
		s.refreshGrant(w, p)
	case "appuser":
		s.appUserGrant(w, p)
	}
}

// tokenParams reads a form or a JSON body (spec §2.1: both occur). JSON
// objects are flattened to the form's bracket keys (deviceinfo[name]). The
// Accept header is ignored: Java sends a form media type there.
func tokenParams(r *http.Request) (url.Values, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := bytes.TrimSpace(body)
	if ct == "application/json" || strings.HasSuffix(ct, "+json") || (ct != "application/x-www-form-urlencoded" && len(trimmed) > 0 && trimmed[0] == '{') {
		v, err := decodeValue(trimmed)
		m, ok := v.(map[string]any)
		if err != nil || !ok {
			return nil, fmt.Errorf("the body is not a JSON object")
		}
		out := url.Values{}
		flattenParams(out, "", m)
		return out, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("the body is not a valid form")
	}
	return vals, nil
}

func flattenParams(out url.Values, prefix string, m map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "[" + k + "]"
		}
		switch t := v.(type) {
		case nil:
		case string:
			out.Set(key, t)
		case json.Number:
			out.Set(key, t.String())
		case bool:
			out.Set(key, fmt.Sprint(t))
		case map[string]any:
			flattenParams(out, key, t)
		default:
			b, _ := json.Marshal(t)
			out.Set(key, string(b))
		}
	}
}

// checkClient validates client_id/client_secret, which every grant sends as
// body parameters (spec §2.1: no HTTP Basic).
func (s *Server) checkClient(p url.Values) (int, oauthBody, bool) {
	id, secret := p.Get("client_id"), p.Get("client_secret")
	if id == "" {
		return http.StatusBadRequest, oauthBody{"invalid_request", "client_id is required"}, false
	}
	if secret == "" {
		return http.StatusBadRequest, oauthBody{"invalid_request", "client_secret is required"}, false
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.clientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.clientSecret)) == 1
	if !idOK || !secretOK {
		return http.StatusUnauthorized, oauthBody{"invalid_client", "the client credentials are invalid"}, false
	}
	return 0, oauthBody{}, true
}

func (s *Server) oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, mustJSON(oauthBody{Error: code, Description: desc}))
}

// issue stores a new access and refresh token for info.
func (s *Server) issue(info tokenInfo) tokenResponse {
	now := s.now()
	access, refresh := randomHex(20), randomHex(20) // 40 hex, like recorded tokens
	a, rt := info, info
	a.expires = now.Add(s.opts.TokenTTL)
	rt.expires = now.Add(s.opts.RefreshTokenTTL)
	s.mu.Lock()
	s.accessToks[access] = &a
	s.refreshToks[refresh] = &rt
	if s.issued++; s.issued%256 == 0 {
		s.pruneAuthLocked(now)
	}
	s.mu.Unlock()
	return tokenResponse{
		AccessToken: access, ExpiresIn: wholeSeconds(s.opts.TokenTTL), TokenType: tokenType,
		Scope: tokenScope, RefreshToken: refresh,
	}
}

func (s *Server) writeToken(w http.ResponseWriter, info tokenInfo) {
	writeJSON(w, http.StatusOK, mustJSON(s.issue(info)))
}

// wholeSeconds rounds down but never below 1: expires_in 0 would tell a
// client the token is already dead.
func wholeSeconds(d time.Duration) int64 {
	if n := int64(d / time.Second); n >= 1 {
		return n
	}
	return 1
}

// deviceGrant serves both steps: step 1 carries uuid, step 2 carries code
// (spec §2.2).
func (s *Server) deviceGrant(w http.ResponseWriter, r *http.Request, p url.Values) {
	code, uuid := p.Get("code"), p.Get("uuid")
	if code == "" && uuid != "" {
		// The successor SDK polls with the device_code under "uuid" (spec
		// §2.2); whether the real server accepts that is unknown, the
		// sandbox does when the value is a device code it issued.
		s.mu.Lock()
		_, isCode := s.devices[uuid]
		s.mu.Unlock()
		if isCode {
			code, uuid = uuid, ""
		}
	}
	switch {
	case code != "":
		s.pollDevice(w, code)
	case uuid != "":
		s.issueDeviceCodes(w, r, uuid)
	default:
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "the device grant needs uuid (step 1) or code (step 2)")
	}
}

func (s *Server) issueDeviceCodes(w http.ResponseWriter, r *http.Request, uuid string) {
	now := s.now()
	dc := &deviceCode{clientID: s.clientID, uuid: uuid, issued: now, expires: now.Add(s.opts.DeviceCodeTTL)}
	deviceCodeStr := randomHex(16)
	s.mu.Lock()
	for {
		dc.userCode = s.userCodeLocked()
		if _, taken := s.userCodes[dc.userCode]; !taken {
			break
		}
	}
	s.devices[deviceCodeStr] = dc
	s.userCodes[dc.userCode] = deviceCodeStr
	if s.issued++; s.issued%256 == 0 {
		s.pruneAuthLocked(now)
	}
	s.mu.Unlock()
	interval := s.opts.DeviceInterval
	if interval < 0 {
		interval = 0
	}
	writeJSON(w, http.StatusOK, mustJSON(deviceCodesResponse{
		DeviceCode:      deviceCodeStr,
		UserCode:        dc.userCode,
		VerificationURL: requestBase(r) + "/sandbox/verify",
		ExpiresIn:       wholeSeconds(s.opts.DeviceCodeTTL),
		Interval:        interval,
	}))
}

// userCodeLocked makes 8 lowercase letters/digits (spec §2.3, e.g. vfazyp5f).
func (s *Server) userCodeLocked() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no 0/o/1/l: read aloud at a till
	b := make([]byte, 8)
	_, _ = crand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // 256 % 32 == 0: uniform
	}
	return string(b)
}

// requestBase is the scheme://host the client used, so verification_url
// works whether the sandbox runs via Start or inside an httptest server.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// pollDevice answers step 2. The order of checks: unknown, consumed,
// expired, too fast, denied, pending, approved.
func (s *Server) pollDevice(w http.ResponseWriter, code string) {
	now := s.now()
	s.mu.Lock()
	dc, ok := s.devices[code]
	if !ok || dc.state == deviceConsumed {
		s.mu.Unlock()
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "the device code is unknown or was already used")
		return
	}
	if !now.Before(dc.expires) {
		s.mu.Unlock()
		s.oauthError(w, http.StatusBadRequest, "expired_token", "the device code has expired")
		return
	}
	// slow_down is RFC 8628 behaviour; whether the real server sends it is
	// unknown (spec §2.4: no SDK handles it). Every poll counts, so a client
	// that keeps hammering keeps being told.
	tooFast := s.opts.DeviceInterval > 0 && !dc.lastPoll.IsZero() &&
		now.Sub(dc.lastPoll) < time.Duration(s.opts.DeviceInterval)*time.Second-pollSlack
	dc.lastPoll = now
	if tooFast {
		s.mu.Unlock()
		s.oauthError(w, http.StatusBadRequest, "slow_down", fmt.Sprintf("poll at most every %d seconds", s.opts.DeviceInterval))
		return
	}
	if dc.state == devicePending && s.opts.DeviceAutoApprove >= 0 && !now.Before(dc.issued.Add(s.opts.DeviceAutoApprove)) {
		dc.state = deviceApproved
	}
	switch dc.state {
	case deviceDenied:
		s.mu.Unlock()
		// 400, not 401: Java and JS treat any 401 during polling as
		// "pending" and would poll a denied code until it expires.
		s.oauthError(w, http.StatusBadRequest, "access_denied", "the user denied the authorization")
		return
	case devicePending:
		s.mu.Unlock()
		// 401 is recorded real behaviour (spec §2.4).
		s.oauthError(w, http.StatusUnauthorized, "authorization_pending", "the user has not yet entered the user code")
		return
	}
	dc.state = deviceConsumed
	info := tokenInfo{clientID: dc.clientID, deviceUUID: dc.uuid}
	s.mu.Unlock()
	s.writeToken(w, info)
}

// pruneAuthLocked forgets what can no longer be used, so a long-running
// sandbox that hands out tokens all day does not grow without bound. An
// access token is kept for an hour after it expired: a push subscription
// still finds its client, and a client using it is told it expired, not
// that it is unknown (both are 401 anyway).
func (s *Server) pruneAuthLocked(now time.Time) {
	for k, t := range s.accessToks {
		if now.Sub(t.expires) > time.Hour {
			delete(s.accessToks, k)
		}
	}
	for k, t := range s.refreshToks {
		if !now.Before(t.expires) {
			delete(s.refreshToks, k)
		}
	}
	for k, dc := range s.devices {
		if now.Sub(dc.expires) > time.Hour {
			delete(s.userCodes, dc.userCode)
			delete(s.devices, k)
		}
	}
}

// pollSlack tolerates clients that time polls from when they sent the
// previous request rather than from its answer.
const pollSlack = 250 * time.Millisecond

func (s *Server) refreshGrant(w http.ResponseWriter, p url.Values) {
	rt := p.Get("refresh_token")
	if rt == "" {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	now := s.now()
	s.mu.Lock()
	info, ok := s.refreshToks[rt]
	if ok {
		// Rotation: the old refresh token dies with its first use, so clients
		// must store the new one (Java/.NET tolerate rotation, spec §2.6).
		delete(s.refreshToks, rt)
	}
	s.mu.Unlock()
	if !ok || info.clientID != s.clientID || !now.Before(info.expires) {
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is invalid, revoked or expired")
		return
	}
	s.writeToken(w, *info)
}

func (s *Server) appUserGrant(w http.ResponseWriter, p url.Values) {
	user, pass := p.Get("username"), p.Get("password")
	if user == "" {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "username is required")
		return
	}
	if pass == "" {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "password is required")
		return
	}
	want, ok := s.appUsers[user]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 {
		// RFC 6749 would answer 400; 401 is chosen because the legacy SDKs
		// turn 401 into "auth denied", which is what a wrong password is.
		s.oauthError(w, http.StatusUnauthorized, "invalid_grant", "the username or password is wrong")
		return
	}
	s.writeToken(w, tokenInfo{clientID: s.clientID, username: user, deviceUUID: p.Get("device")})
}

// ValidToken reports whether accessToken was issued by this sandbox and has
// not expired.
func (s *Server) ValidToken(accessToken string) bool {
	_, ok := s.tokenClient(accessToken)
	return ok
}

// tokenClient returns the client a valid token belongs to.
func (s *Server) tokenClient(accessToken string) (string, bool) {
	if accessToken == "" {
		return "", false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.accessToks[accessToken]
	if !ok || !now.Before(info.expires) {
		return "", false
	}
	return info.clientID, true
}

// clientOf returns the client of any token it issued, expired or not.
func (s *Server) clientOf(accessToken string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info, ok := s.accessToks[accessToken]; ok {
		return info.clientID
	}
	return ""
}

// ExpireTokens makes every issued access token expire now; refresh tokens
// stay valid.
func (s *Server) ExpireTokens() {
	past := s.now().Add(-time.Nanosecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.accessToks {
		t.expires = past
	}
}

// RevokeRefreshTokens makes every refresh token invalid (invalid_grant).
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshToks = map[string]*tokenInfo{}
}

// ApproveDevice approves the device code shown as userCode.
func (s *Server) ApproveDevice(userCode string) error {
	return s.setDeviceErr(userCode, func(dc *deviceCode) { dc.state = deviceApproved })
}

// DenyDevice denies the device code shown as userCode (polls get access_denied).
func (s *Server) DenyDevice(userCode string) error {
	return s.setDeviceErr(userCode, func(dc *deviceCode) { dc.state = deviceDenied })
}

// ExpireDevice makes the code expire now (polls get expired_token).
func (s *Server) ExpireDevice(userCode string) error {
	past := s.now().Add(-time.Nanosecond)
	return s.setDeviceErr(userCode, func(dc *deviceCode) { dc.expires = past })
}

// setDeviceErr is setDevice for the Go API, which returns a plain error.
func (s *Server) setDeviceErr(userCode string, f func(*deviceCode)) error {
	if _, err := s.setDevice(userCode, f); err != nil {
		return err
	}
	return nil
}

// setDevice changes the device code shown as userCode. The status is what
// the admin API answers: 400 for a missing or used code, 404 for an unknown.
func (s *Server) setDevice(userCode string, f func(*deviceCode)) (int, *Error) {
	if userCode == "" {
		return http.StatusBadRequest, invalid("user_code", "is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dc, ok := s.devices[s.userCodes[strings.ToLower(strings.TrimSpace(userCode))]]
	if !ok {
		return http.StatusNotFound, invalid("user_code", "%q is not a device code this sandbox issued", userCode)
	}
	if dc.state == deviceConsumed {
		return http.StatusBadRequest, invalid("user_code", "%q was already exchanged for a token", userCode)
	}
	f(dc)
	return http.StatusOK, nil
}
