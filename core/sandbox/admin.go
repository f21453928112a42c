package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"
)

// serveAdmin answers the admin API under /sandbox (JSON in and out, no auth;
// meant for loopback use by tests, demos and the bindings' test suites).
// Errors are {"error": "...", "message": "..."} naming the bad field.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(r.URL.Path, "/sandbox")), "/")
	type route struct {
		method string
		fn     func(w http.ResponseWriter, r *http.Request) *adminError
	}
	routes := map[string][]route{
		"/devices":               {{http.MethodGet, s.adminDevices}},
		"/devices/approve":       {{http.MethodPost, s.adminDevice(deviceApproved)}},
		"/devices/deny":          {{http.MethodPost, s.adminDevice(deviceDenied)}},
		"/devices/expire":        {{http.MethodPost, s.adminDevice(-1)}},
		"/tokens/expire":         {{http.MethodPost, s.adminDo(s.ExpireTokens)}},
		"/tokens/revoke_refresh": {{http.MethodPost, s.adminDo(s.RevokeRefreshTokens)}},
		"/faults":                {{http.MethodPost, s.adminAddFault}, {http.MethodGet, s.adminFaults}, {http.MethodDelete, s.adminDo(s.ClearFaults)}},
		"/requests":              {{http.MethodGet, s.adminRequests}, {http.MethodDelete, s.adminDo(s.ResetRequests)}},
		"/events":                {{http.MethodPost, s.adminPush}},
		"/verify":                {{http.MethodGet, s.verifyPage}, {http.MethodPost, s.verifyPage}},
	}
	candidates, ok := routes[path]
	if !ok {
		writeAdmin(w, http.StatusNotFound, (&adminError{http.StatusNotFound, "not_found", "no admin endpoint " + r.URL.Path, ""}).body())
		return
	}
	for _, rt := range candidates {
		if rt.method == r.Method {
			if aerr := rt.fn(w, r); aerr != nil {
				writeAdmin(w, aerr.status, aerr.body())
			}
			return
		}
	}
	methods := make([]string, len(candidates))
	for i, rt := range candidates {
		methods[i] = rt.method
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeAdmin(w, http.StatusMethodNotAllowed, (&adminError{http.StatusMethodNotAllowed, "method_not_allowed",
		r.URL.Path + " accepts " + strings.Join(methods, ", "), ""}).body())
}

