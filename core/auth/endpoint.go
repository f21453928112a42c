package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/redact"
)

// maxAnswerBytes bounds what is read from the token endpoint; a real answer is
// a few hundred bytes.
const maxAnswerBytes = 1 << 20

// answer is one HTTP answer of the token endpoint.
type answer struct {
	status int
	body   wireBody
	parsed bool // the body was a JSON object
}

// wireBody holds every key any token-endpoint answer may carry (spec §2.3, §2.4).
type wireBody struct {
	AccessToken      string          `json:"access_token"`
	TokenType        string          `json:"token_type"`
	RefreshToken     string          `json:"refresh_token"`
	ExpiresIn        flexInt         `json:"expires_in"`
	Scope            json.RawMessage `json:"scope"`
	DeviceCode       string          `json:"device_code"`
	UserCode         string          `json:"user_code"`
	VerificationURL  string          `json:"verification_url"`
	VerificationURI  string          `json:"verification_uri"` // RFC 8628 spelling; the spec only shows _url, so both are read
	Interval         flexInt         `json:"interval"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// flexInt reads a JSON number or a numeric string: the spec says integer
// seconds, but nothing pins how strictly the server (or a proxy) types them.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	*f = flexInt(v)
	return nil
}

// scope returns the scope as one space-separated string whether the server
// sent a string or a list (the spec shows a string; a list is tolerated).
func (b *wireBody) scope() string {
	if len(b.Scope) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(b.Scope, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(b.Scope, &list) == nil {
		return strings.Join(list, " ")
	}
	return ""
}

// baseForm holds the parameters every grant sends: client credentials always
// travel as body parameters, never as HTTP Basic (spec §2.1).
func baseForm(c *Credentials, grantType string) url.Values {
	f := url.Values{}
	f.Set("grant_type", grantType)
	f.Set("client_id", c.ClientID)
	f.Set("client_secret", c.ClientSecret)
	return f
}

// post sends one form to the token endpoint through the call pipeline:
// call.Decide repeats network failures, 5xx and 429 (a token request cannot
// charge, so repeating it is safe) and honours Retry-After. Every other HTTP
// answer, 4xx included, is returned for the caller to interpret; errors are
// already mapped by failure and finished by the pipeline.
func (m *Manager) post(ctx context.Context, op string, form url.Values) (*answer, error) {
	if m.log.Enabled(logging.Trace) {
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		// Names only: the values are secrets or identities.
		m.log.Tracef("POST token endpoint grant=%s params=%s", form.Get("grant_type"), strings.Join(keys, ","))
	}
	p := &call.Plan{Name: op, Policy: m.cfg.Policy}
	o, e := m.pipeline.Run(ctx, p, tokenEndpoint{m: m, body: form.Encode()})
	if e != nil {
		return nil, e
	}
	a := &answer{status: o.Status}
	a.parsed = json.Unmarshal(o.Result, &a.body) == nil
	m.log.Tracef("token endpoint answered HTTP %d error=%q", a.status, a.body.Error)
	return a, nil
}

// tokenEndpoint is the token endpoint as a call.Transport: one form POST.
type tokenEndpoint struct {
	m    *Manager
	body string
}

// Send posts the form once. A 429 or 5xx is a failure the pipeline may
// repeat; every other answer is a "success" the grant logic reads.
func (t tokenEndpoint) Send(ctx context.Context, p *call.Plan) call.Outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.m.cfg.TokenURL, strings.NewReader(t.body))
	if err != nil {
		return call.Outcome{Err: errs.Wrap(errs.Internal, p.Name, err, "cannot build the token request")}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if t.m.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", t.m.cfg.UserAgent)
	}
	t.m.tokenRequests.Add(1)
	res := call.SendHTTP(t.m.http, req, maxAnswerBytes)
	if res.Err != nil {
		return call.Outcome{Written: res.Written, Err: call.HTTPError(ctx, p.Name, res.Err)}
	}
	if res.TooBig {
		return call.UnreadableAnswer(p, res.Status, "the token endpoint's answer exceeds its size cap")
	}
	class := call.StatusAnswer(res.Status)
	if class != call.RateLimited && class != call.ServerFailed {
		return call.Outcome{Answer: call.Success, Written: true, Status: res.Status, Result: res.Body}
	}
	a := &answer{status: res.Status}
	a.parsed = json.Unmarshal(res.Body, &a.body) == nil
	o := call.Outcome{Answer: class, Written: true, Status: res.Status, Err: failure(p.Name, a)}
	o.RetryAfter, o.HasRetryAfter = call.RetryAfter(res.Header, time.Now())
	return o
}

// Invalidate implements call.Transport; the token endpoint takes no token.
func (tokenEndpoint) Invalidate(string) {}

// failure is the one mapping of token-endpoint answers that are not a token
// to *errs.Error.
func failure(op string, a *answer) *errs.Error {
	name, desc := a.body.Error, a.body.ErrorDescription
	detail := ""
	switch {
	case name != "" && desc != "":
		detail = ": " + name + ": " + desc
	case name != "":
		detail = ": " + name
	case desc != "":
		detail = ": " + desc
	}
	var e *errs.Error
	switch {
	case a.status == http.StatusTooManyRequests || a.status >= 500:
		e = errs.New(errs.API, op, "the token endpoint is unavailable (HTTP %d)%s", a.status, detail)
	case a.status == http.StatusBadRequest || a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		e = errs.AuthError(op, authReason(name, a.status), "the token endpoint refused the request (HTTP %d)%s", a.status, detail)
	case a.status/100 == 2:
		e = errs.AuthError(op, "", "the token endpoint answered HTTP %d without the expected token data", a.status)
	default:
		// 404, 405, 3xx...: most likely a wrong oauth_url.
		e = errs.New(errs.API, op, "the token endpoint answered HTTP %d%s", a.status, detail)
	}
	e.Status = a.status
	e.ErrorName = redact.String(name)
	e.Details = redact.String(desc)
	return e
}

// authReason maps an OAuth error code (spec §2.4, RFC 6749 §5.2, RFC 8628
// §3.5) to the Reason the host acts on.
func authReason(name string, status int) string {
	switch name {
	case "invalid_client", "unauthorized_client", "access_denied", "invalid_request":
		return errs.ReasonDenied
	case "invalid_grant":
		return errs.ReasonInvalidGrant
	case "expired_token":
		return errs.ReasonExpired
	case "":
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			return errs.ReasonDenied
		}
	}
	return ""
}

// tokenFrom turns a token answer into an *oauth2.Token, registering the
// token strings with the redactor before anything can log them.
func (m *Manager) tokenFrom(op string, a *answer, grant Grant) (*oauth2.Token, error) {
	if a.status/100 != 2 || !a.parsed || a.body.AccessToken == "" {
		return nil, failure(op, a)
	}
	b := a.body
	m.log.Redactor().Set("access_token", b.AccessToken)
	m.log.Redactor().Set("refresh_token", b.RefreshToken)
	expiresIn := int64(b.ExpiresIn)
	if expiresIn <= 0 {
		expiresIn = defaultExpiresIn
	}
	tokenType := b.TokenType
	if tokenType == "" {
		tokenType = "bearer"
	}
	tok := &oauth2.Token{
		AccessToken:  b.AccessToken,
		TokenType:    tokenType,
		RefreshToken: b.RefreshToken,
		Expiry:       m.cfg.Now().Add(time.Duration(expiresIn) * time.Second),
		ExpiresIn:    expiresIn,
	}
	return withExtra(tok, b.scope(), grant), nil
}

// withExtra attaches scope and grant, readable with tok.Extra("scope").
func withExtra(tok *oauth2.Token, scope string, grant Grant) *oauth2.Token {
	return tok.WithExtra(map[string]any{"scope": scope, "grant": string(grant)})
}
