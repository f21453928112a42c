// Package rest owns the HTTP transport to the secucard connect API: URL and
// query mapping (spec §3.1–3.3), headers (§3.4) and bearer tokens. It sends a
// resolved call.Plan once and reports a call.Outcome; whether anything is
// repeated is decided by core/call, and answers are read by call.Decode, the
// same reading STOMP replies get.
package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// TokenSource supplies bearer tokens; *auth.Manager implements it.
type TokenSource interface {
	Token(ctx context.Context, interactive bool) (*oauth2.Token, error)
	Invalidate(accessToken string)
}

// MaxBodyBytes caps an answer body. Real answers are a few KiB; the cap keeps
// a misbehaving proxy from exhausting a till's memory.
const MaxBodyBytes = 16 << 20

// Config configures a Channel with values the client resolved; nothing here
// has a default of its own.
type Config struct {
	BaseURL    string       // e.g. https://connect.secucard.com/api/v2 (trailing slash tolerated)
	HTTPClient *http.Client // nil: a verified TLS ≥ 1.2 transport without proxies
	Tokens     TokenSource  // nil: no Authorization header at all
	Language   string       // Accept-Language
	UserAgent  string
	// MaxBodyBytes caps an answer body (MaxBodyBytes in production).
	MaxBodyBytes int64
	Logger       *logging.Logger
}

// Channel sends plans over HTTP. It is safe for concurrent use and holds no
// lock while calling the network or the TokenSource.
type Channel struct {
	cfg    Config
	base   string
	client *http.Client
	log    *logging.Logger

	// Header values that are the same on every request, built once. net/http
	// only reads a request's header values; nothing here appends to them.
	accept, lang, agent, jsonType []string
	bearer                        atomic.Pointer[bearerHeader]
}

// bearerHeader is the Authorization value of the token in use, so a call
// does not concatenate it anew.
type bearerHeader struct {
	token string
	value []string
}

// New checks cfg.
func New(cfg Config) (*Channel, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errs.Invalid("rest_url", "must be an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errs.Invalid("rest_url", "must not carry a query, fragment or credentials")
	}
	switch {
	case cfg.Language == "":
		return nil, errs.Invalid("language", "is required")
	case cfg.UserAgent == "":
		return nil, errs.Invalid("user_agent", "is required")
	case cfg.MaxBodyBytes <= 0:
		return nil, errs.Invalid("max_body_bytes", "must be positive")
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
	return &Channel{cfg: cfg, base: u.String(), client: &client, log: cfg.Logger.With("rest: "),
		accept: []string{"application/json"}, lang: []string{cfg.Language}, agent: []string{cfg.UserAgent},
		jsonType: []string{"application/json"}}, nil
}

// URL returns the URL Send would call for p.
func (c *Channel) URL(p *call.Plan) (*url.URL, error) { return buildURL(c.base, p.Request) }

// Invalidate implements call.Transport.
func (c *Channel) Invalidate(tok string) {
	if c.cfg.Tokens != nil {
		c.cfg.Tokens.Invalidate(tok)
	}
}

// Send sends p once (call.Transport).
func (c *Channel) Send(ctx context.Context, p *call.Plan) call.Outcome {
	req := p.Request
	u, err := buildURL(c.base, req)
	if err != nil {
		return call.Outcome{Err: errs.As(err)}
	}
	m := method(req.Op)
	var body []byte
	if len(req.Data) > 0 {
		if m == http.MethodGet {
			return call.Outcome{Err: errs.Invalid("data", "cannot be sent with op %q over REST (a GET has no body); use query", string(req.Op))}
		}
		body = req.Data
	}
	tok := ""
	if c.cfg.Tokens != nil && !req.Anonymous {
		t, err := c.cfg.Tokens.Token(ctx, false)
		if err != nil {
			// The token request ran its own attempts already.
			return call.Outcome{Err: errs.As(err), Exhausted: true}
		}
		if t == nil || t.AccessToken == "" {
			return call.Outcome{Err: errs.New(errs.Internal, p.Name, "the token source returned no access token")}
		}
		tok = t.AccessToken
	}
	hreq, err := c.request(ctx, m, u, body, tok, p.Safety.Key)
	if err != nil {
		return call.Outcome{Err: errs.Wrap(errs.Internal, p.Name, err, "cannot build the HTTP request")}
	}
	res := call.SendHTTP(c.client, hreq, c.cfg.MaxBodyBytes)
	c.logResult(m, u, res)
	if res.Err != nil {
		return call.Outcome{Written: res.Written, Err: call.HTTPError(ctx, p.Name, res.Err)}
	}
	var o call.Outcome
	if res.TooBig {
		o = call.UnreadableAnswer(p, res.Status, "the body exceeds the size cap")
	} else {
		o = call.Decode(p, call.Reply{Status: res.Status, Body: res.Body}, tok)
	}
	if o.Answer != call.Success {
		o.RetryAfter, o.HasRetryAfter = call.RetryAfter(res.Header, time.Now())
	}
	return o
}

// request builds one HTTP request (spec §3.4). The body is a fresh reader
// every time, so a repeat sends the same bytes.
func (c *Channel) request(ctx context.Context, m string, u *url.URL, body []byte, tok, key string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// u is parsed already: the request gets it as it is instead of its
	// string form parsed a second time (the Host header comes from u.Host).
	hreq, err := http.NewRequestWithContext(ctx, m, "", rd)
	if err != nil {
		return nil, err
	}
	hreq.URL = u
	h := hreq.Header
	h["Accept"] = c.accept
	h["Accept-Language"] = c.lang
	h["User-Agent"] = c.agent
	if body != nil {
		h["Content-Type"] = c.jsonType
		if c.log.Enabled(logging.Trace) {
			c.log.Tracef("%s %s request body: %s", m, logURL(u), body)
		}
	}
	if tok != "" {
		h["Authorization"] = c.bearerFor(tok)
	}
	if key != "" {
		h["X-Action"] = []string{key}
	}
	return hreq, nil
}

func (c *Channel) bearerFor(tok string) []string {
	if b := c.bearer.Load(); b != nil && b.token == tok {
		return b.value
	}
	b := &bearerHeader{token: tok, value: []string{"Bearer " + tok}}
	c.bearer.Store(b)
	return b.value
}

func (c *Channel) logResult(m string, u *url.URL, res call.HTTPResult) {
	if !c.log.Enabled(logging.Debug) {
		return
	}
	if res.Err != nil {
		c.log.Debugf("%s %s -> error after %s (sent=%v): %v", m, logURL(u), res.Took.Round(time.Millisecond), res.Written, res.Err)
		return
	}
	c.log.Debugf("%s %s -> %d in %s", m, logURL(u), res.Status, res.Took.Round(time.Millisecond))
	if c.log.Enabled(logging.Trace) && len(res.Body) > 0 {
		c.log.Tracef("%s %s response body: %s", m, logURL(u), res.Body)
	}
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
