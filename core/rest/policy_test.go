package rest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestShouldRetry(t *testing.T) {
	netErr := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	cases := []struct {
		name   string
		a      Attempt
		retry  bool
		reason string // substring of the reason
	}{
		{"GET 503 retried", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Status: 503}, true, "server error 503"},
		{"GET 500 retried", Attempt{Method: "GET", Number: 2, MaxAttempts: 3, Status: 500}, true, "server error 500"},
		{"PUT 502 retried", Attempt{Method: "PUT", Number: 1, MaxAttempts: 3, Status: 502}, true, "PUT"},
		{"DELETE 504 retried", Attempt{Method: "DELETE", Number: 1, MaxAttempts: 3, Status: 504}, true, "DELETE"},
		{"POST 503 without X-Action not retried", Attempt{Method: "POST", Number: 1, MaxAttempts: 3, Status: 503}, false, "without X-Action"},
		{"POST 503 with X-Action retried", Attempt{Method: "POST", IdempotencyID: true, Number: 1, MaxAttempts: 3, Status: 503}, true, "X-Action"},
		{"POST dial failure (not written) retried", Attempt{Method: "POST", Number: 1, MaxAttempts: 3, Err: dialErr}, true, "before the request was sent"},
		{"POST reset after write not retried", Attempt{Method: "POST", Number: 1, MaxAttempts: 3, Err: netErr, Written: true}, false, "without X-Action"},
		{"POST reset after write with X-Action retried", Attempt{Method: "POST", IdempotencyID: true, Number: 1, MaxAttempts: 3, Err: netErr, Written: true}, true, "X-Action"},
		{"GET reset after write retried", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Err: netErr, Written: true}, true, "GET"},
		{"400 never", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Status: 400}, false, "client error 400"},
		{"404 never, even with X-Action", Attempt{Method: "POST", IdempotencyID: true, Number: 1, MaxAttempts: 3, Status: 404}, false, "client error"},
		{"401 left to the token replay", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Status: 401}, false, "client error 401"},
		{"429 with Retry-After retried", Attempt{Method: "POST", Number: 1, MaxAttempts: 3, Status: 429, RetryAfter: 2 * time.Second}, true, "429"},
		{"Retry-After too long not waited for", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Status: 503, RetryAfter: time.Hour}, false, "longer than"},
		{"501 not retried", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Status: 501}, false, "501"},
		{"max attempts reached", Attempt{Method: "GET", Number: 3, MaxAttempts: 3, Status: 503}, false, "3 of 3"},
		{"one attempt means no retry", Attempt{Method: "GET", Number: 1, MaxAttempts: 1, Err: dialErr}, false, "1 of 1"},
		{"canceled context not retried", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Err: fmt.Errorf("get: %w", context.Canceled)}, false, "context"},
		{"deadline not retried", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Err: context.DeadlineExceeded, Written: true}, false, "context"},
		{"TLS certificate rejected not retried", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Err: x509.UnknownAuthorityError{}}, false, "certificate"},
		{"200 is no failure", Attempt{Method: "GET", Number: 1, MaxAttempts: 3, Status: 200}, false, "not a failure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			retry, reason := ShouldRetry(tc.a)
			assert.Equal(t, tc.retry, retry, reason)
			assert.Contains(t, reason, tc.reason)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999", 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, parseRetryAfter(tc.in, now))
		})
	}
}
