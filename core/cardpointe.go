package core

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"time"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/cardpointe"
	"github.com/libsecucard/libsecucard/core/errs"
)

// newCardPointe builds the CardPointe client of a config with a cardpointe
// section: its own HTTP client (other hosts, its own connect timeout, the
// same verified TLS) on the same call pipeline, logger and stats.
func (c *Client) newCardPointe(tlsConf *tls.Config) error {
	s := c.cfg.cardpointe
	if !s.enabled {
		return nil
	}
	// The Gateway password is this client's secret too: mask it wherever
	// it could surface (a server echoing it, a host logging a config).
	c.red.Set("cardpointe_password", s.password)
	hc := c.opts.httpClient
	if hc == nil {
		hc = newHTTPClient(s.connect, tlsConf)
	}
	cp, err := cardpointe.New(cardpointe.Config{
		BaseURL: s.gateway, CardSecureURL: s.cardsecure,
		Username: s.username, Password: s.password, MerchID: s.merchid,
		Response: s.response, Recovery: s.recovery, GatewayWindow: s.window,
		HTTPClient: hc, UserAgent: UserAgent(),
		Policy: c.cfg.policy, Pipeline: &c.caller.Pipeline, Logger: c.log,
	})
	if err != nil {
		return err
	}
	c.cp, c.cpHTTP = cp, hc
	c.log.Infof("cardpointe: gateway=%s cardsecure=%s merchid=%s", s.gateway, s.cardsecure, s.merchid)
	return nil
}

// CardPointe runs one CardPointe Gateway or CardSecure request (the
// config's cardpointe section). Every error carries retryable and outcome
// from the one decision, and an auth's orderid.
func (c *Client) CardPointe(ctx context.Context, req *cardpointe.Request) (json.RawMessage, error) {
	start := time.Now()
	res, err := c.cardpointeCall(ctx, req)
	c.stats.record(err, time.Since(start))
	if err != nil {
		name := cardpointe.System
		if req != nil {
			name = req.Name()
		}
		return nil, errs.Redact(call.Unsent(name, err), c.red)
	}
	return res, nil
}

func (c *Client) cardpointeCall(ctx context.Context, req *cardpointe.Request) (json.RawMessage, error) {
	if c.cp == nil {
		return nil, errs.Invalid("system", `is "cardpointe" but the config has no cardpointe section`)
	}
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.end()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.closeCtx, cancel) // Close cancels calls in flight
	defer stop()
	out, err := c.cp.Do(ctx, req)
	if err != nil && c.closeCtx.Err() != nil && errs.KindOf(err) == errs.Canceled {
		e := *errs.As(err)
		e.Message = "the client was closed while the call was in flight: " + e.Message
		return nil, &e
	}
	return out, err
}

// closeCardPointe releases the CardPointe client's idle connections.
func (c *Client) closeCardPointe() {
	if c.cp == nil || c.opts.httpClient != nil {
		return
	}
	if t, ok := c.cpHTTP.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}
