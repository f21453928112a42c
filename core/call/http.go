package call

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
)

// HTTPResult is what one HTTP exchange produced.
type HTTPResult struct {
	Status  int
	Header  http.Header
	Body    []byte
	Err     error         // transport or body-read error
	Written bool          // the whole request reached the connection
	WroteAt time.Time     // when it did (zero when it did not)
	TooBig  bool          // the body exceeded the cap (Body is nil)
	Took    time.Duration // for logs
}

// SendHTTP performs one exchange for an HTTP transport: it knows from
// httptrace whether the request was written (what Decide needs to tell "never
// left" from "may have acted") and caps the answer body at maxBody bytes, so
// a misbehaving proxy cannot exhaust a till's memory.
func SendHTTP(client *http.Client, req *http.Request, maxBody int64) HTTPResult {
	var wrote atomic.Pointer[time.Time] // nil: not written
	trace := &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				now := time.Now()
				wrote.Store(&now)
			}
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		res := HTTPResult{Err: err, Took: time.Since(start)}
		if at := wrote.Load(); at != nil {
			res.Written, res.WroteAt = true, *at
		}
		return res
	}
	defer resp.Body.Close()
	wroteAt := time.Now() // an answer came: the request was written by now
	if at := wrote.Load(); at != nil {
		wroteAt = *at
	}
	data, err := readBody(resp, maxBody)
	res := HTTPResult{Status: resp.StatusCode, Header: resp.Header, Body: data, Written: true, WroteAt: wroteAt, Took: time.Since(start)}
	switch {
	case err != nil:
		res.Err = err
	case int64(len(data)) > maxBody:
		res.TooBig, res.Body = true, nil
	}
	return res
}

// readBody reads at most maxBody+1 bytes (one more tells "too big"). A body
// of known length is read into a buffer of its size, in one allocation.
func readBody(resp *http.Response, maxBody int64) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > maxBody {
		return io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	}
	buf := make([]byte, n+1) // the extra byte sees a body longer than announced
	got, err := io.ReadFull(resp.Body, buf)
	switch {
	case int64(got) == n && (err == io.ErrUnexpectedEOF || err == io.EOF):
		return buf[:got], nil // exactly the announced body
	case err != nil:
		return buf[:got], err // a truncated body, a broken connection
	}
	rest, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1-int64(got)))
	return append(buf[:got], rest...), err
}

// HTTPError classifies a failed exchange without an answer. A request whose
// context ended is a Timeout or Canceled (the transport error is kept as the
// cause); everything http.Client.Do returns otherwise is about the connection
// (TLS verification, protocol errors), so it is a Network error, never an
// Internal one.
func HTTPError(ctx context.Context, op string, err error) *errs.Error {
	if cerr := ctx.Err(); cerr != nil {
		e := errs.Classify(op, cerr)
		e.Err = err
		return e
	}
	cause := err
	var uerr *url.Error
	if errors.As(cause, &uerr) {
		cause = uerr.Err // the URL is logged separately; keep the message short
	}
	e := errs.Classify(op, cause)
	if e.Kind == errs.Internal {
		e = errs.Wrap(errs.Network, op, cause, "connection failed: %s", cause.Error())
	}
	e.Err = err
	return e
}

// maxRetryAfterValue bounds an absurd Retry-After (delay-seconds or a date)
// at a day.
const maxRetryAfterValue = 24 * time.Hour

// RetryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110
// §10.2.3). ok is false when the header is absent or unreadable; a date in
// the past is a wait of 0, still reported.
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(maxRetryAfterValue/time.Second) {
			return maxRetryAfterValue, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfterValue), true
	}
	return 0, false
}
