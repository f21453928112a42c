// Package call owns the one call pipeline every transport shares.
//
// A request is resolved once into a Plan (plan.go): the catalog's canonical
// resource and action, anonymous or not, the default body, the idempotency
// key, whether it mutates, the normalised query and the deadline. A transport
// (REST, STOMP, the token endpoint, later a second provider) only sends a
// plan and reports an Outcome: whether the request was written, the answer's
// class and status, Retry-After, the error. Decide is the one function that
// says whether a failed attempt is repeated, and Finish, fed by the same
// decision, is the one place that sets retryable and outcome on the error the
// host sees. Pipeline.Run (pipeline.go) loops over the three.
//
// Nothing here knows a wire format: what a plan may safely repeat is data
// (Safety) the plan's resolver sets, and what an answer means is the Answer
// class a transport's decoder sets. A provider with other rules (HTTP Basic,
// no idempotency key, its own "may repeat" facts) supplies its own plans and
// decoder and reuses Decide, Finish and Run unchanged.
package call

import (
	"fmt"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
)

// Safety is what the plan's resolver knows about repeating the request. The
// decision never looks at methods or resource names, only at these facts.
type Safety struct {
	// Mutating: the request may change state on the server.
	Mutating bool
	// Idempotent: repeating the request has no further effect by its nature
	// (a PUT of a whole object, a DELETE). Reads are never Mutating at all.
	Idempotent bool
	// Key is the idempotency key sent with the request (X-Action), "" for
	// none. Every error of a mutating call carries it, so the host repeats
	// with it and never with a new one.
	Key string
	// KeyDedupes: the server runs a request carrying Key at most once, so a
	// repeat with the same key cannot act twice. False when no key is sent
	// or when nothing promises it for this request (a payment start: the
	// server's dedupe is unknown, spec §9.2, and a terminal charges money).
	KeyDedupes bool
}

// repeatSafe reports whether sending the request again cannot act twice even
// if the first one reached the server.
func (s Safety) repeatSafe() bool {
	return !s.Mutating || s.Idempotent || (s.Key != "" && s.KeyDedupes)
}

// why names what makes a repeat safe, for reasons in logs.
func (s Safety) why() string {
	switch {
	case !s.Mutating:
		return "the request changes nothing"
	case s.Idempotent:
		return "repeating it has no further effect"
	}
	return "its idempotency key lets the server drop a duplicate"
}

// Answer classifies what came back for one attempt. Transports' decoders set
// it; Decide reads it.
type Answer int

// The classes of an answer.
const (
	// NoAnswer: nothing came back (connection failure, timeout, the
	// connection dropped). Outcome.Written says whether the request left.
	NoAnswer Answer = iota
	// Success: Outcome.Result holds the answer.
	Success
	// Refused: the server answered that it did not carry the request out
	// (a 4xx, an API error envelope, a broker refusing the SEND). A repeat
	// gets the same answer.
	Refused
	// RateLimited: refused for now (HTTP 429): not acted on, so any request
	// may be repeated, after Retry-After.
	RateLimited
	// ServerFailed: the server failed (a 5xx, ProductInternalException over
	// STOMP) and may have acted before it did.
	ServerFailed
	// Unreadable: an answer arrived but cannot be read (not JSON, too big):
	// the server may have acted.
	Unreadable
	// DeclinedForNow: a payment provider declined for now (CardPointe
	// respstat B: the processor timed out, a line is down). Nothing was
	// charged and a new attempt may be approved, but whether to try again
	// (now, the same card, another) is the host's decision: the pipeline
	// never repeats it by itself.
	DeclinedForNow
	// Reversed: the answer was lost, and the provider then confirmed that
	// it reversed whatever the request did (CardPointe voidByOrderId).
	// Nothing stands, so a new attempt acts at most once; the pipeline
	// does not repeat it by itself (the host decides whether to charge
	// again).
	Reversed
)

