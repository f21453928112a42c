// Package rest owns the HTTP channel to the secucard connect API: URL and
// query mapping (spec §3.1–3.3), headers (§3.4), answer and error mapping
// (§3.6–3.7), bearer tokens with one replay after a 401, and retries decided
// by ShouldRetry with X-Action idempotency ids.
package rest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/retry"
)

// TokenSource supplies bearer tokens; *auth.Manager implements it.
type TokenSource interface {
	Token(ctx context.Context, interactive bool) (*oauth2.Token, error)
	Invalidate(accessToken string)
}

// DefaultMaxBodyBytes caps an answer body. Real answers are a few KiB; the cap
// keeps a misbehaving proxy from exhausting a till's memory.
const DefaultMaxBodyBytes = 16 << 20

// Config configures a Channel. Zero values select the defaults.
type Config struct {
	BaseURL     string       // e.g. https://connect.secucard.com/api/v2 (trailing slash tolerated)
	HTTPClient  *http.Client // nil => TLS ≥ 1.2 default transport
	Tokens      TokenSource  // nil => no Authorization header at all
	Language    string       // Accept-Language, default "en"
	UserAgent   string       // default "libsecucard"
	MaxAttempts int          // total attempts per call, default 3 (1 = no retries)
	Backoff     retry.Backoff
	Sleep       retry.Sleeper // default retry.Sleep
	Idempotency bool          // add an X-Action id to every mutating call that has none
	NewActionID func() string // default: 32 random hex characters
	Logger      *logging.Logger
	// OnRetry is called before each retry's wait (stats hook). It must not block.
	OnRetry func(req *api.Request, attempt int, reason string)
	// MaxBodyBytes caps an answer body, default DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Channel executes api.Requests over HTTP. It is safe for concurrent use and
// holds no lock while calling the network or the TokenSource.
type Channel struct {
	cfg    Config
	base   string
	client *http.Client
	log    *logging.Logger
}

// New checks cfg and applies defaults.
func New(cfg Config) (*Channel, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errs.Invalid("rest_url", "must be an absolute http(s) URL, got %q", cfg.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errs.Invalid("rest_url", "must not carry a query, fragment or credentials")
	}
	if cfg.MaxAttempts < 0 {
		return nil, errs.Invalid("retry.max_attempts", "must not be negative")
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff == (retry.Backoff{}) {
		cfg.Backoff = retry.Default
	}
	if cfg.Sleep == nil {
		cfg.Sleep = retry.Sleep
	}
	if cfg.NewActionID == nil {
		cfg.NewActionID = randomActionID
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "libsecucard"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	var client http.Client
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		client.Transport = tr
	}
	// Never follow redirects: Go turns a redirected POST into a GET, which
	// could make a payment call "succeed" without having been made.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// No prefix of our own: the client hands in a logger already named "rest: ".
	return &Channel{cfg: cfg, base: u.String(), client: &client, log: cfg.Logger}, nil
}

func randomActionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// URL returns the URL Do would call for req.
func (c *Channel) URL(req *api.Request) (*url.URL, error) {
	if req == nil {
		return nil, errs.Invalid("request", "is required")
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return buildURL(c.base, req)
}

// result is what one HTTP exchange produced.
type result struct {
	status  int
	header  http.Header
	body    []byte
	err     error // transport or body-read error
	written bool  // the whole request reached the connection
	tooBig  bool
	dur     time.Duration
}

// Do executes req. It returns the object JSON for get/create/update/delete/
// execute, the normalized list ({count, data: [...], scroll_id}) for list, and
// the JSON literal null for an answer without body. Every error is an
// *errs.Error.
func (c *Channel) Do(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	if req == nil {
		return nil, errs.Invalid("request", "is required")
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	u, err := buildURL(c.base, req)
	if err != nil {
		return nil, err
	}
	if d := req.Timeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	op := req.Name()
	m := method(req.Op)
	var body []byte
	if len(req.Data) > 0 {
		if m == http.MethodGet {
			return nil, errs.Invalid("data", "cannot be sent with op %q over REST (a GET has no body); use query", string(req.Op))
		}
		body = req.Data
	}
	actionID := ""
	if req.Op.Mutating() {
		actionID = req.IdempotencyKey
		if actionID == "" && c.cfg.Idempotency {
			actionID = c.cfg.NewActionID()
		}
	}

	replayed := false
	attempt := 1
	for {
		tok := ""
		if c.cfg.Tokens != nil && !req.Anonymous {
			t, err := c.cfg.Tokens.Token(ctx, false)
			if err != nil {
				return nil, errs.As(err)
			}
			if t == nil || t.AccessToken == "" {
				return nil, errs.New(errs.Internal, op, "the token source returned no access token")
			}
			tok = t.AccessToken
		}
		res := c.send(ctx, m, u, body, tok, actionID)
		c.logResult(m, u, attempt, res)

		if res.err == nil && res.status == http.StatusUnauthorized && tok != "" {
			if !replayed {
				// The token may have expired server-side early: get a fresh
				// one and replay once; the replay is not a retry.
				c.cfg.Tokens.Invalidate(tok)
				replayed = true
				c.log.Debugf("%s %s: 401, replaying once with a new token", m, logURL(u))
				continue
			}
			return nil, tokenRejected(op, res)
		}
		if res.tooBig {
			e := errs.New(errs.Network, op, "unreadable answer: the body exceeds %d bytes", c.cfg.MaxBodyBytes)
			e.Status = res.status
			e.Retryable = false
			return nil, e
		}
		if res.err == nil && res.status >= 200 && res.status < 300 {
			return c.decode(op, req, m, actionID, res)
		}

		a := Attempt{
			Method: m, IdempotencyID: actionID != "", Number: attempt, MaxAttempts: c.cfg.MaxAttempts,
			Err: res.err, Written: res.written,
		}
		if res.err == nil {
			a.Status = res.status
			if res.status == http.StatusTooManyRequests || res.status == http.StatusServiceUnavailable {
				a.RetryAfter = parseRetryAfter(res.header.Get("Retry-After"), time.Now())
			}
		}
		last := c.failure(ctx, op, res, a)
		ok, reason := ShouldRetry(a)
		if !ok {
			if attempt > 1 {
				c.log.Debugf("%s %s: giving up after attempt %d: %s", m, logURL(u), attempt, reason)
			}
			return nil, last
		}
		delay := max(c.cfg.Backoff.Delay(attempt), a.RetryAfter)
		if err := ctx.Err(); err != nil {
			if res.err != nil {
				return nil, last // already classified as Timeout/Canceled
			}
			return nil, noTimeToRetry(op, err, last)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return nil, noTimeToRetry(op, context.DeadlineExceeded, last)
		}
		if c.cfg.OnRetry != nil {
			c.cfg.OnRetry(req, attempt, reason)
		}
		c.log.Debugf("%s %s: retry %d in %s: %s", m, logURL(u), attempt, delay.Round(time.Millisecond), reason)
		if err := c.cfg.Sleep(ctx, delay); err != nil {
			return nil, noTimeToRetry(op, err, last)
		}
		attempt++
	}
}

// send performs one HTTP exchange. The body is a fresh reader on every call
// (and GetBody is set), so retries resend the same bytes.
func (c *Channel) send(ctx context.Context, m string, u *url.URL, body []byte, tok, actionID string) result {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				written.Store(true)
			}
		},
	}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), m, u.String(), rd)
	if err != nil {
		return result{err: err}
	}
	h := hreq.Header
	h.Set("Accept", "application/json")
	h.Set("Accept-Language", c.cfg.Language)
	h.Set("User-Agent", c.cfg.UserAgent)
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	if actionID != "" {
		h.Set("X-Action", actionID)
	}
	if body != nil && c.log.Enabled(logging.Trace) {
		c.log.Tracef("%s %s request body: %s", m, logURL(u), body)
	}

	start := time.Now()
	resp, err := c.client.Do(hreq)
	if err != nil {
		return result{err: err, written: written.Load(), dur: time.Since(start)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	res := result{status: resp.StatusCode, header: resp.Header, body: data, written: true, dur: time.Since(start)}
	if err != nil {
		res.err = err
		return res
	}
	if int64(len(data)) > c.cfg.MaxBodyBytes {
		res.tooBig = true
		res.body = nil
		return res
	}
	if c.log.Enabled(logging.Trace) && len(data) > 0 {
		c.log.Tracef("%s %s response body: %s", m, logURL(u), data)
	}
	return res
}

// decode turns a 2xx answer into the result JSON (spec §3.6).
func (c *Channel) decode(op string, req *api.Request, m, actionID string, res result) (json.RawMessage, error) {
	b := bytes.TrimSpace(res.body)
	if res.status == http.StatusNoContent || len(b) == 0 {
		if req.Op == api.List {
			return json.RawMessage(`{"count":0,"data":[]}`), nil // a list is always a list
		}
		return json.RawMessage("null"), nil
	}
	// One decode both validates the answer and reads its status: STOMP replies
	// report errors with status "error"; should REST ever do the same with a
	// 2xx (unknown), it must not pass for success. Only then is the whole
	// envelope read.
	var valid bool
	if b[0] == '{' {
		var probe struct {
			Status json.RawMessage `json:"status"`
		}
		valid = json.Unmarshal(b, &probe) == nil
		if valid && strings.EqualFold(api.JSONText(probe.Status), "error") {
			obj, _ := api.ParseObject(b)
			return nil, api.EnvelopeOf(obj).Err(errs.API, op, res.status)
		}
	} else {
		valid = json.Valid(b)
	}
	if !valid {
		// A 2xx that is not JSON comes from something in between (captive
		// portal, proxy page), not from the API: the call's outcome is unknown.
		return nil, unreadable(op, res.status, m, actionID, "the answer is not JSON"+api.Excerpt(b))
	}
	if req.Op != api.List {
		return json.RawMessage(b), nil
	}
	if b[0] == '[' {
		// Unknown whether the server ever answers a list with a bare array;
		// accept it as one page holding everything.
		var items []json.RawMessage
		_ = json.Unmarshal(b, &items)
		return json.Marshal(api.Page{Count: len(items), Data: append([]json.RawMessage{}, items...)})
	}
	out, err := api.NormalizeList(b)
	if err != nil {
		return nil, unreadable(op, res.status, m, actionID, "the list answer is not a JSON object")
	}
	return out, nil
}

func unreadable(op string, status int, m, actionID, what string) *errs.Error {
	e := errs.New(errs.Network, op, "unreadable answer (HTTP %d): %s", status, what)
	e.Status = status
	e.Retryable = idempotentMethod(m) || actionID != ""
	return e
}

// failure maps a failed attempt to the error the caller gets if it is the last.
func (c *Channel) failure(ctx context.Context, op string, res result, a Attempt) *errs.Error {
	if res.err != nil {
		return transportError(ctx, op, res, a)
	}
	e := api.HTTPError(op, res.status, res.body)
	if res.status == http.StatusUnauthorized {
		// Only reached without a token (anonymous call or no TokenSource):
		// the server wants authentication, which is an auth problem.
		e.Kind = errs.Auth
	}
	e.RetryAfter = a.RetryAfter
	probe := a
	probe.Number, probe.MaxAttempts, probe.RetryAfter = 0, 1, 0
	e.Retryable, _ = ShouldRetry(probe)
	return e
}

// transportError classifies a failure without an HTTP answer.
func transportError(ctx context.Context, op string, res result, a Attempt) *errs.Error {
	repeatable := !a.Written || idempotentMethod(a.Method) || a.IdempotencyID
	if cerr := ctx.Err(); cerr != nil {
		e := errs.Classify(op, cerr)
		e.Err = res.err
		if a.Written && !idempotentMethod(a.Method) {
			e.Message += "; the request was sent, so the server may have acted on it"
		}
		e.Retryable = e.Kind == errs.Timeout && repeatable
		return e
	}
	cause := res.err
	var uerr *url.Error
	if errors.As(cause, &uerr) {
		cause = uerr.Err // the URL is logged separately; keep the message short
	}
	e := errs.Classify(op, cause)
	if e.Kind == errs.Internal {
		// Everything http.Client.Do returns is about the connection (TLS
		// verification, protocol errors), not a bug of ours.
		e = errs.Wrap(errs.Network, op, cause, "connection failed: %s", cause.Error())
	}
	e.Err = res.err
	e.Retryable = repeatable && !isCertError(cause)
	return e
}

func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// noTimeToRetry reports a call that would have been retried but whose context
// ended (or would end) before the next attempt. It is a Timeout (or Canceled)
// that names the last real failure and keeps its fields, so the host sees
// both that time ran out and why the attempts failed.
func noTimeToRetry(op string, ctxErr error, last *errs.Error) *errs.Error {
	var e *errs.Error
	if errors.Is(ctxErr, context.Canceled) {
		e = errs.New(errs.Canceled, op, "the call was canceled before a retry; last failure: %s", last.Message)
		e.Retryable = false
	} else {
		e = errs.New(errs.Timeout, op, "the deadline leaves no time to retry; last failure: %s", last.Message)
		e.Retryable = last.Retryable
	}
	e.Status, e.ErrorName, e.Details, e.UserMessage = last.Status, last.ErrorName, last.Details, last.UserMessage
	e.Code, e.SupportID, e.RetryAfter = last.Code, last.SupportID, last.RetryAfter
	e.Err = last
	return e
}

// tokenRejected is the error for a 401 that survived a fresh token.
func tokenRejected(op string, res result) *errs.Error {
	e := api.HTTPError(op, res.status, res.body)
	e.Kind = errs.Auth
	e.Reason = errs.ReasonTokenRejected
	if e.Details == "" {
		e.Message = "the API rejected a freshly issued token (HTTP 401)"
	}
	e.Retryable = false
	return e
}

func (c *Channel) logResult(m string, u *url.URL, attempt int, res result) {
	if !c.log.Enabled(logging.Debug) {
		return
	}
	if res.err != nil {
		c.log.Debugf("%s %s -> error after %s (attempt %d/%d, sent=%v): %v", m, logURL(u),
			res.dur.Round(time.Millisecond), attempt, c.cfg.MaxAttempts, res.written, res.err)
		return
	}
	c.log.Debugf("%s %s -> %d in %s (attempt %d/%d)", m, logURL(u), res.status,
		res.dur.Round(time.Millisecond), attempt, c.cfg.MaxAttempts)
}

// logURL is the URL without query values: a q filter can hold customer data.
func logURL(u *url.URL) string {
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery == "" {
		return s
	}
	keys := make([]string, 0, 8)
	for k := range u.Query() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return s + "?{" + strings.Join(keys, ",") + "}"
}
