package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
)

// TokenInfo describes who an access token was issued to.
type TokenInfo struct {
	ClientID   string    `json:"client_id"`
	Grant      string    `json:"grant"`                 // client_credentials | device | appuser (kept across refreshes)
	DeviceUUID string    `json:"device_uuid,omitempty"` // device grant: the uuid of step 1; appuser: the "device" parameter
	Username   string    `json:"username,omitempty"`    // appuser grant
	Expires    time.Time `json:"expires"`
}

type accessToken struct{ TokenInfo }

type refreshToken struct{ TokenInfo }

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
	deviceConsumed
)

type deviceCode struct {
	code, userCode, clientID, uuid string
	issued, expires, lastPoll      time.Time
	state                          deviceState
}

const scope = "https://scope.secucard.com/e/api"

// serveToken answers POST /oauth/token for form and JSON bodies alike (spec
// §2.1); the Accept header is ignored (Java asks for form-encoding).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, rec *RequestRecord) {
	if r.Method != http.MethodPost {
		e := oauthErr(http.StatusMethodNotAllowed, "invalid_request", "the token endpoint only accepts POST")
		s.write(w, rec, e.status, e.body())
		return
	}
	params, err := readTokenParams(r)
	if err != nil {
		e := oauthErr(http.StatusBadRequest, "invalid_request", "the request body cannot be read: %v", err)
		s.write(w, rec, e.status, e.body())
		return
	}
	rec.GrantType = params.Get("grant_type")
	body, oerr := s.grant(params, "http://"+r.Host)
	if oerr != nil {
		s.write(w, rec, oerr.status, oerr.body())
		return
	}
	s.write(w, rec, http.StatusOK, body)
}

// readTokenParams reads a form or JSON body into form values. Nested JSON
// objects (deviceinfo) become bracket keys, as the form encoding has them.
func readTokenParams(r *http.Request) (url.Values, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := strings.TrimSpace(string(raw))
	if strings.Contains(ct, "json") || strings.HasPrefix(trimmed, "{") {
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return nil, errNotObject
		}
		out := url.Values{}
		flattenParams(out, "", m)
		return out, nil
	}
	return url.ParseQuery(trimmed)
}

type notObjectError struct{}

func (notObjectError) Error() string { return "the JSON body is not an object" }

var errNotObject error = notObjectError{}

func flattenParams(out url.Values, prefix string, m map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "[" + k + "]"
		}
		switch t := v.(type) {
		case map[string]any:
			flattenParams(out, key, t)
		case nil:
		default:
			if str, ok := scalarString(t); ok {
				out.Set(key, str)
			}
		}
	}
}

// grant runs one token request and returns the answer body.
func (s *Server) grant(p url.Values, baseURL string) ([]byte, *oauthError) {
	gt := p.Get("grant_type")
	switch gt {
	case "":
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "grant_type is required")
	case "client_credentials", "device", "refresh_token", "appuser":
	default:
		// "password" (PHP only) is unknown to every other SDK; whether the
		// real server supports it is unknown, so the sandbox does not.
		return nil, oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type %q is not supported", gt)
	}
	for _, k := range []string{"client_id", "client_secret"} {
		if p.Get(k) == "" {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "%s is required", k)
		}
	}
	if !equalSecret(p.Get("client_id"), s.clientID) || !equalSecret(p.Get("client_secret"), s.clientSecret) {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client authentication failed: unknown client_id or wrong client_secret")
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch gt {
	case "client_credentials":
		return s.issueLocked(TokenInfo{ClientID: s.clientID, Grant: gt}, now), nil
	case "device":
		code, uuid := p.Get("code"), p.Get("uuid")
		// The successor SDK sends the device_code of step 2 under "uuid" (spec
		// §2.2); whether the real server accepts that is unknown, so tolerate it.
		if code == "" && s.devices[uuid] != nil {
			code, uuid = uuid, ""
		}
		switch {
		case code != "":
			return s.pollDeviceLocked(code, now)
		case uuid != "":
			return s.issueDeviceCodeLocked(uuid, baseURL, now), nil
		}
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "uuid (to request codes) or code (to poll) is required")
	case "refresh_token":
		return s.refreshLocked(p.Get("refresh_token"), now)
	default: // appuser
		return s.appUserLocked(p, now)
	}
}

