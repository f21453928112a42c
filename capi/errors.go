package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/libsecucard/libsecucard/core/errs"
)

// Status codes of include/secucard.h.
const (
	statusOK              = 0
	statusInvalidArgument = 1
	statusInvalidHandle   = 2
	statusAuth            = 3
	statusAPI             = 4
	statusDeclined        = 5
	statusNetwork         = 6
	statusTimeout         = 7
	statusCanceled        = 8
	statusClosed          = 9
	statusStorage         = 10
	statusNoEvent         = 11
	statusInternal        = 12
)

var kindStatus = map[errs.Kind]int{
	errs.InvalidArgument: statusInvalidArgument,
	errs.InvalidHandle:   statusInvalidHandle,
	errs.Auth:            statusAuth,
	errs.API:             statusAPI,
	errs.Declined:        statusDeclined,
	errs.Network:         statusNetwork,
	errs.Timeout:         statusTimeout,
	errs.Canceled:        statusCanceled,
	errs.Closed:          statusClosed,
	errs.Storage:         statusStorage,
	errs.Internal:        statusInternal,
}

// statusError carries a status the error's Kind alone does not imply: an
// invalid handle (an invalid_argument with its own code) or "no event".
type statusError struct {
	status int
	err    *errs.Error
}

func (s *statusError) Error() string { return s.err.Error() }
func (s *statusError) Unwrap() error { return s.err }

func invalidHandle(what string) error {
	e := errs.New(errs.InvalidHandle, "", "%s: is not a live handle (NULL, freed, or never returned by the library)", what)
	e.Field = what
	return &statusError{status: statusInvalidHandle, err: e}
}

func noEvent(cause error) error {
	return &statusError{status: statusNoEvent, err: errs.As(cause)}
}

// mapError is the one translation of an error into a status code and the
// error JSON {"status": n, ...the errs.Error JSON...}. The core redacts every
// message when it builds the error; nothing here adds text from elsewhere.
func mapError(err error) (int, []byte) {
	if err == nil {
		return statusOK, nil
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.status, errorJSON(se.status, se.err)
	}
	e := errs.As(err)
	st, ok := kindStatus[e.Kind]
	if !ok {
		st = statusInternal
	}
	return st, errorJSON(st, e)
}

func errorJSON(status int, e *errs.Error) []byte {
	body, err := json.Marshal(e)
	if err != nil || len(body) < 2 || body[0] != '{' {
		// Cannot happen for errs.Error; keep the documented minimum anyway.
		return []byte(fmt.Sprintf(`{"status":%d,"type":"internal","message":"the error could not be encoded","retryable":false}`, status))
	}
	out := make([]byte, 0, len(body)+16)
	out = append(out, `{"status":`...)
	out = strconv.AppendInt(out, int64(status), 10)
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...)
}

// panicError reports a recovered panic of an export.
func panicError(export string, r any) error {
	return errs.New(errs.Internal, export, "internal error (recovered panic): %v", r)
}
