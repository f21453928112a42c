package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// Fault is an injected failure. It is matched before normal handling.
//
// What the real services do when a connection breaks is not known from the
// specs (secucard-wire.md, cardpointe.md say nothing about it), so the faults
// model the cases a client must survive, and no more:
//
//   - delay_ms holds a request the sandbox has received (its body read)
//     before it runs. When the delay is over the request runs whether or
//     not the client is still there, as a server generally finishes what it
//     received: a client that gave up during the delay leaves a request that
//     takes effect later (the record's fault notes "client left"). Only
//     closing the sandbox abandons a held request ("aborted").
//   - drop before_read closes the connection without reading the request:
//     nothing runs.
//   - drop after_read reads the request and closes without running it.
//   - drop after_execute runs the request (its effects stand), then closes
//     without the answer: a lost answer. The record's status stays 0 (no
//     answer left the sandbox); its fault notes the lost answer's status.
type Fault struct {
	Path       string          `json:"path"`           // prefix of the path after /api/v2 ("/smart/idents"), or absolute ("/oauth/token", "/cardconnect/rest/auth"); "" = every path
	Method     string          `json:"method"`         // "" = any
	Status     int             `json:"status"`         // e.g. 503; 0 when only delaying/dropping
	RetryAfter int             `json:"retry_after"`    // seconds, sent as Retry-After with Status
	Count      int             `json:"count"`          // how many matching requests it affects (default 1; negative: all until ClearFaults)
	DelayMS    int             `json:"delay_ms"`       // hold the request this long before it runs (then as normal unless Status/Drop)
	Drop       string          `json:"drop"`           // "" | "before_read" | "after_read" | "after_execute"
	Body       json.RawMessage `json:"body,omitempty"` // optional body for Status (default: the real error envelope)
	// Channel selects what the fault hits: "" or "rest" = HTTP requests
	// (REST, OAuth, CardPointe), "stomp" = STOMP SENDs, "any" = both. A
	// STOMP SEND is matched by the REST path of its request
	// (/smart/transactions/STX_1/start) and by the HTTP method of its verb
	// (get GET, add POST, update PUT, delete DELETE, exec POST). On STOMP,
	// status answers with the error envelope; delay_ms holds the request
	// before it runs, so its reply comes late (past the client's deadline
	// it is a lost answer); drop before_read closes the connection on the
	// SEND at once (no receipt, nothing executed, no delay); after_read
	// sends the receipt, executes nothing and closes; after_execute sends
	// the receipt (at once, as for every SEND), executes, then closes
	// without the reply.
	Channel string `json:"channel,omitempty"`
	// Hold (Go only) holds the request, after any delay, until the channel
	// is closed, as delay_ms does: a test orders a held request against
	// others by what it observes rather than by time.
	Hold <-chan struct{} `json:"-"`
}

// Fault channels.
const (
	ChannelREST  = "rest"
	ChannelSTOMP = "stomp"
	ChannelAny   = "any"
)

// Drop modes.
const (
	DropBeforeRead   = "before_read"   // close the connection without reading the body
	DropAfterRead    = "after_read"    // read the request, execute nothing, close without answering
	DropAfterExecute = "after_execute" // execute the request, then close without answering: a lost answer
)

// Limits of the fault API: far above what a test arms.
const (
	maxFaults       = 1000
	maxFaultDelayMS = 600_000
)

type faultEntry struct {
	Fault
	remaining int // < 0: unlimited
}

