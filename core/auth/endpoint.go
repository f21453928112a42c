package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/redact"
)

// maxAnswerBytes bounds what is read from the token endpoint; a real answer is
// a few hundred bytes.
const maxAnswerBytes = 1 << 20

// maxRetryAfter is the longest Retry-After the manager waits out by itself. A
// longer one ends the call with the error (RetryAfter set) so the till is not
// frozen by a server asking for minutes.
const maxRetryAfter = 30 * time.Second

// answer is one HTTP answer of the token endpoint.
type answer struct {
	status int
	header http.Header
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

// post sends one form to the token endpoint, retrying network failures, 5xx
// and 429 with the shared backoff (token requests never charge, so repeating
// them is safe). It returns every other HTTP answer, 4xx included, for the
// caller to interpret; errors are already mapped by failure.
func (m *Manager) post(ctx context.Context, op string, form url.Values) (*answer, error) {
	body := form.Encode()
	if m.log.Enabled(logging.Trace) {
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		// Names only: the values are secrets or identities.
		m.log.Tracef("POST token endpoint grant=%s params=%s", form.Get("grant_type"), strings.Join(keys, ","))
	}
	for attempt := 1; ; attempt++ {
		a, err := m.send(ctx, body)
		if err == nil && a.status != http.StatusTooManyRequests && a.status < 500 {
			return a, nil
		}
		fail := failure(op, a, err)
		if ctx.Err() != nil {
			return nil, errs.Classify(op, ctx.Err())
		}
		if !fail.Retryable || attempt >= m.cfg.MaxAttempts {
			return nil, fail
		}
		delay := fail.RetryAfter
		if delay <= 0 {
			delay = m.cfg.Backoff.Delay(attempt)
		}
		if delay > maxRetryAfter {
			return nil, fail
		}
		m.log.Debugf("token request failed (%s); retry %d of %d in %s", fail.Message, attempt, m.cfg.MaxAttempts-1, delay)
		if err := m.cfg.Sleep(ctx, delay); err != nil {
			if ctx.Err() != nil {
				return nil, errs.Classify(op, ctx.Err())
			}
			return nil, fail // the deadline is nearer than the wait: fail now, not later
		}
	}
}

// send performs one POST and reads the answer.
func (m *Manager) send(ctx context.Context, body string) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.cfg.TokenURL, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if m.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", m.cfg.UserAgent)
	}
	m.tokenRequests.Add(1)
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, err
	}
	a := &answer{status: resp.StatusCode, header: resp.Header}
	a.parsed = json.Unmarshal(raw, &a.body) == nil
	m.log.Tracef("token endpoint answered HTTP %d error=%q", a.status, a.body.Error)
	return a, nil
}

// failure is the one mapping of token-endpoint failures to *errs.Error: a
// transport error (cause) or an answer that is not a token.
func failure(op string, a *answer, cause error) *errs.Error {
	if cause != nil || a == nil {
		if cause == nil {
			cause = fmt.Errorf("no answer")
		}
		return errs.Classify(op, cause)
	}
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
		e.Retryable = true
		e.RetryAfter = retryAfter(a.header)
	case a.status == http.StatusBadRequest || a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		e = errs.AuthError(op, authReason(name, a.status), "the token endpoint refused the request (HTTP %d)%s", a.status, detail)
	case a.status/100 == 2:
		e = errs.AuthError(op, "", "the token endpoint answered HTTP %d without the expected token data", a.status)
	default:
		// 404, 405, 3xx...: most likely a wrong oauth_url.
		e = errs.New(errs.API, op, "the token endpoint answered HTTP %d%s", a.status, detail)
	}
	e.Status = a.status
	e.ErrorName = name
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

// retryAfter reads Retry-After as seconds or an HTTP date; 0 when absent or
// unreadable.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		// An HTTP date is wall-clock time, so it is measured on the real clock.
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// tokenFrom turns a token answer into an *oauth2.Token, registering the
// token strings with the redactor before anything can log them.
func (m *Manager) tokenFrom(op string, a *answer, grant Grant) (*oauth2.Token, error) {
	if a.status/100 != 2 || !a.parsed || a.body.AccessToken == "" {
		return nil, failure(op, a, nil)
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