// adminJSON encodes admin answers plainly (no PHP escaping): the admin API is
// the sandbox's own, not an imitation of the real server.
func adminJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"error":"internal","message":"encoding failed"}`)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func writeAdmin(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var resultTrue = []byte(`{"result":true}`)

// decodeAdmin decodes a JSON body strictly, naming an unknown or ill-typed key.
// An empty body decodes to the zero value.
func decodeAdmin(r *http.Request, v any) *adminError {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return &adminError{http.StatusBadRequest, "invalid_request", "the body cannot be read: " + err.Error(), ""}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return &adminError{http.StatusBadRequest, "invalid_request", te.Field + " must be a JSON " + te.Type.String() + ", got " + te.Value, te.Field}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &adminError{http.StatusBadRequest, "invalid_request", field + " is not a known field", field}
		}
		return &adminError{http.StatusBadRequest, "invalid_request", "the body is not valid JSON: " + err.Error(), ""}
	}
	return nil
}

func (s *Server) adminDo(fn func()) func(http.ResponseWriter, *http.Request) *adminError {
	return func(w http.ResponseWriter, r *http.Request) *adminError {
		fn()
		writeAdmin(w, http.StatusOK, resultTrue)
		return nil
	}
}

func (s *Server) adminDevice(to deviceState) func(http.ResponseWriter, *http.Request) *adminError {
	return func(w http.ResponseWriter, r *http.Request) *adminError {
		var body struct {
			UserCode string `json:"user_code"`
		}
		if aerr := decodeAdmin(r, &body); aerr != nil {
			return aerr
		}
		if aerr := s.setDeviceState(body.UserCode, to); aerr != nil {
			return aerr
		}
		writeAdmin(w, http.StatusOK, resultTrue)
		return nil
	}
}

// adminDevices lists issued device codes without their secret device_code.
func (s *Server) adminDevices(w http.ResponseWriter, _ *http.Request) *adminError {
	now := time.Now()
	s.mu.Lock()
	out := make([]map[string]any, 0, len(s.devices))
	for _, d := range s.devices {
		state := d.state.String()
		if d.state != deviceConsumed && !now.Before(d.expires) {
			state = "expired"
		}
		out = append(out, map[string]any{"user_code": d.userCode, "state": state, "uuid": d.uuid,
			"issued": timestamp(d.issued), "expires": timestamp(d.expires)})
	}
	s.mu.Unlock()
	writeAdmin(w, http.StatusOK, adminJSON(out))
	return nil
}

func (s *Server) adminAddFault(w http.ResponseWriter, r *http.Request) *adminError {
	var f Fault
	if aerr := decodeAdmin(r, &f); aerr != nil {
		return aerr
	}
	if field, problem := f.check(); field != "" {
		return &adminError{http.StatusBadRequest, "invalid_request", field + " " + problem, field}
	}
	s.AddFault(f)
	if f.Count == 0 {
		f.Count = 1
	}
	writeAdmin(w, http.StatusOK, adminJSON(f))
	return nil
}

func (s *Server) adminFaults(w http.ResponseWriter, _ *http.Request) *adminError {
	s.mu.Lock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = *f
	}
	s.mu.Unlock()
	writeAdmin(w, http.StatusOK, adminJSON(out))
	return nil
}

func (s *Server) adminRequests(w http.ResponseWriter, _ *http.Request) *adminError {
	recs := s.Requests()
	if recs == nil {
		recs = []RequestRecord{}
	}
	writeAdmin(w, http.StatusOK, adminJSON(recs))
	return nil
}

// adminPush pushes an arbitrary event to every subscriber.
func (s *Server) adminPush(w http.ResponseWriter, r *http.Request) *adminError {
	var ev Event
	if aerr := decodeAdmin(r, &ev); aerr != nil {
		return aerr
	}
	for _, f := range []struct{ name, v string }{{"target", ev.Target}, {"type", ev.Type}} {
		if f.v == "" {
			return &adminError{http.StatusBadRequest, "invalid_request", f.name + " is required", f.name}
		}
	}
	ev = s.completeEvent(ev)
	s.Push(ev)
	writeAdmin(w, http.StatusOK, adminJSON(ev))
	return nil
}

var verifyTemplate = template.Must(template.New("verify").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>secucard sandbox: device verification</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Device verification</h1>
<p>Enter the code your point of sale shows. This is the secucard <b>sandbox</b>: no real account is linked.</p>
{{if .Message}}<p style="padding: .5em; background: {{if .OK}}#dfd{{else}}#fdd{{end}}">{{.Message}}</p>{{end}}
<form method="post">
<label>User code <input name="user_code" value="{{.UserCode}}" autofocus autocomplete="off"></label>
<button name="action" value="approve">Approve</button>
<button name="action" value="deny">Deny</button>
</form>
</body></html>
`))

// verifyPage is the human page behind verification_url.
func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) *adminError {
	data := struct {
		UserCode, Message string
		OK                bool
	}{UserCode: r.URL.Query().Get("user_code")}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		if err := r.ParseForm(); err != nil {
			return &adminError{http.StatusBadRequest, "invalid_request", "the form cannot be read", ""}
		}
		data.UserCode = r.PostForm.Get("user_code")
		to, verb := deviceApproved, "approved"
		if r.PostForm.Get("action") == "deny" {
			to, verb = deviceDenied, "denied"
		}
		if aerr := s.setDeviceState(data.UserCode, to); aerr != nil {
			data.Message, status = aerr.message, aerr.status
		} else {
			data.Message, data.OK = "Code "+strings.ToLower(strings.TrimSpace(data.UserCode))+" "+verb+". You can close this page.", true
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = verifyTemplate.Execute(w, data)
	return nil
}