// validate names the first bad field.
func (f *Fault) validate() *Error {
	switch {
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return invalid("status", "must be an HTTP status (100-599) or 0, got %d", f.Status)
	case f.RetryAfter < 0:
		return invalid("retry_after", "must not be negative")
	case f.DelayMS < 0:
		return invalid("delay_ms", "must not be negative")
	case f.DelayMS > maxFaultDelayMS:
		return invalid("delay_ms", "must be at most the limit of %d (10 minutes), got %d", maxFaultDelayMS, f.DelayMS)
	case f.Drop != "" && f.Drop != DropBeforeRead && f.Drop != DropAfterRead && f.Drop != DropAfterExecute:
		return invalid("drop", `must be "", %q, %q or %q, got %q`, DropBeforeRead, DropAfterRead, DropAfterExecute, f.Drop)
	case f.Drop != "" && f.Status != 0:
		return invalid("drop", "cannot be combined with status: a dropped connection has no answer")
	case f.Status == 0 && f.Drop == "" && f.DelayMS == 0 && f.Hold == nil:
		return invalid("status", "a fault needs a status, a drop or a delay_ms")
	case len(f.Body) > 0 && !json.Valid(f.Body):
		return invalid("body", "is not valid JSON")
	case f.Path != "" && !strings.HasPrefix(f.Path, "/"):
		return invalid("path", `must start with "/", got %q`, f.Path)
	case f.Channel != "" && f.Channel != ChannelREST && f.Channel != ChannelSTOMP && f.Channel != ChannelAny:
		return invalid("channel", `must be "", %q, %q or %q, got %q`, ChannelREST, ChannelSTOMP, ChannelAny, f.Channel)
	case f.Channel == ChannelSTOMP && f.RetryAfter != 0:
		return invalid("retry_after", "is an HTTP header; STOMP answers have none")
	}
	return nil
}

// AddFault arms a fault. Faults are tried in the order they were added; the
// first that matches a request handles it. An invalid fault is ignored and
// logged; the admin API reports the bad field instead.
func (s *Server) AddFault(f Fault) {
	if err := s.addFault(f); err != nil {
		s.log.Errorf("fault ignored: %s", err.Message)
	}
}

func (s *Server) addFault(f Fault) *Error {
	if err := f.validate(); err != nil {
		return err
	}
	n := f.Count
	if n == 0 {
		n = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) >= maxFaults {
		return invalid("", "%d faults are armed, the limit; DELETE /sandbox/faults clears them", maxFaults)
	}
	s.faults = append(s.faults, &faultEntry{Fault: f, remaining: n})
	return nil
}

// ClearFaults removes every armed fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// hits reports whether f applies to requests on channel.
func (f *Fault) hits(channel string) bool {
	switch f.Channel {
	case ChannelAny:
		return true
	case "":
		return channel == ChannelREST
	}
	return f.Channel == channel
}