func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// issueLocked creates an access token and a refresh token. Every grant gets a
// refresh token, so clients exercise refresh (spec §2.3 leaves open whether
// client_credentials gets one).
func (s *Server) issueLocked(info TokenInfo, now time.Time) []byte {
	access, refresh := s.randHex(40), s.randHex(40)
	info.Expires = now.Add(s.opts.TokenTTL)
	s.tokens[access] = &accessToken{info}
	rinfo := info
	rinfo.Expires = now.Add(s.opts.RefreshTokenTTL)
	s.refreshes[refresh] = &refreshToken{rinfo}
	return mustEncode(map[string]any{
		"access_token":  access,
		"expires_in":    wholeSeconds(s.opts.TokenTTL),
		"token_type":    "bearer",
		"scope":         scope,
		"refresh_token": refresh,
	})
}

// wholeSeconds is a duration as the wire states it: whole seconds, at least 1.
// The server still honours the exact duration (sub-second TTLs in tests).
func wholeSeconds(d time.Duration) int {
	return max(1, int(d/time.Second))
}

func (s *Server) issueDeviceCodeLocked(uuid, baseURL string, now time.Time) []byte {
	d := &deviceCode{
		code:     s.randHex(32),
		userCode: s.randFrom(lowerAlnum, 8),
		clientID: s.clientID,
		uuid:     uuid,
		issued:   now,
		expires:  now.Add(s.opts.DeviceCodeTTL),
	}
	for s.userCodes[d.userCode] != nil {
		d.userCode = s.randFrom(lowerAlnum, 8)
	}
	s.devices[d.code] = d
	s.userCodes[d.userCode] = d
	return mustEncode(map[string]any{
		"device_code":      d.code,
		"user_code":        d.userCode,
		"verification_url": baseURL + "/sandbox/verify",
		"expires_in":       wholeSeconds(s.opts.DeviceCodeTTL),
		"interval":         max(0, s.opts.DeviceInterval),
	})
}

// pollDeviceLocked answers step 2 of the device flow.
func (s *Server) pollDeviceLocked(code string, now time.Time) ([]byte, *oauthError) {
	d := s.devices[code]
	if d == nil || d.clientID != s.clientID {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the device code is unknown")
	}
	if d.state == deviceConsumed {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the device code was already exchanged for a token")
	}
	if !now.Before(d.expires) {
		return nil, oauthErr(http.StatusBadRequest, "expired_token", "the device code has expired")
	}
	if d.state == deviceDenied {
		// 400, not 401: Java and JS treat any 401 while polling as "pending"
		// and would poll until their deadline (spec §2.4).
		return nil, oauthErr(http.StatusBadRequest, "access_denied", "the user denied the device authorization")
	}
	if d.state == devicePending && s.opts.DeviceAutoApprove > 0 && !now.Before(d.issued.Add(s.opts.DeviceAutoApprove)) {
		d.state = deviceApproved
	}
	if d.state == devicePending {
		// slow_down is RFC 8628 behaviour; whether the real server sends it is
		// unknown (no SDK handles it, spec §2.4). A little slack absorbs
		// latency jitter between polls that keep the interval.
		interval := time.Duration(s.opts.DeviceInterval) * time.Second
		tooSoon := interval > 0 && !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < interval-min(250*time.Millisecond, interval/4)
		d.lastPoll = now
		if tooSoon {
			return nil, oauthErr(http.StatusBadRequest, "slow_down", "polling faster than the interval of %d s", s.opts.DeviceInterval)
		}
		return nil, oauthErr(http.StatusUnauthorized, "authorization_pending", "the user has not yet entered the user code")
	}
	d.state = deviceConsumed
	return s.issueLocked(TokenInfo{ClientID: d.clientID, Grant: "device", DeviceUUID: d.uuid}, now), nil
}

// refreshLocked rotates: the old refresh token stops working, so clients must
// store the new one (spec §2.6: Java and .NET tolerate rotation).
func (s *Server) refreshLocked(rt string, now time.Time) ([]byte, *oauthError) {
	if rt == "" {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "refresh_token is required")
	}
	old := s.refreshes[rt]
	if old == nil || old.ClientID != s.clientID {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the refresh token is unknown or was revoked")
	}
	delete(s.refreshes, rt)
	if !now.Before(old.Expires) {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the refresh token has expired")
	}
	return s.issueLocked(old.TokenInfo, now), nil
}

