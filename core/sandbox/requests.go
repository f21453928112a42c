package sandbox

import (
	"time"

	"github.com/libsecucard/libsecucard/core/redact"
)

// RequestRecord is what the sandbox saw of one OAuth or API request.
type RequestRecord struct {
	Method    string    `json:"method"`
	Path      string    `json:"path"`                 // without the query string
	GrantType string    `json:"grant_type,omitempty"` // /oauth/token only
	XAction   string    `json:"x_action,omitempty"`
	Status    int       `json:"status"` // 0 when the connection was dropped
	Time      time.Time `json:"time"`
	Fault     string    `json:"fault,omitempty"` // the injected fault, e.g. "status 503"
}

// record stores a request with its text redacted (card numbers can be path
// segments, e.g. loyalty/cards/<cardnumber>/assignUser).
func (s *Server) record(r RequestRecord) {
	r.Path = redact.String(r.Path)
	r.XAction = redact.String(r.XAction)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxRequestRecords {
		s.requests = append(s.requests[:0:0], s.requests[len(s.requests)-maxRequestRecords+1:]...)
	}
	s.requests = append(s.requests, r)
}

// Requests returns what the sandbox saw, oldest first. Admin calls are not
// recorded; only the newest 10000 requests are kept.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestRecord(nil), s.requests...)
}

// ResetRequests forgets every recorded request.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}
