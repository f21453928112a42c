// Package cardpointe is the client of the CardPointe Gateway REST API and of
// CardSecure tokenization (/work/shared/spec/cardpointe.md), the second
// payment system behind libsecucard's one call pipeline.
//
// It supplies what core/call leaves to a provider: its plans (the Safety of
// each operation, from the spec's facts), its transport (HTTP Basic, JSON,
// no idempotency key: the Gateway has none, spec §8) and its reading of
// answers (respstat A/B/C, PPS codes, HTTP statuses). Whether anything is
// repeated, and the retryable and outcome every error carries, come from
// call.Decide and call.Finish unchanged.
//
// An auth whose answer is lost is recovered as the spec's "Handling Timed-out
// Transactions" says (recover.go): look it up by its orderid; found, its
// record is the answer; not found, it never arrived and is sent once more;
// the lookup unanswered too, it is voided by orderid. One logical auth never
// ends with two approvals.
package cardpointe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// MaxBodyBytes caps an answer body; Gateway answers are a few KiB.
const MaxBodyBytes = 4 << 20

// voidAttempts is how often voidByOrderId is sent when the recovery of a
// lost auth has to void it (the spec recommends three, §2.4).
const voidAttempts = 3

// Config is what the client needs, resolved by core's config (its defaults
// table); nothing here has a default of its own.
type Config struct {
	BaseURL       string // the Gateway's REST base, e.g. https://fts-uat.cardconnect.com/cardconnect/rest
	CardSecureURL string // CardSecure's base, e.g. https://fts-uat.cardconnect.com/cardsecure/api/v1
	Username      string
	Password      string
	MerchID       string
	// Response bounds the wait for one answer (a request's timeout_ms
	// replaces it). For an auth it must exceed the Gateway's 32 s processor
	// wait (spec §3), so a PPS 62 answer arrives rather than a lost one.
	Response time.Duration
	// Recovery bounds the recovery of an auth whose answer was lost: the
	// inquiry, the one resend or the voids.
	Recovery time.Duration
	// GatewayWindow is how long after an auth was written the Gateway may
	// still be working on it (it answers by 32 s, spec §3): before then an
	// inquiry's "Txn not found" does not prove that the auth never arrived.
	GatewayWindow time.Duration
	HTTPClient    *http.Client
	UserAgent     string
	Policy        call.Policy
	Pipeline      *call.Pipeline // shared with the secucard calls: one decision, one stats hook
	Logger        *logging.Logger
	// NewOrderID generates orderids for auths without one; nil: NewOrderID.
	NewOrderID func() string
}

// Client sends CardPointe requests. It is safe for concurrent use.
type Client struct {
	cfg     Config
	gateway *url.URL
	secure  *url.URL
	http    *http.Client
	log     *logging.Logger
}

// New checks cfg.
func New(cfg Config) (*Client, error) {
	gw, err := baseURL("cardpointe.url", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	cs, err := baseURL("cardpointe.cardsecure_url", cfg.CardSecureURL)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Username == "" || strings.Contains(cfg.Username, ":"):
		return nil, errs.Invalid("cardpointe.username", `is required and must not contain ":"`)
	case cfg.MerchID == "":
		return nil, errs.Invalid("cardpointe.merchid", "is required")
	case cfg.Response <= 0 || cfg.Recovery <= 0 || cfg.GatewayWindow <= 0:
		return nil, errs.Invalid("cardpointe.timeouts", "must be positive")
	case cfg.Pipeline == nil || cfg.HTTPClient == nil:
		return nil, errs.New(errs.Internal, "cardpointe", "the client needs a pipeline and an HTTP client")
	}
	hc := *cfg.HTTPClient
	// Never follow redirects: Go turns a redirected POST into a GET, which
	// could make an auth "succeed" without having been made.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.NewOrderID == nil {
		cfg.NewOrderID = NewOrderID
	}
	return &Client{cfg: cfg, gateway: gw, secure: cs, http: &hc, log: cfg.Logger.With("cardpointe: ")}, nil
}

func baseURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.User != nil {
		return nil, errs.Invalid(key, "must be an absolute http(s) URL without query or credentials")
	}
	return u, nil
}

// Do runs one request. Every error carries retryable and outcome (from
// call.Decide), the Gateway's fields when it answered, and an auth's
// orderid.
func (c *Client) Do(ctx context.Context, r *Request) (json.RawMessage, error) {
	if r == nil || r.spec == nil {
		return nil, call.Unsent(System, errs.Invalid("request", "is required (parse it with ParseRequest)"))
	}
	x, err := c.exchange(r)
	if err != nil {
		return nil, call.Unsent(r.Name(), err)
	}
	p := &call.Plan{Name: r.Name(), Safety: x.safety(), Policy: c.cfg.Policy}
	timeout := r.Timeout()
	if timeout <= 0 {
		timeout = c.cfg.Response
	}
	var t call.Transport = x
	var rec *recovery
	if r.Op == "auth" {
		// Each attempt waits timeout for its answer; a lost one is then
		// recovered (recover.go). The spec sends an auth that never arrived
		// once more: two attempts at most.
		x.attempt = timeout
		p.Policy.MaxAttempts = min(p.Policy.MaxAttempts, 2)
		rec = &recovery{c: c, auth: x, orderid: x.orderid}
		t = rec
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	o, e := c.cfg.Pipeline.Run(ctx, p, t)
	if e != nil {
		if x.orderid != "" {
			e.OrderID = x.orderid
		}
		return nil, e
	}
	return enrich(r, x, o.Result, rec)
}

// exchange builds the wire form of r: method, URL, body.
func (c *Client) exchange(r *Request) (*exchange, error) {
	spec := r.spec
	x := &exchange{c: c, req: r, name: r.Name(), method: spec.method, answer: spec.answer, secure: spec.secure}
	merchid := r.merchid
	if merchid == "" {
		merchid = c.cfg.MerchID
	}
	fields := make(map[string]any, len(r.fields)+len(r.extra)+2)
	for k, v := range r.extra {
		fields[k] = v
	}
	for k, v := range r.fields {
		if n, ok := v.(int64); ok {
			v = FormatMinor(n)
		}
		fields[k] = v
	}
	if !spec.secure {
		fields["merchid"] = merchid
	}
	switch r.Op {
	case "auth":
		id, _ := fields["orderid"].(string)
		if id == "" {
			id = c.cfg.NewOrderID()
			fields["orderid"] = id
			x.ownID = true
		}
		x.orderid = id
	case "profileUpdate":
		fields["profileupdate"] = "Y"
	}

	base := c.gateway
	if spec.secure {
		base = c.secure
	}
	u := *base
	segs := []string{}
	if spec.endpoint != "" {
		segs = append(segs, spec.endpoint)
	}
	for i, name := range spec.path {
		v, _ := fields[name].(string)
		if name == "set" && v == "" || name == "acctid" && v == "" && i == len(spec.path)-1 {
			continue // optional trailing segments
		}
		segs = append(segs, url.PathEscape(v)) // profile/<id>//<merchid>: an empty acctid stays an empty segment
	}
	u.Path = strings.TrimRight(base.Path, "/") + "/" + strings.Join(segs, "/")
	if len(spec.query) > 0 {
		q := url.Values{"merchid": {merchid}}
		for _, name := range spec.query {
			if v, ok := fields[name].(string); ok {
				q.Set(name, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	x.url = &u
	if spec.method == http.MethodPost {
		body, err := json.Marshal(fields)
		if err != nil {
			return nil, errs.Wrap(errs.Internal, r.Name(), err, "cannot encode the request body")
		}
		x.body = body
	}
	return x, nil
}
