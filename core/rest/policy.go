package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter is the longest Retry-After the channel waits for on its own.
// A server asking for more is answered with the error (carrying RetryAfter)
// so the till can tell the cashier instead of freezing.
const MaxRetryAfter = 30 * time.Second

// Attempt describes one failed try of a call, the input of ShouldRetry.
type Attempt struct {
	Method        string        // HTTP method
	IdempotencyID bool          // the request carries X-Action
	Number        int           // 1-based attempt that just failed
	MaxAttempts   int           // total attempts allowed for the call
	Status        int           // HTTP status, 0 if no response
	Err           error         // transport error, nil if a response arrived
	Written       bool          // the request (headers+body) was fully written to the connection
	RetryAfter    time.Duration // parsed Retry-After, 0 if none
}

// ShouldRetry is the channel's one retry policy. It answers whether the
// failed attempt may be repeated and why (the reason goes to logs and the
// OnRetry hook). A payment must never be sent twice by accident, so a POST is
// repeated only when it provably never left the client or when it carries an
// X-Action id the server can deduplicate by.
func ShouldRetry(a Attempt) (bool, string) {
	if a.Number >= a.MaxAttempts {
		return false, fmt.Sprintf("no attempts left (%d of %d used)", a.Number, a.MaxAttempts)
	}
	if a.RetryAfter > MaxRetryAfter {
		return false, fmt.Sprintf("server asks to wait %s, longer than %s", a.RetryAfter, MaxRetryAfter)
	}
	if a.Err != nil {
		if errors.Is(a.Err, context.Canceled) || errors.Is(a.Err, context.DeadlineExceeded) {
			return false, "the call's context is done"
		}
		if isCertError(a.Err) {
			return false, "the server's TLS certificate was rejected; a repeat cannot succeed"
		}
		switch {
		case !a.Written:
			return true, "connection failed before the request was sent"
		case idempotentMethod(a.Method):
			return true, "network error on " + strings.ToUpper(a.Method)
		case a.IdempotencyID:
			return true, "network error; X-Action lets the server drop a duplicate"
		}
		return false, "network error after the request was sent; without X-Action a repeat could act twice"
	}
	switch {
	case a.Status == http.StatusTooManyRequests:
		// A rate-limited call was refused, not processed: safe for any method.
		return true, "rate limited (429)"
	case a.Status == http.StatusNotImplemented || a.Status == http.StatusHTTPVersionNotSupported:
		return false, fmt.Sprintf("HTTP %d will not change on repeat", a.Status)
	case a.Status >= 500:
		if idempotentMethod(a.Method) {
			return true, fmt.Sprintf("server error %d on %s", a.Status, strings.ToUpper(a.Method))
		}
		if a.IdempotencyID {
			return true, fmt.Sprintf("server error %d; X-Action lets the server drop a duplicate", a.Status)
		}
		return false, fmt.Sprintf("server error %d on %s without X-Action; the server may have acted", a.Status, strings.ToUpper(a.Method))
	case a.Status >= 400:
		return false, fmt.Sprintf("client error %d", a.Status)
	}
	return false, fmt.Sprintf("HTTP %d is not a failure", a.Status)
}

// idempotentMethod reports whether HTTP defines repeating the method as
// harmless (RFC 9110 §9.2.2).
func idempotentMethod(m string) bool {
	switch strings.ToUpper(m) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date. An
// absent, unparseable or past value is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
