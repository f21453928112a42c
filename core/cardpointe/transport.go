package cardpointe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/redact"
)

// exchange is one request in its wire form: the call.Transport that sends
// it. It never repeats anything by itself.
type exchange struct {
	c       *Client
	req     *Request
	name    string
	method  string
	url     *url.URL
	body    []byte // nil: none (GET and DELETE carry no body)
	answer  answerKind
	secure  bool
	orderid string        // an auth's orderid
	ownID   bool          // the library made the orderid: no earlier auth can carry it
	attempt time.Duration // bounds one attempt's wait for its answer; 0: the call's context does
	wrote   time.Time     // when the last attempt was written; zero: it was not
}

// safety is what the spec says about repeating the request (opSpec). The
// Gateway has no idempotency key (spec §8), so nothing else makes a write
// safe to repeat.
func (x *exchange) safety() call.Safety {
	s := x.req.spec
	return call.Safety{Mutating: s.mutating, Idempotent: s.mutating && s.idempotent != nil && s.idempotent(x.req)}
}

// Invalidate implements call.Transport; Basic credentials are not refreshed.
func (x *exchange) Invalidate(string) {}

// Send sends the request once and reads the answer (call.Transport).
func (x *exchange) Send(ctx context.Context, p *call.Plan) call.Outcome {
	if x.attempt > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.attempt)
		defer cancel()
	}
	var rd *bytes.Reader
	if x.body != nil {
		rd = bytes.NewReader(x.body)
	}
	var hreq *http.Request
	var err error
	if rd != nil {
		hreq, err = http.NewRequestWithContext(ctx, x.method, x.url.String(), rd)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, x.method, x.url.String(), nil)
	}
	if err != nil {
		return call.Outcome{Err: errs.Wrap(errs.Internal, x.name, err, "cannot build the HTTP request")}
	}
	h := hreq.Header
	h.Set("Accept", "application/json")
	h.Set("User-Agent", x.c.cfg.UserAgent)
	if x.body != nil {
		h.Set("Content-Type", "application/json")
		if x.c.log.Enabled(logging.Trace) {
			x.c.log.Tracef("%s %s request body: %s", x.method, x.url.Path, x.body)
		}
	}
	if !x.secure {
		// HTTP Basic is the Gateway's only authentication (spec §1, §8);
		// CardSecure's tokenize takes none (spec §5).
		hreq.SetBasicAuth(x.c.cfg.Username, x.c.cfg.Password)
	}
	res := call.SendHTTP(x.c.http, hreq, MaxBodyBytes)
	x.wrote = res.WroteAt
	x.logResult(res)
	if res.Err != nil {
		return call.Outcome{Written: res.Written, Err: call.HTTPError(ctx, x.name, res.Err)}
	}
	if res.TooBig {
		return call.UnreadableAnswer(p, res.Status, "the body exceeds the size cap")
	}
	o := x.decode(res.Status, res.Body)
	if o.Answer == call.RateLimited {
		o.RetryAfter, o.HasRetryAfter = rateLimitWait(res.Header)
	}
	return o
}

func (x *exchange) logResult(res call.HTTPResult) {
	if !x.c.log.Enabled(logging.Debug) {
		return
	}
	took := res.Took.Round(time.Millisecond)
	if res.Err != nil {
		x.c.log.Debugf("%s %s -> error after %s (sent=%v): %v", x.method, x.url.Path, took, res.Written, res.Err)
		return
	}
	x.c.log.Debugf("%s %s -> %d in %s", x.method, x.url.Path, res.Status, took)
	if x.c.log.Enabled(logging.Trace) && len(res.Body) > 0 {
		x.c.log.Tracef("%s %s response body: %s", x.method, x.url.Path, res.Body)
	}
}

// rateLimitWait reads UAT's X-Rate-Limit-Retry-After-Seconds (spec §7), or
// a standard Retry-After.
func rateLimitWait(h http.Header) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("X-Rate-Limit-Retry-After-Seconds")); v != "" {
		// Seconds, as in Retry-After: read by the one parser, which caps
		// an absurd value (a huge count of seconds overflowed here).
		if d, ok := call.RetryAfter(http.Header{"Retry-After": {v}}, time.Now()); ok {
			return d, true
		}
	}
	return call.RetryAfter(h, time.Now())
}