func (a Answer) String() string {
	switch a {
	case NoAnswer:
		return "no answer"
	case Success:
		return "success"
	case Refused:
		return "refused"
	case RateLimited:
		return "rate limited"
	case ServerFailed:
		return "server failure"
	case Unreadable:
		return "unreadable answer"
	case DeclinedForNow:
		return "declined for now"
	case Reversed:
		return "reversed"
	}
	return fmt.Sprintf("answer(%d)", int(a))
}

// Outcome is what one attempt produced, as the transport reports it.
type Outcome struct {
	Answer Answer
	// Written: the request (or part of it) may have reached the server.
	// False only when it provably never reached the server: it never left
	// this machine, or the provider's own lookup proved it never arrived
	// (CardPointe's inquireByOrderid answering "Txn not found").
	Written bool
	// Result is the decoded answer of a Success.
	Result []byte
	// Err is the failure as the host will see it (every Answer but Success).
	Err *errs.Error
	// Status is the HTTP status of the answer, 0 for none (STOMP, no answer).
	Status int
	// RetryAfter is the server's Retry-After when HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool
	// RefusedToken is the access token the server refused (HTTP 401 with a
	// bearer token, ProductSecurityException over STOMP): the pipeline
	// invalidates it and replays once; that replay is not a repeat.
	RefusedToken string
	// Exhausted: the failure already went through its own pipeline (a token
	// request that used its attempts): report it, do not repeat it.
	Exhausted bool
}

// Policy bounds repeats. The client resolves it from the config's retry
// section; sub-packages apply no defaults to it.
type Policy struct {
	MaxAttempts int           // total attempts per call; 1 = never repeat
	Backoff     retry.Backoff // delays between attempts
	// MaxWait is the longest Retry-After the library waits out by itself; a
	// server asking for more gets the error (with retry_after_ms) at once so
	// the till can tell the cashier instead of freezing.
	MaxWait time.Duration
}

// Decision is Decide's answer.
type Decision struct {
	Repeat    bool          // send the same request again (same idempotency key) after Delay
	Delay     time.Duration // wait before the repeat
	Reason    string        // why, for logs and the OnRetry hook
	Retryable bool          // the host may repeat it: it may succeed and cannot act twice
	Outcome   string        // errs.OutcomeNotSent | OutcomeRejected | OutcomeUnknown | OutcomeVoided
}

// Decide is the one answer to "may this request be sent again?" for every
// transport. attempt is the 1-based number of the attempt that produced o.
// Retryable and Outcome describe the failure for the host whatever the
// attempts left; Repeat additionally needs an attempt and time to wait.
func Decide(p *Plan, o Outcome, attempt int) Decision {
	d := Decision{Outcome: outcomeOf(o)}
	d.Retryable, d.Reason = mayRepeat(p.Safety, o)
	if !d.Retryable {
		return d
	}
	switch {
	case o.Answer == DeclinedForNow || o.Answer == Reversed:
		d.Reason = "whether to try again is the host's decision (" + d.Reason + ")"
		return d
	case o.Exhausted:
		d.Reason = "it already used its own attempts (" + d.Reason + ")"
		return d
	case o.Err != nil && o.Err.Kind == errs.Canceled:
		d.Reason = "the call was canceled"
		return d
	case attempt >= p.Policy.MaxAttempts:
		d.Reason = fmt.Sprintf("no attempts left (%d of %d used; %s)", attempt, p.Policy.MaxAttempts, d.Reason)
		return d
	}
	delay := p.Policy.Backoff.Delay(attempt)
	if o.HasRetryAfter {
		if o.RetryAfter > p.Policy.MaxWait {
			d.Reason = fmt.Sprintf("the server asks to wait %s, longer than the %s the library waits by itself", o.RetryAfter, p.Policy.MaxWait)
			return d
		}
		delay = max(delay, o.RetryAfter)
	}
	if !p.Deadline.IsZero() {
		if left := time.Until(p.Deadline); left <= delay {
			d.Reason = fmt.Sprintf("the deadline leaves no time to wait %s before repeating (%s)", delay.Round(time.Millisecond), d.Reason)
			return d
		}
	}
	d.Repeat, d.Delay = true, delay
	return d
}

