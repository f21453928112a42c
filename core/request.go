package core

import (
	"context"
	"encoding/json"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/cardpointe"
	"github.com/libsecucard/libsecucard/core/errs"
)

// Request is one parsed host request: a secucard API call (*api.Request) or
// a CardPointe call (*cardpointe.Request). The request JSON's "system" key
// tells them apart: absent or "secucard", or "cardpointe".
type Request interface {
	Name() string
}

// ParseRequest decodes and checks the host's request JSON for either system.
// Nothing is sent for a request that fails here.
func ParseRequest(b []byte) (Request, error) {
	var probe struct {
		System json.RawMessage `json:"system"`
	}
	if json.Unmarshal(b, &probe) == nil && len(probe.System) > 0 && string(probe.System) != "null" {
		var system string
		if json.Unmarshal(probe.System, &system) != nil {
			return nil, errs.Invalid("system", `must be a string: "secucard" (the default) or "cardpointe"`)
		}
		switch system {
		case "secucard":
		case cardpointe.System:
			return cardpointe.ParseRequest(b)
		default:
			return nil, errs.Invalid("system", `must be "secucard" (the default) or "cardpointe", got %q`, system)
		}
	}
	// Syntax errors and everything else: the secucard request's strict decoder.
	return api.ParseRequest(b)
}

// Execute runs a parsed request on the system it names.
func (c *Client) Execute(ctx context.Context, req Request) (json.RawMessage, error) {
	switch r := req.(type) {
	case *api.Request:
		return c.Call(ctx, r)
	case *cardpointe.Request:
		return c.CardPointe(ctx, r)
	}
	return nil, errs.Invalid("request", "is not a request this client knows")
}