// decode reads one answer into the class the decision needs (spec §3):
// business outcomes are HTTP 200 with respstat; HTTP errors are 400, 401,
// 404, 5xx (and 429 in UAT).
func (x *exchange) decode(status int, body []byte) call.Outcome {
	body = bytes.TrimSpace(body)
	if status/100 != 2 {
		return x.httpFailure(status, body)
	}
	// The Gateway answers 200; another 2xx (a proxy's 204, say) is read the
	// same way, never taken for a success without an answer.
	if len(body) == 0 || (body[0] != '{' && body[0] != '[') {
		return x.decodeText(body)
	}
	if body[0] == '[' {
		if x.answer == listing || x.answer == record {
			if !json.Valid(body) {
				return call.UnreadableAnswer(x.plan(), status, "the answer is not JSON"+api.Excerpt(body))
			}
			return success(body)
		}
		return call.UnreadableAnswer(x.plan(), status, "an array where an object was expected")
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return call.UnreadableAnswer(x.plan(), status, "the answer is not JSON"+api.Excerpt(body))
	}
	g := gatewayOf(m)
	switch x.answer {
	case cardSecure:
		code := strings.TrimSpace(fmt.Sprint(m["errorcode"]))
		if code == "0" {
			return success(body)
		}
		e := errs.New(errs.API, x.name, "CardSecure refused it: %s (errorcode %s)", str(m["message"]), code)
		e.Code = redact.String(code)
		return refused(e)
	case report:
		if msg, has := m["errormsg"]; has || m["success"] == false {
			return refused(errs.New(errs.API, x.name, "the Gateway refused it: %s", str(msg)))
		}
		return success(body)
	case record:
		if _, has := m["account"]; has || m["token"] != nil || m["setlstat"] != nil {
			return success(body) // a record, whatever its own respstat (spec §2.6)
		}
	}
	switch g.RespStat {
	case "A":
		return success(body)
	case "B":
		e := x.gatewayError(errs.Declined, g, "")
		e.Reason = errs.ReasonTemporary
		e.Message += "; declined for now: nothing was charged, a new attempt may be approved"
		return call.Outcome{Answer: call.DeclinedForNow, Written: true, Status: status, Err: e}
	case "C":
		if x.answer == payment {
			return refused(x.gatewayError(errs.Declined, g, ""))
		}
		return refused(x.gatewayError(errs.API, g, "the Gateway refused it"))
	case "":
		if x.answer == payment {
			// A money movement is always answered with respstat; without
			// it the answer cannot tell what happened.
			return call.UnreadableAnswer(x.plan(), status, "the answer has no respstat"+api.Excerpt(body))
		}
		return success(body)
	}
	return call.UnreadableAnswer(x.plan(), status, fmt.Sprintf("unknown respstat %q", g.RespStat))
}

// decodeText reads a 200 that is not JSON: the credential test's text, and
// settlestat's "Null batches" (spec §2.7), which is an empty list.
func (x *exchange) decodeText(body []byte) call.Outcome {
	s := string(body)
	switch {
	case x.answer == plainText && s != "":
		b, _ := json.Marshal(map[string]any{"valid": true, "text": s})
		return success(b)
	case x.answer == listing && strings.EqualFold(s, "Null batches"):
		return success([]byte("[]"))
	}
	return call.UnreadableAnswer(x.plan(), http.StatusOK, "the answer is not JSON"+api.Excerpt(body))
}

// httpFailure maps an HTTP error status (spec §3): 401 refused credentials,
// 429 UAT's rate limit, everything else an API error with its status.
func (x *exchange) httpFailure(status int, body []byte) call.Outcome {
	what := http.StatusText(status)
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		if s := str(m["error"]); s != "" {
			what = s
		}
		if p := str(m["path"]); p != "" {
			what += " at " + p
		}
	}
	var e *errs.Error
	if status == http.StatusUnauthorized {
		who := "the CardPointe Gateway"
		if x.secure {
			who = "CardSecure"
		}
		e = errs.AuthError(x.name, errs.ReasonDenied, "%s refused the credentials (HTTP 401): check cardpointe.username, cardpointe.password and that the merchid belongs to them", who)
	} else {
		e = errs.New(errs.API, x.name, "HTTP %d: %s", status, what)
	}
	e.Status = status
	return call.Outcome{Answer: call.StatusAnswer(status), Written: true, Status: status, Err: e}
}

func (x *exchange) plan() *call.Plan { return &call.Plan{Name: x.name} }

func success(body []byte) call.Outcome {
	return call.Outcome{Answer: call.Success, Written: true, Status: http.StatusOK, Result: body}
}

func refused(e *errs.Error) call.Outcome {
	e.Status = http.StatusOK
	return call.Outcome{Answer: call.Refused, Written: true, Status: http.StatusOK, Err: e}
}

// gatewayError builds the error of an answer with respstat B or C, carrying
// the Gateway's fields: "[what: ]<resptext> (<respproc> <respcode>)".
func (x *exchange) gatewayError(kind errs.Kind, g errs.Gateway, what string) *errs.Error {
	if what != "" {
		what += ": "
	}
	e := errs.New(kind, x.name, "%s%s (%s %s)", what, orDash(g.RespText), orDash(g.RespProc), orDash(g.RespCode))
	e.Gateway = g
	return e
}

// gatewayOf picks the Gateway's fields out of an answer, redacted.
func gatewayOf(m map[string]any) errs.Gateway {
	orderid := str(m["orderid"])
	if orderid == "" {
		orderid = str(m["orderId"]) // camelCase in inquire and void answers (spec §2.4, §2.6)
	}
	return errs.Gateway{
		RespStat: str(m["respstat"]), RespCode: str(m["respcode"]), RespText: str(m["resptext"]),
		RespProc: str(m["respproc"]), Retref: str(m["retref"]), AVSResp: str(m["avsresp"]),
		CVVResp: str(m["cvvresp"]), OrderID: orderid,
	}
}

// str renders a scalar answer field as a redacted string ("" for none).
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return redact.String(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
