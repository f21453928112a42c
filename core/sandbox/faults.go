package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault injects a failure into matching OAuth or API requests, before normal
// handling. Admin calls are never faulted.
type Fault struct {
	Path       string `json:"path"`        // prefix of the path after /api/v2 ("/smart/idents"), or absolute ("/oauth/token"); "" = every path
	Method     string `json:"method"`      // "" = any
	Status     int    `json:"status"`      // e.g. 503; 0 when only delaying/dropping
	RetryAfter int    `json:"retry_after"` // seconds, sent as Retry-After with Status
	Count      int    `json:"count"`       // how many matching requests it affects (0 = 1, negative = until cleared)
	DelayMS    int    `json:"delay_ms"`    // delay before answering (then answer normally unless Status/Drop)
	// Drop closes the connection without an answer: "before_read" without
	// reading the body; "after_read" after reading it, executing nothing;
	// "after_execute" after executing the request normally (the answer is
	// lost: what a client sees when the network fails after the server acted).
	Drop string          `json:"drop"`
	Body json.RawMessage `json:"body,omitempty"` // optional body for Status (default: the real error envelope)
}

// Drop kinds.
const (
	DropBeforeRead   = "before_read"
	DropAfterRead    = "after_read"
	DropAfterExecute = "after_execute"
)

// check names the first invalid field.
func (f *Fault) check() (field, problem string) {
	switch f.Drop {
	case "", DropBeforeRead, DropAfterRead, DropAfterExecute:
	default:
		return "drop", `must be "", "before_read", "after_read" or "after_execute", got ` + quote(f.Drop)
	}
	switch {
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return "status", "must be an HTTP status 100..599 or 0, got " + strconv.Itoa(f.Status)
	case f.Status != 0 && f.Drop != "":
		return "drop", "cannot be combined with status"
	case f.DelayMS < 0:
		return "delay_ms", "must not be negative"
	case f.RetryAfter < 0:
		return "retry_after", "must not be negative"
	case f.Status == 0 && f.Drop == "" && f.DelayMS == 0:
		return "status", "one of status, drop or delay_ms is required"
	case len(f.Body) > 0 && !json.Valid(f.Body):
		return "body", "is not valid JSON"
	}
	return "", ""
}

// String describes the fault for RequestRecord.Fault and logs.
func (f *Fault) String() string {
	var parts []string
	if f.DelayMS > 0 {
		parts = append(parts, fmt.Sprintf("delay %dms", f.DelayMS))
	}
	if f.Status != 0 {
		s := "status " + strconv.Itoa(f.Status)
		if f.RetryAfter > 0 {
			s += fmt.Sprintf(" retry_after %ds", f.RetryAfter)
		}
		parts = append(parts, s)
	}
	if f.Drop != "" {
		parts = append(parts, "drop "+f.Drop)
	}
	return strings.Join(parts, ", ")
}

// AddFault arms a fault. Faults are tried in the order they were added; the
// first that matches a request affects it. A fault with an invalid field is
// logged and ignored (the admin API reports it as an error instead).
func (s *Server) AddFault(f Fault) {
	if field, problem := f.check(); field != "" {
		s.log.Warnf("fault ignored: %s %s", field, problem)
		return
	}
	if f.Count == 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every armed fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault finds the first armed fault matching the request and uses up one
// of its count.
func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.matches(method, path) {
			continue
		}
		taken := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &taken
	}
	return nil
}

func (f *Fault) matches(method, path string) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	if f.Path == "" {
		return true
	}
	prefix := strings.ToLower(strings.TrimRight(f.Path, "/"))
	if !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	p := strings.ToLower(path)
	return segmentPrefix(p, prefix) || segmentPrefix(p, "/api/v2"+prefix)
}

// segmentPrefix matches whole path segments: "/smart/idents" matches
// "/smart/idents/smi_1" but not "/smart/identsX".
func segmentPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/") || prefix == ""
}

// applyFault acts out a fault. It reports whether the request is finished;
// false means "continue with normal handling" (a pure delay), and for
// after_execute the caller runs the request through a writer that swallows
// the answer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault, rec *RequestRecord) bool {
	rec.Fault = f.String()
	if f.DelayMS > 0 {
		t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-s.life.Done():
			return true
		}
	}
	switch f.Drop {
	case DropBeforeRead:
		dropConnection(w)
		return true
	case DropAfterRead:
		_, _ = io.Copy(io.Discard, r.Body)
		dropConnection(w)
		return true
	case DropAfterExecute:
		s.serveAndDrop(w, r, rec)
		return true
	}
	if f.Status == 0 {
		return false
	}
	// Status faults read the request (so a client finished sending) but
	// execute nothing.
	_, _ = io.Copy(io.Discard, r.Body)
	body := []byte(f.Body)
	if len(body) == 0 {
		if strings.HasPrefix(strings.ToLower(r.URL.Path), "/oauth/") {
			body = oauthFaultBody(f.Status)
		} else {
			body = errForStatus(f.Status).envelope(r.Header.Get("Accept-Language"), s.supportID())
		}
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	s.write(w, rec, f.Status, body)
	return true
}

// oauthFaultBody is the OAuth error a token endpoint sends with status
// (RFC 6749 codes).
func oauthFaultBody(status int) []byte {
	code := "invalid_request"
	switch {
	case status == http.StatusUnauthorized:
		code = "invalid_client"
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		code = "temporarily_unavailable"
	case status >= 500:
		code = "server_error"
	}
	return oauthErr(status, code, "%s (injected fault)", http.StatusText(status)).body()
}

// serveAndDrop executes the request normally, then closes the connection
// instead of answering.
func (s *Server) serveAndDrop(w http.ResponseWriter, r *http.Request, rec *RequestRecord) {
	sink := &discardWriter{header: http.Header{}}
	lower := strings.ToLower(r.URL.Path)
	if lower == "/oauth/token" || lower == "/oauth/token/" {
		s.serveToken(sink, r, rec)
	} else {
		s.serveREST(sink, r, rec)
	}
	rec.Status = 0
	dropConnection(w)
}

type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// dropConnection closes the TCP connection without an HTTP answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (HTTP/2, a recorder): net/http aborts the answer and
	// closes the stream on this sentinel panic.
	panic(http.ErrAbortHandler)
}