// outcomeOf says what the failed attempt may have done on the server.
func outcomeOf(o Outcome) string {
	switch o.Answer {
	case Refused, RateLimited, DeclinedForNow:
		return errs.OutcomeRejected
	case Reversed:
		return errs.OutcomeVoided
	case NoAnswer:
		if !o.Written {
			return errs.OutcomeNotSent
		}
	}
	return errs.OutcomeUnknown
}

// mayRepeat is the rule itself: may repeating the request succeed, and is it
// safe? A request that may have reached the server is repeated only when
// Safety says a repeat cannot act twice.
func mayRepeat(s Safety, o Outcome) (bool, string) {
	switch o.Answer {
	case DeclinedForNow:
		return true, "declined for now: nothing was charged, and a new attempt may be approved"
	case Reversed:
		return true, "the provider reversed whatever the lost request did: a new attempt acts at most once"
	}
	if e := o.Err; e != nil {
		if errs.IsCertificate(e) {
			return false, "the server's TLS certificate or handshake was refused; a repeat cannot succeed"
		}
		switch e.Kind {
		case errs.InvalidArgument, errs.Auth, errs.Closed, errs.Internal, errs.Storage, errs.Declined:
			return false, fmt.Sprintf("a %s error does not change on repeat", e.Kind)
		}
	}
	switch o.Answer {
	case Success:
		return false, "the request succeeded"
	case Refused:
		return false, "the server refused the request" + statusText(o.Status)
	case RateLimited:
		return true, "rate limited" + statusText(o.Status) + ": the server did not act on it"
	case ServerFailed, Unreadable:
		if s.repeatSafe() {
			return true, o.Answer.String() + statusText(o.Status) + "; " + s.why()
		}
		return false, o.Answer.String() + statusText(o.Status) + ": the server may have acted, and nothing makes a repeat safe"
	}
	if !o.Written {
		return true, "the request never reached the server"
	}
	if s.repeatSafe() {
		return true, "no answer after the request was sent; " + s.why()
	}
	return false, "no answer after the request was sent: the server may have acted, and nothing makes a repeat safe"
}

func statusText(status int) string {
	if status == 0 {
		return ""
	}
	return fmt.Sprintf(" (HTTP %d)", status)
}

// Finish turns the last failed attempt into the error the host gets. It is
// the one place that sets retryable and outcome; it also attaches the
// idempotency key of a mutating call and the server's Retry-After. It
// returns a copy: the transport's error may be shared (a token request's
// error reaches every caller waiting for that token).
func Finish(p *Plan, o Outcome, d Decision) *errs.Error {
	var e errs.Error
	if o.Err != nil {
		e = *o.Err
	} else {
		e = *errs.New(errs.Internal, p.Name, "the call failed without an error (%s)", o.Answer)
	}
	if e.Op == "" {
		e.Op = p.Name
	}
	e.Retryable = d.Retryable
	e.Outcome = d.Outcome
	if p.Safety.Mutating && p.Safety.Key != "" {
		e.IdempotencyKey = p.Safety.Key
	}
	if o.HasRetryAfter {
		ms := o.RetryAfter.Milliseconds()
		e.RetryAfterMS = &ms
	}
	if d.Outcome == errs.OutcomeUnknown && p.Safety.Mutating && !strings.Contains(e.Message, "may have acted") {
		if d.Retryable {
			e.Message += "; the server may have acted on it: repeat it only with the same idempotency_key"
		} else {
			e.Message += "; the server may have acted on it: look it up before repeating it"
		}
	}
	return &e
}

// Unsent finishes an error of a call that failed before anything was sent
// (bad input, a closed client, a failed connect), through the same decision.
// An error that is already finished is returned as it is.
func Unsent(name string, err error) *errs.Error {
	e := errs.As(err)
	if e == nil || e.Outcome != "" {
		return e
	}
	p := &Plan{Name: name}
	o := Outcome{Err: e}
	return Finish(p, o, Decide(p, o, 1))
}
