package sandbox

import (
	"net/http"
	"strconv"
	"strings"
)

// apiError is the secucard error envelope (spec §3.7) before encoding.
//
// The exception names ProductNotFoundException, ProductSecurityException,
// ProductNotAllowedException and ProductInternalException are recorded (spec
// §3.7). ProductFormatException and ProductTooManyRequestsException, every HTTP
// status chosen for an API error, and every "code" value are invented here: the
// sources never enumerate them. "code" mirrors the HTTP status as a string,
// because the successor SDK documents it as "HTTP code corresponding to error".
type apiError struct {
	status  int
	name    string
	details string // developer message (error_details)
	userEN  string // end-user message (error_user), English
	userDE  string // the same in German (Accept-Language: de)
}

func errNotFound(format string, args ...any) *apiError {
	return &apiError{http.StatusNotFound, "ProductNotFoundException", sprintf(format, args...),
		"The requested object was not found.", "Das angefragte Objekt wurde nicht gefunden."}
}

func errSecurity(details string) *apiError {
	return &apiError{http.StatusUnauthorized, "ProductSecurityException", details,
		"Authentication failed. Please log in again.", "Die Anmeldung ist fehlgeschlagen. Bitte melden Sie sich erneut an."}
}

// errFormat reports a malformed request; details name the field at fault.
func errFormat(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ProductFormatException", sprintf(format, args...),
		"The request contains invalid data.", "Die Anfrage enthält ungültige Daten."}
}

// errNotAllowed reports an operation that is valid in general but not for
// this object or state (start on a finished transaction).
func errNotAllowed(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ProductNotAllowedException", sprintf(format, args...),
		"This action is not allowed.", "Diese Aktion ist nicht erlaubt."}
}

func errMethod(method string) *apiError {
	return &apiError{http.StatusMethodNotAllowed, "ProductNotAllowedException", "method " + method + " is not supported",
		"This action is not allowed.", "Diese Aktion ist nicht erlaubt."}
}

// errConflict reports a duplicate X-Action whose first request is still running.
func errConflict(details string) *apiError {
	return &apiError{http.StatusConflict, "ProductNotAllowedException", details,
		"The request is already being processed.", "Die Anfrage wird bereits bearbeitet."}
}

// errForStatus is the default body of a status fault: the envelope a real
// server would plausibly send with that status.
func errForStatus(status int) *apiError {
	switch {
	case status == http.StatusUnauthorized:
		return errSecurity("the access token is invalid or expired (injected fault)")
	case status == http.StatusNotFound:
		return errNotFound("not found (injected fault)")
	case status == http.StatusTooManyRequests:
		return &apiError{status, "ProductTooManyRequestsException", "too many requests (injected fault)",
			"Too many requests. Please try again later.", "Zu viele Anfragen. Bitte versuchen Sie es später erneut."}
	case status >= 500:
		return &apiError{status, "ProductInternalException", http.StatusText(status) + " (injected fault)",
			"The service is temporarily unavailable.", "Der Dienst ist vorübergehend nicht verfügbar."}
	}
	return &apiError{status, "ProductFormatException", http.StatusText(status) + " (injected fault)",
		"The request could not be processed.", "Die Anfrage konnte nicht verarbeitet werden."}
}

// envelope encodes the error for a caller whose Accept-Language is lang.
func (e *apiError) envelope(lang, supportID string) []byte {
	user := e.userEN
	if isGerman(lang) {
		user = e.userDE
	}
	return mustEncode(map[string]any{
		"status":        "error",
		"error":         e.name,
		"error_details": e.details,
		"error_user":    user,
		"code":          strconv.Itoa(e.status),
		"supportId":     supportID,
	})
}

// isGerman reports whether an Accept-Language value prefers German.
func isGerman(lang string) bool {
	first, _, _ := strings.Cut(lang, ",")
	first = strings.ToLower(strings.TrimSpace(first))
	return first == "de" || strings.HasPrefix(first, "de-") || strings.HasPrefix(first, "de;")
}

// oauthError is the OAuth error body (spec §2.4).
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) body() []byte {
	return mustEncode(map[string]any{"error": e.code, "error_description": e.description})
}

func oauthErr(status int, code, format string, args ...any) *oauthError {
	return &oauthError{status, code, sprintf(format, args...)}
}
