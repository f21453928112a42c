package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// adminError is the body of a failed admin call.
type adminError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, mustJSON(v))
}

func adminFail(w http.ResponseWriter, status int, field, format string, args ...any) {
	code := "invalid_request"
	switch status {
	case http.StatusNotFound:
		code = "not_found"
	case http.StatusMethodNotAllowed:
		code = "method_not_allowed"
	}
	writeAdmin(w, status, adminError{Error: code, Message: fmt.Sprintf(format, args...), Field: field})
}

var adminResult = map[string]bool{"result": true}

// adminRoutes lists the admin API (GET /sandbox answers it).
var adminRoutes = []string{
	"POST /sandbox/devices/approve {\"user_code\"}",
	"POST /sandbox/devices/deny {\"user_code\"}",
	"POST /sandbox/devices/expire {\"user_code\"}",
	"POST /sandbox/tokens/expire {}",
	"POST /sandbox/tokens/revoke_refresh {}",
	"POST /sandbox/faults {path, method, status, retry_after, count, delay_ms, drop, body, channel}",
	"GET /sandbox/faults",
	"DELETE /sandbox/faults",
	"GET /sandbox/requests",
	"DELETE /sandbox/requests",
	"POST /sandbox/events {object, id, created, target, type, data}",
	"GET /sandbox/stomp (STOMP connections: open count, sessions with frames, heart-beats, why they ended)",
	"POST /sandbox/stomp/drop {} (close every STOMP connection; clients reconnect)",
	"GET /sandbox/verify (device verification page)",
	"POST /sandbox/cardpointe/settle {} (settle the CardPointe captures queued so far)",
}

// serveAdmin implements /sandbox/... (JSON in and out, no auth: the sandbox
// is meant for loopback use).
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if cardpointe.Owns(r.URL.Path) {
		s.cardpointe.AdminHandler().ServeHTTP(w, r)
		return
	}
	path := strings.TrimRight(strings.ToLower(r.URL.Path), "/")
	route := r.Method + " " + path
	switch route {
	case "GET /sandbox":
		writeAdmin(w, http.StatusOK, map[string]any{"sandbox": "secucard-sandbox", "routes": adminRoutes})
	case "POST /sandbox/devices/approve", "POST /sandbox/devices/deny", "POST /sandbox/devices/expire":
		var req struct {
			UserCode string `json:"user_code"`
		}
		if !decodeAdmin(w, r, &req) {
			return
		}
		var f func(*deviceCode)
		switch path[len("/sandbox/devices/"):] {
		case "approve":
			f = func(dc *deviceCode) { dc.state = deviceApproved }
		case "deny":
			f = func(dc *deviceCode) { dc.state = deviceDenied }
		default:
			past := s.now().Add(-1)
			f = func(dc *deviceCode) { dc.expires = past }
		}
		if status, err := s.setDevice(req.UserCode, f); err != nil {
			adminFail(w, status, "user_code", "%s", err.Message)
			return
		}
		writeAdmin(w, http.StatusOK, adminResult)
	case "POST /sandbox/tokens/expire":
		if !decodeAdmin(w, r, &struct{}{}) {
			return
		}
		s.ExpireTokens()
		writeAdmin(w, http.StatusOK, adminResult)
	case "POST /sandbox/tokens/revoke_refresh":
		if !decodeAdmin(w, r, &struct{}{}) {
			return
		}
		s.RevokeRefreshTokens()
		writeAdmin(w, http.StatusOK, adminResult)
	case "POST /sandbox/faults":
		var f Fault
		if !decodeAdmin(w, r, &f) {
			return
		}
		if err := s.addFault(f); err != nil {
			adminFail(w, http.StatusBadRequest, err.Field, "%s", err.Message)
			return
		}
		writeAdmin(w, http.StatusOK, adminResult)
	case "GET /sandbox/faults":
		s.mu.Lock()
		out := make([]Fault, 0, len(s.faults))
		for _, f := range s.faults {
			fc := f.Fault
			fc.Count = f.remaining
			out = append(out, fc)
		}
		s.mu.Unlock()
		writeAdmin(w, http.StatusOK, out)
	case "DELETE /sandbox/faults":
		s.ClearFaults()
		writeAdmin(w, http.StatusOK, adminResult)
	case "GET /sandbox/requests":
		writeAdmin(w, http.StatusOK, s.Requests())
	case "DELETE /sandbox/requests":
		s.ResetRequests()
		writeAdmin(w, http.StatusOK, adminResult)
	case "POST /sandbox/events":
		var ev Event
		if !decodeAdmin(w, r, &ev) {
			return
		}
		switch {
		case ev.Target == "":
			adminFail(w, http.StatusBadRequest, "target", "target is required (product.resource, e.g. general.notifications)")
			return
		case ev.Type == "":
			adminFail(w, http.StatusBadRequest, "type", "type is required (e.g. display, changed)")
			return
		}
		ev = s.completeEvent(ev)
		s.Push(ev)
		writeJSON(w, http.StatusOK, mustJSON(ev))
	case "GET /sandbox/stomp":
		sessions := s.STOMPSessions()
		open := 0
		for _, x := range sessions {
			if x.Open {
				open++
			}
		}
		if sessions == nil {
			sessions = []STOMPSession{}
		}
		writeAdmin(w, http.StatusOK, map[string]any{"open": open, "sessions": sessions})
	case "POST /sandbox/stomp/drop":
		if !decodeAdmin(w, r, &struct{}{}) {
			return
		}
		writeAdmin(w, http.StatusOK, map[string]int{"dropped": s.DropSTOMPConnections()})
	case "GET /sandbox/verify", "POST /sandbox/verify":
		s.serveVerify(w, r)
	default:
		for _, known := range []string{"/sandbox", "/sandbox/devices/approve", "/sandbox/devices/deny", "/sandbox/devices/expire",
			"/sandbox/tokens/expire", "/sandbox/tokens/revoke_refresh", "/sandbox/faults", "/sandbox/requests", "/sandbox/events", "/sandbox/stomp", "/sandbox/stomp/drop", "/sandbox/verify"} {
			if path == known {
				adminFail(w, http.StatusMethodNotAllowed, "", "method %s is not allowed on %s", r.Method, path)
				return
			}
		}
		adminFail(w, http.StatusNotFound, "", "no admin endpoint %s; GET /sandbox lists them", path)
	}
}

