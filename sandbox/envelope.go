package sandbox

import "net/http"

// Exception names in the "error" key of the envelope (spec §3.7). The first
// four appear in the SDKs; the rest are invented for cases whose real name
// is unknown and are listed as such in the README.
const (
	excNotFound   = "ProductNotFoundException"
	excNotAllowed = "ProductNotAllowedException"
	excSecurity   = "ProductSecurityException"
	excInternal   = "ProductInternalException"
	excFormat     = "ProductFormatException"          // invented: malformed input
	excRateLimit  = "ProductTooManyRequestsException" // invented: 429 faults
)

// Error codes. The real server's code catalogue is unknown (spec §11); these
// numbers are invented, stable within the sandbox, and grouped by cause.
const (
	codeNoToken       = "1001" // no bearer token
	codeBadToken      = "1002" // unknown or expired token
	codeNoRoute       = "2001" // unknown path or resource
	codeNoObject      = "2002" // unknown id
	codeNoAction      = "2003" // unknown action
	codeBadBody       = "3001" // body or field invalid
	codeBadQuery      = "3002" // list parameter or q syntax invalid
	codeBadState      = "3003" // not allowed in the object's current state
	codeBadMethod     = "3004" // HTTP method / operation not supported here
	codeFault         = "5001" // injected fault
	codeUnavailable   = "5002" // sandbox shutting down or caller gone
	codeNoScroll      = "3005" // unknown or expired scroll_id
	codeBadCredential = "1003" // card check data missing
)

// envelopeBody is the error body of REST and STOMP alike, keys in the
// recorded order.
type envelopeBody struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	Details   string `json:"error_details"`
	User      string `json:"error_user"`
	Code      string `json:"code"`
	SupportID string `json:"supportId"`
}

// envelope builds an error answer. details is for developers, user for the
// person at the till. Neither is redacted: details may echo what the client
// sent (a path segment such as loyalty/cards/<card number>), as a server
// may, and keeping that out of logs is the client's job.
func (s *Server) envelope(status int, exc, code, details, user string) DispatchResponse {
	return DispatchResponse{Status: status, Body: mustJSON(envelopeBody{
		Status: "error", Error: exc, Details: details, User: user, Code: code,
		SupportID: randomHex(16),
	})}
}

func (s *Server) badRequest(code, details string) DispatchResponse {
	return s.envelope(http.StatusBadRequest, excFormat, code, details, "The request could not be processed.")
}

func (s *Server) notFound(code, details string) DispatchResponse {
	return s.envelope(http.StatusNotFound, excNotFound, code, details, "The requested data could not be found.")
}

func (s *Server) notAllowed(code, details string) DispatchResponse {
	return s.envelope(http.StatusBadRequest, excNotAllowed, code, details, "This action is not allowed.")
}

// oauthBody is the OAuth error body (spec §2.4).
type oauthBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}