// appUserLocked checks an app user's password. A wrong one is 401
// invalid_grant: RFC 6749 would say 400, but Java and PHP map 401 to "access
// denied", which is what a wrong password means to a cashier (spec §2.4).
func (s *Server) appUserLocked(p url.Values, now time.Time) ([]byte, *oauthError) {
	user, pass := p.Get("username"), p.Get("password")
	for k, v := range map[string]string{"username": user, "password": pass} {
		if v == "" {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "%s is required", k)
		}
	}
	want, ok := s.opts.AppUsers[user]
	if !ok || !equalSecret(pass, want) {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_grant", "wrong username or password")
	}
	return s.issueLocked(TokenInfo{ClientID: s.clientID, Grant: "appuser", Username: user, DeviceUUID: p.Get("device")}, now), nil
}

// ValidToken reports whether accessToken was issued by this sandbox and has
// not expired. Safe for concurrent use.
func (s *Server) ValidToken(accessToken string) bool {
	_, ok := s.tokenInfo(accessToken, time.Now())
	return ok
}

// TokenInfo describes a valid access token (false when unknown or expired).
func (s *Server) TokenInfo(accessToken string) (TokenInfo, bool) {
	return s.tokenInfo(accessToken, time.Now())
}

func (s *Server) tokenInfo(accessToken string, now time.Time) (TokenInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[accessToken]
	if t == nil || !now.Before(t.Expires) {
		return TokenInfo{}, false
	}
	return t.TokenInfo, true
}

// clientOf names the client a token was issued to, expired or not ("" when
// unknown), for event routing.
func (s *Server) clientOf(accessToken string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[accessToken]; t != nil {
		return t.ClientID
	}
	return ""
}

// ExpireTokens makes every issued access token expire now.
func (s *Server) ExpireTokens() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.Expires.After(now) {
			t.Expires = now
		}
	}
}

// RevokeRefreshTokens invalidates every refresh token (refresh then answers
// invalid_grant).
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.refreshes)
}

// adminError is a failed admin operation: HTTP status, code and message.
type adminError struct {
	status  int
	code    string
	message string
	field   string
}

func (e *adminError) err() error {
	if e == nil {
		return nil
	}
	return errs.Invalid(e.field, "%s", e.message)
}

func (e *adminError) body() []byte {
	return adminJSON(map[string]any{"error": e.code, "message": e.message})
}

// ApproveDevice approves the device code with this user code, as a person at
// the verification URL would. Approving twice is not an error.
func (s *Server) ApproveDevice(userCode string) error {
	return s.setDeviceState(userCode, deviceApproved).err()
}

// DenyDevice denies the device code: polls answer access_denied.
func (s *Server) DenyDevice(userCode string) error {
	return s.setDeviceState(userCode, deviceDenied).err()
}

// ExpireDevice makes the device code expire now: polls answer expired_token.
func (s *Server) ExpireDevice(userCode string) error {
	return s.setDeviceState(userCode, -1).err()
}

// setDeviceState moves a device code; to -1 means "expire now".
func (s *Server) setDeviceState(userCode string, to deviceState) *adminError {
	userCode = strings.ToLower(strings.TrimSpace(userCode))
	if userCode == "" {
		return &adminError{http.StatusBadRequest, "invalid_request", "user_code is required", "user_code"}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.userCodes[userCode]
	if d == nil {
		return &adminError{http.StatusNotFound, "not_found", "user_code " + quote(userCode) + " was never issued", "user_code"}
	}
	if to == -1 {
		if d.state == deviceConsumed {
			return &adminError{http.StatusConflict, "invalid_state", "user_code " + quote(userCode) + " was already exchanged for a token", "user_code"}
		}
		d.expires = now
		return nil
	}
	switch {
	case d.state == to:
		return nil
	case d.state == deviceConsumed:
		return &adminError{http.StatusConflict, "invalid_state", "user_code " + quote(userCode) + " was already exchanged for a token", "user_code"}
	case !now.Before(d.expires):
		return &adminError{http.StatusConflict, "invalid_state", "user_code " + quote(userCode) + " has expired", "user_code"}
	case d.state != devicePending:
		return &adminError{http.StatusConflict, "invalid_state", "user_code " + quote(userCode) + " was already " + d.state.String(), "user_code"}
	}
	d.state = to
	return nil
}

func (st deviceState) String() string {
	switch st {
	case devicePending:
		return "pending"
	case deviceApproved:
		return "approved"
	case deviceDenied:
		return "denied"
	case deviceConsumed:
		return "consumed"
	}
	return "unknown"
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
