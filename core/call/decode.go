package call

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// Reply is one secucard answer as a transport received it.
type Reply struct {
	// Status is the HTTP status; 0 for a STOMP reply, which has none.
	Status int
	Body   []byte
	// Framed: a STOMP reply, {"status":"ok","data":...} or the error keys
	// at top level (spec §4.7). A REST body is the data itself.
	Framed bool
}

// emptyList is the answer of a list without data: a list is always a list.
var emptyList = []byte(`{"count":0,"data":[]}`)

// Decode is the one reading of secucard answers for both channels (spec §3.6,
// §3.7, §4.7): the result of a success (the object, the normalised list
// {count, data, scroll_id}, or null for no body), or the error envelope with
// the class Decide needs. token is the access token the request carried; a
// reply refusing it is reported in RefusedToken.
func Decode(p *Plan, r Reply, token string) Outcome {
	op := p.Name
	body := bytes.TrimSpace(r.Body)
	data := body
	valid := false // data is known to be valid JSON
	if r.Framed {
		m, ok := api.ParseObject(body)
		if !ok {
			return unreadable(op, r.Status, "the reply is not a JSON object"+api.Excerpt(body))
		}
		env := api.EnvelopeOf(m)
		if env.IsError() {
			return failure(p, r, env, token)
		}
		d, hasData := m["data"]
		if env.Status != "" || hasData {
			data = bytes.TrimSpace(d)
		}
		// A reply without status and data is not described anywhere; the
		// tolerant reading is that the body is the answer itself.
	} else if r.Status < 200 || r.Status > 299 {
		return httpFailure(p, r, token)
	} else if len(body) > 0 && body[0] == '{' && mayHaveStatus(body) {
		// STOMP replies report errors with status "error"; should REST ever
		// do the same with a 2xx (unknown), it must not pass for success.
		var probe struct {
			Status json.RawMessage `json:"status"`
		}
		if json.Unmarshal(body, &probe) == nil {
			if strings.EqualFold(api.JSONText(probe.Status), "error") {
				m, _ := api.ParseObject(body)
				return failure(p, r, api.EnvelopeOf(m), token)
			}
			valid = true // Unmarshal checked the whole body: no second scan
		}
	}
	return result(p, r.Status, data, valid)
}

// mayHaveStatus reports whether body could hold a "status" key as
// encoding/json matches keys (any case; escapes and non-ASCII are taken as a
// maybe). Most answers have none, and then the probe's full decode of the
// body is skipped: json.Valid alone checks it.
func mayHaveStatus(body []byte) bool {
	const key = `"status"`
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' || c >= 0x80 {
			return true
		}
		if c == '"' && i+len(key) <= len(body) && strings.EqualFold(string(body[i:i+len(key)]), key) {
			return true
		}
	}
	return false
}

// result reads the data of a successful answer; valid says data was checked
// to be JSON already.
func result(p *Plan, status int, data []byte, valid bool) Outcome {
	list := p.Request != nil && p.Request.Op == api.List
	if len(data) == 0 || string(data) == "null" || status == http.StatusNoContent {
		if list {
			return Outcome{Answer: Success, Written: true, Status: status, Result: emptyList}
		}
		return Outcome{Answer: Success, Written: true, Status: status, Result: []byte("null")}
	}
	if !valid && !json.Valid(data) {
		// A 2xx that is not JSON comes from something in between (a captive
		// portal, a proxy page), not from the API: the outcome is unknown.
		return unreadable(p.Name, status, "the answer is not JSON"+api.Excerpt(data))
	}
	if !list {
		return Outcome{Answer: Success, Written: true, Status: status, Result: data}
	}
	if data[0] == '[' {
		// Unknown whether lists ever come as a bare array; take it as one
		// page holding everything.
		var items []json.RawMessage
		_ = json.Unmarshal(data, &items)
		b, _ := json.Marshal(api.Page{Count: len(items), Data: append([]json.RawMessage{}, items...)})
		return Outcome{Answer: Success, Written: true, Status: status, Result: b}
	}
	norm, err := api.NormalizeList(data)
	if err != nil {
		return unreadable(p.Name, status, "the list answer is not a JSON object")
	}
	return Outcome{Answer: Success, Written: true, Status: status, Result: norm}
}

// unreadable reports an answer that arrived but cannot be used.
func unreadable(op string, status int, what string) Outcome {
	e := errs.New(errs.Network, op, "unreadable answer: %s", what)
	e.Status = status
	return Outcome{Answer: Unreadable, Written: true, Status: status, Err: e}
}

// UnreadableAnswer reports an answer a transport could not read at all (over its
// size cap, a broken frame).
func UnreadableAnswer(p *Plan, status int, what string) Outcome {
	return unreadable(p.Name, status, what)
}

// failure maps an error envelope (a STOMP error reply, or a 2xx REST body
// with status "error").
func failure(p *Plan, r Reply, env api.Envelope, token string) Outcome {
	if r.Framed && p.Request != nil && p.Request.Op == api.List && strings.EqualFold(env.Error, "ProductNotFoundException") {
		// Java treats this as an empty result for list calls (spec §4.7).
		return Outcome{Answer: Success, Written: true, Result: emptyList}
	}
	o := Outcome{Answer: nameAnswer(env.Error), Written: true, Status: r.Status, Err: env.Err(errs.API, p.Name, r.Status)}
	if r.Framed && tokenRefused(env) && token != "" {
		o.RefusedToken = token
	}
	return o
}

// httpFailure maps a non-2xx REST answer (spec §3.7). The statuses the real
// server uses are unknown, so the envelope supplies the meaning and the
// status only the class.
func httpFailure(p *Plan, r Reply, token string) Outcome {
	e := api.HTTPError(p.Name, r.Status, r.Body)
	o := Outcome{Answer: StatusAnswer(r.Status), Written: true, Status: r.Status, Err: e}
	if r.Status == http.StatusUnauthorized {
		// With a token: refused, refreshed and replayed once by Run. Without
		// one (an anonymous call): the server wants authentication.
		e.Kind = errs.Auth
		o.RefusedToken = token
	}
	return o
}

// StatusAnswer classifies an HTTP status: 429 is a refusal for now, a 5xx a
// server failure that may have acted (except 501/505, which will not change),
// every other non-2xx a refusal.
func StatusAnswer(status int) Answer {
	switch {
	case status >= 200 && status <= 299:
		return Success
	case status == http.StatusTooManyRequests:
		return RateLimited
	case status == http.StatusNotImplemented || status == http.StatusHTTPVersionNotSupported:
		return Refused
	case status >= 500:
		return ServerFailed
	}
	return Refused
}

// nameAnswer classifies an error envelope without an HTTP status (STOMP) the
// way the sandbox and the SDKs pair names with statuses, so a fault fails the
// same way over both channels: ProductInternalException is the server's own
// failure (a 5xx), a rate limit is a 429; the real server's STOMP wording
// for either is unknown, so a name that says "too many requests" or "rate
// limit" is read as one. Everything else is a refusal.
func nameAnswer(name string) Answer {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "toomanyrequests") || strings.Contains(n, "ratelimit"):
		return RateLimited
	case n == "productinternalexception":
		return ServerFailed
	}
	return Refused
}

// tokenRefused reports an envelope that refuses the token itself. The real
// server's wording for an expired token over STOMP is unknown; the JS SDK
// maps ProductSecurityException to AuthenticationFailedException (spec §3.7),
// and the sandbox answers an expired token with it.
func tokenRefused(env api.Envelope) bool {
	return strings.EqualFold(env.Error, "ProductSecurityException")
}
