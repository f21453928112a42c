package cardpointe

import "net/http"

// AdminHandler serves the sandbox's own CardPointe admin call:
//
//	POST /sandbox/cardpointe/settle {}  -> 200 {"settled": n, "batches": ["..."]}
//
// It settles every capture queued so far (see Settle). The body may be
// empty or a JSON object; nothing in it is read.
func (s *Server) AdminHandler() http.Handler { return http.HandlerFunc(s.serveAdmin) }

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != AdminPrefix+"/settle" {
		writeJSON(w, http.StatusNotFound, obj{"error": "no such admin call: the CardPointe sandbox has POST " + AdminPrefix + "/settle"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, obj{"error": "settle takes POST"})
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, obj{"error": "the body is too large"})
		return
	}
	if len(body) > 0 {
		if _, err := decodeFields(body); err != nil && err != errEmptyBody {
			writeJSON(w, http.StatusBadRequest, obj{"error": "the body must be a JSON object, e.g. {}"})
			return
		}
	}
	writeJSON(w, http.StatusOK, s.Settle())
}