// decodeAdmin reads a JSON object strictly: unknown keys and wrong types are
// 400 errors naming the key. An empty body is an empty object.
func decodeAdmin(w http.ResponseWriter, r *http.Request, dst any) bool {
	body, err := readBody(r)
	if err != nil {
		adminFail(w, http.StatusBadRequest, "", "%s", err.Error())
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			adminFail(w, http.StatusBadRequest, te.Field, "%s must be %s, got JSON %s", te.Field, te.Type.String(), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			adminFail(w, http.StatusBadRequest, name, "unknown key %q", name)
		default:
			adminFail(w, http.StatusBadRequest, "", "the body is not a valid JSON object: %s", err.Error())
		}
		return false
	}
	return true
}

var verifyPage = template.Must(template.New("verify").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>secucard sandbox – device verification</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>Device verification</h1>
{{if .Message}}<p><strong>{{.Message}}</strong></p>{{end}}
<p>Enter the code shown by the till to connect it to the sandbox account.</p>
<form method="post" action="/sandbox/verify">
<input name="user_code" value="{{.UserCode}}" autofocus size="12" autocomplete="off">
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form>
</body></html>
`))

// serveVerify is the human page behind verification_url.
func (s *Server) serveVerify(w http.ResponseWriter, r *http.Request) {
	data := struct{ UserCode, Message string }{UserCode: r.URL.Query().Get("user_code")}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		_ = r.ParseForm()
		data.UserCode = strings.TrimSpace(r.PostForm.Get("user_code"))
		deny := r.PostForm.Get("decision") == "deny"
		f := func(dc *deviceCode) { dc.state = deviceApproved }
		if deny {
			f = func(dc *deviceCode) { dc.state = deviceDenied }
		}
		var err *Error
		status, err = s.setDevice(data.UserCode, f)
		switch {
		case err != nil:
			data.Message = err.Message
		case deny:
			data.Message = "Denied. The till will be told."
			data.UserCode = ""
		default:
			data.Message = "Approved. The till can continue."
			data.UserCode = ""
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = verifyPage.Execute(w, data)
}
