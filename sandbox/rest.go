package sandbox

import (
	"net/http"
	"net/url"
	"strings"
)

// serveREST translates an HTTP request under /api/v2 into a Dispatch call:
// /api/v2/<product>/<resource>[/<id>[/<action>[/<arg>...]]] (spec §3.1).
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	var segs []string
	for _, p := range strings.Split(r.URL.Path[len("/api/v2"):], "/") {
		if p != "" { // .NET's trailing-slash base gives "//"
			segs = append(segs, p)
		}
	}
	if len(segs) < 2 {
		writeDispatch(w, s.notFound(codeNoRoute, "the path needs /api/v2/<product>/<resource>"))
		return
	}
	req := DispatchRequest{
		Product:  segs[0],
		Resource: segs[1],
		Token:    bearer(r.Header.Get("Authorization")),
		XAction:  r.Header.Get("X-Action"),
		Query:    restQuery(r.URL.RawQuery),
	}
	if len(segs) > 2 {
		req.ID = segs[2]
	}
	if len(segs) > 3 {
		req.Action = segs[3]
	}
	if len(segs) > 4 {
		req.Args = segs[4:]
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		req.Op = "get"
	case http.MethodPost:
		req.Op = "add"
		if req.Action != "" {
			req.Op = "exec"
		}
	case http.MethodPut, http.MethodPatch: // PATCH: JS only (spec §3.2)
		req.Op = "update"
	case http.MethodDelete:
		req.Op = "delete"
	default:
		writeDispatch(w, s.envelope(http.StatusMethodNotAllowed, excNotAllowed, codeBadMethod,
			"method "+r.Method+" is not supported (GET, POST, PUT, PATCH, DELETE)", "This action is not allowed."))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeDispatch(w, s.badRequest(codeBadBody, err.Error()))
		return
	}
	req.Body = body
	writeDispatch(w, s.Dispatch(r.Context(), req))
}

func writeDispatch(w http.ResponseWriter, resp DispatchResponse) {
	writeJSON(w, resp.Status, resp.Body)
}

// bearer extracts the token of "Bearer <token>" (scheme case-insensitive).
func bearer(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// restQuery parses the query string tolerantly: brackets raw or
// percent-encoded (.NET does not encode, spec §3.3), undecodable pairs
// skipped. sort[x] keys are additionally joined, in their order, into one
// sort=x:dir,y:dir value, because url.Values loses the order that gives
// sort priority.
func restQuery(raw string) url.Values {
	out := url.Values{}
	var sorts []string
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			key, val = k, v
		}
		if f, ok := sortKey(key); ok {
			sorts = append(sorts, f+":"+val)
			continue
		}
		out.Add(key, val)
	}
	if len(sorts) > 0 {
		if prev := out.Get("sort"); prev != "" {
			sorts = append([]string{prev}, sorts...)
		}
		out.Set("sort", strings.Join(sorts, ","))
	}
	return out
}

// sortKey returns x for "sort[x]".
func sortKey(k string) (string, bool) {
	if strings.HasPrefix(k, "sort[") && strings.HasSuffix(k, "]") && len(k) > len("sort[]") {
		return k[len("sort[") : len(k)-1], true
	}
	return "", false
}