// takeFault finds the first fault for channel (ChannelREST or ChannelSTOMP)
// matching method and path, and uses one of its count.
func (s *Server) takeFault(channel, method, path string) *Fault {
	path = strings.ToLower(path)
	rel := ""
	if strings.HasPrefix(path, "/api/v2/") {
		rel = path[len("/api/v2"):]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.hits(channel) {
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if !pathPrefix(path, f.Path) && (rel == "" || !pathPrefix(rel, f.Path)) {
			continue
		}
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		fc := f.Fault
		return &fc
	}
	return nil
}

// pathPrefix matches whole segments: "/smart/idents" matches
// "/smart/idents" and "/smart/idents/smi_1", not "/smart/identsx".
func pathPrefix(path, prefix string) bool {
	prefix = strings.TrimRight(strings.ToLower(prefix), "/")
	if prefix == "" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// faultOutcome is what an armed fault decided once its delay is over.
type faultOutcome int

const (
	faultPass      faultOutcome = iota // execute normally (a pure delay)
	faultAborted                       // the sandbox closed during the delay
	faultDrop                          // close the connection without an answer, executing nothing
	faultAnswer                        // answer with the fault's status and body
	faultLoseReply                     // execute, then close the connection without the answer
)

// runFault waits out f's delay and records in rec what f does; the caller
// carries that out on its transport (HTTP or STOMP). client ends when the
// client leaves: the delay goes on (see Fault) and the record notes it. path
// picks the default body of a status answer.
func (s *Server) runFault(client context.Context, rec *RequestRecord, f *Fault, path string) (faultOutcome, []byte) {
	var mu sync.Mutex // the note of a client leaving comes from another goroutine
	var what []string
	note := func(more ...string) {
		mu.Lock()
		defer mu.Unlock()
		what = append(what, more...)
		s.setFault(rec, strings.Join(what, "; "))
	}
	if f.DelayMS > 0 || f.Hold != nil {
		if f.DelayMS > 0 {
			note(fmt.Sprintf("delay %dms", f.DelayMS))
		}
		if f.Hold != nil {
			note("held")
		}
		left := context.AfterFunc(client, func() { note("client left") })
		// A held request does not keep Close waiting for running requests:
		// closing the sandbox abandons it at once.
		s.active.Add(-1)
		held := s.sleep(context.Background(), time.Duration(f.DelayMS)*time.Millisecond) && s.await(f.Hold)
		s.active.Add(1)
		left()
		if !held {
			note("aborted: the sandbox closed")
			return faultAborted, nil
		}
	}
	switch {
	case f.Drop == DropAfterExecute:
		note("drop " + f.Drop)
		return faultLoseReply, nil
	case f.Drop != "":
		note("drop " + f.Drop)
		return faultDrop, nil
	case f.Status != 0:
		note(fmt.Sprintf("status %d", f.Status))
		body := []byte(f.Body)
		if len(body) == 0 {
			body = s.faultBody(path, f.Status)
		}
		return faultAnswer, body
	}
	return faultPass, nil
}

// await waits until hold is closed (nil: at once); false when the sandbox
// closes first.
func (s *Server) await(hold <-chan struct{}) bool {
	if hold == nil {
		return true
	}
	select {
	case <-hold:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// noteLostAnswer adds the status of the answer an after_execute fault kept
// from the client to the record's fault.
func (s *Server) noteLostAnswer(rec *RequestRecord, status int) {
	s.reqMu.Lock()
	rec.Fault += fmt.Sprintf(" (answer %d lost)", status)
	s.reqMu.Unlock()
}

// applyFault runs the fault matching r, if any. It reports whether the
// request is finished (answered or dropped), or, with execute, that serve
// must run it and then drop the connection (after_execute); neither: go on
// normally (a pure delay, or no fault). It reads the body before a delay:
// the sandbox then holds a request it has received, and net/http watches
// the connection, so a client that leaves is seen (r.Context ends).
func (s *Server) applyFault(w *recordingWriter, r *http.Request, rec *RequestRecord) (finished, execute bool) {
	f := s.takeFault(ChannelREST, r.Method, r.URL.Path)
	if f == nil {
		return false, false
	}
	if f.Drop != DropBeforeRead {
		received, _ := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		// The handler reads it again, with its own limits; a body cut short
		// by a client that left reads as cut short there too.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(received), r.Body), r.Body}
	}
	outcome, body := s.runFault(r.Context(), rec, f, r.URL.Path)
	switch outcome {
	case faultAborted:
		return true, false
	case faultDrop:
		dropConnection(w.ResponseWriter)
		return true, false
	case faultLoseReply:
		return false, true
	case faultAnswer:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		writeJSON(w, f.Status, body)
		return true, false
	}
	return false, false
}

// lostAnswer is the ResponseWriter of a request whose answer an
// after_execute fault loses: the handler runs and answers into it; nothing
// reaches the client.
type lostAnswer struct {
	header http.Header
	status int
}

func (l *lostAnswer) Header() http.Header { return l.header }

func (l *lostAnswer) WriteHeader(status int) {
	if l.status == 0 {
		l.status = status
	}
}

func (l *lostAnswer) Write(b []byte) (int, error) {
	l.WriteHeader(http.StatusOK)
	return len(b), nil
}

// faultBody is the body a real server would plausibly send with status:
// an OAuth error on the token endpoint, the API envelope elsewhere.
func (s *Server) faultBody(path string, status int) []byte {
	if cardpointe.Owns(path) {
		return s.cardpointe.ErrorBody(status, path) // the Gateway's own error shape
	}
	msg := fmt.Sprintf("injected fault: HTTP %d", status)
	if strings.HasPrefix(strings.ToLower(path), "/oauth/") {
		code := "invalid_request"
		switch {
		case status == http.StatusTooManyRequests || status >= 500:
			code = "temporarily_unavailable"
		case status == http.StatusUnauthorized:
			code = "invalid_client"
		}
		return mustJSON(oauthBody{Error: code, Description: msg})
	}
	exc := excInternal
	switch {
	case status == http.StatusUnauthorized:
		exc = excSecurity
	case status == http.StatusForbidden:
		exc = excNotAllowed
	case status == http.StatusNotFound:
		exc = excNotFound
	case status == http.StatusTooManyRequests:
		exc = excRateLimit
	case status < 500:
		exc = excFormat
	}
	return s.envelope(status, exc, codeFault, msg, "The service is temporarily unavailable.").Body
}

// dropConnection closes the TCP connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// No hijacking (HTTP/2): aborting the handler resets the stream.
	panic(http.ErrAbortHandler)
}

// RequestRecord is one request the sandbox saw (admin calls excluded).
type RequestRecord struct {
	Method    string    `json:"method"`
	Path      string    `json:"path"` // as sent, without the query string
	GrantType string    `json:"grant_type,omitempty"`
	XAction   string    `json:"x_action,omitempty"`
	Status    int       `json:"status"` // 0 while running, or when the connection was dropped
	Time      time.Time `json:"time"`
	Fault     string    `json:"fault,omitempty"` // e.g. "status 503", "delay 200ms; client left", "drop after_read", "drop after_execute (answer 200 lost)"
}

// maxRecords bounds the log of a long-running sandbox.
const maxRecords = 10000

func (s *Server) beginRecord(r *http.Request) *RequestRecord {
	return s.record(r.Method, r.URL.Path, r.Header.Get("X-Action"))
}

// record starts the record of one request (HTTP, or STOMP with method
// "STOMP" and the destination as path), keeping the last maxRecords.
func (s *Server) record(method, path, xAction string) *RequestRecord {
	rec := &RequestRecord{Method: method, Path: path, XAction: xAction, Time: s.now()}
	s.reqMu.Lock()
	s.requests = append(s.requests, rec)
	if len(s.requests) > maxRecords {
		s.requests = append([]*RequestRecord(nil), s.requests[len(s.requests)-maxRecords:]...)
	}
	s.reqMu.Unlock()
	return rec
}

func (s *Server) setGrant(rec *RequestRecord, grant string) {
	s.reqMu.Lock()
	rec.GrantType = grant
	s.reqMu.Unlock()
}

func (s *Server) setFault(rec *RequestRecord, what string) {
	s.reqMu.Lock()
	rec.Fault = what
	s.reqMu.Unlock()
}

func (s *Server) logRequest(rec *RequestRecord) {
	if !s.log.enabled() {
		return
	}
	s.reqMu.Lock()
	r := *rec
	s.reqMu.Unlock()
	path := r.Path
	if cardpointe.Owns(path) {
		path = cardpointe.MaskPath(path) // the CardPointe sandbox never logs a full card number
	}
	line := fmt.Sprintf("%s %s -> %d", r.Method, path, r.Status)
	if r.GrantType != "" {
		line += " grant_type=" + r.GrantType
	}
	if r.XAction != "" {
		line += " x-action=" + r.XAction
	}
	if r.Fault != "" {
		line += " fault=" + r.Fault
	}
	s.log.Infof("%s", line)
}

// Requests returns what the sandbox saw, oldest first.
func (s *Server) Requests() []RequestRecord {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	out := make([]RequestRecord, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
	}
	return out
}

// ResetRequests forgets every recorded request.
func (s *Server) ResetRequests() {
	s.reqMu.Lock()
	s.requests = nil
	s.reqMu.Unlock()
}

// recordingWriter stores the final status in the record before the answer
// is written, so a client that has its answer also sees it in Requests().
type recordingWriter struct {
	http.ResponseWriter
	s       *Server
	rec     *RequestRecord
	written bool
}

func (w *recordingWriter) WriteHeader(status int) {
	if !w.written {
		w.written = true
		w.s.reqMu.Lock()
		w.rec.Status = status
		w.s.reqMu.Unlock()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
