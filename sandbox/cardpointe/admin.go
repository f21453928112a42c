package cardpointe

import (
	"net/http"
	"strings"
)

// AdminHandler serves the sandbox's own CardPointe admin call:
//
//	POST /sandbox/cardpointe/settle {}  -> 200 {"settled": n, "batches": ["..."]}
//
// It settles every capture queued so far (see Settle). The body may be
// empty or a JSON object; nothing in it is read.
func (s *Server) AdminHandler() http.Handler { return http.HandlerFunc(s.serveAdmin) }

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") != AdminPrefix+"/settle" {
		adminFail(w, http.StatusNotFound, "not_found", "no such admin call: the CardPointe sandbox has POST "+AdminPrefix+"/settle")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		adminFail(w, http.StatusMethodNotAllowed, "method_not_allowed", "settle takes POST")
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		adminFail(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
		return
	}
	if _, err := decodeFields(body); err != nil && err != errEmptyBody {
		adminFail(w, http.StatusBadRequest, "invalid_request", "the body must be a JSON object, e.g. {}")
		return
	}
	writeJSON(w, http.StatusOK, s.Settle())
}

// adminFail answers like the sandbox's other admin calls: {error, message}.
func adminFail(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, obj{"error": code, "message": message})
}
