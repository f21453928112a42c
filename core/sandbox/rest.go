package sandbox

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/libsecucard/libsecucard/core/product"
)

// serveREST translates /api/v2/<product>/<resource>[/<id>[/<action>[/<arg>...]]]
// onto Dispatch (spec §3.1). Product, resource and action match
// case-insensitively (spec §9.1); ids are exact.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request, rec *RequestRecord) {
	lang := r.Header.Get("Accept-Language")
	var segs []string
	for _, p := range strings.Split(strings.Trim(r.URL.Path[len("/api/v2"):], "/"), "/") {
		if p != "" {
			segs = append(segs, p)
		}
	}
	if len(segs) < 2 {
		s.writeAPIError(w, rec, errNotFound("no product.resource in the path %s", r.URL.Path), lang)
		return
	}
	req := DispatchRequest{
		Product:  segs[0],
		Resource: segs[1],
		Token:    bearerToken(r.Header.Get("Authorization")),
		XAction:  r.Header.Get("X-Action"),
		Language: lang,
		Query:    restQuery(r.URL.RawQuery),
	}
	rest := segs[2:]
	// POST <resource>/<action> without an id (smart/transactions/Diagnosis).
	if res, ok := product.Lookup(segs[0] + "." + segs[1]); ok && len(rest) == 1 && r.Method == http.MethodPost {
		if a, ok := res.Action(rest[0]); ok && a.NoID {
			req.Action, rest = rest[0], nil
		}
	}
	if len(rest) > 0 {
		req.ID, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		req.Action, req.Args = rest[0], rest[1:]
	}
	switch r.Method {
	case http.MethodGet:
		req.Op = "get"
	case http.MethodPost:
		req.Op = "add"
		if req.Action != "" {
			req.Op = "exec"
		} else if req.ID != "" {
			s.writeAPIError(w, rec, errNotAllowed("POST on an object needs an action; use PUT to update %s", quote(req.ID)), lang)
			return
		}
	case http.MethodPut, http.MethodPatch: // PATCH: JS SDK only (spec §3.2)
		req.Op = "update"
	case http.MethodDelete:
		req.Op = "delete"
	default:
		s.writeAPIError(w, rec, errMethod(r.Method), lang)
		return
	}
	if r.Method != http.MethodGet {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.writeAPIError(w, rec, &apiError{http.StatusRequestEntityTooLarge, "ProductFormatException",
					"the request body is larger than 16 MiB", "The request is too large.", "Die Anfrage ist zu groß."}, lang)
			}
			return // the client went away mid-body: nobody to answer
		}
		req.Body = body
	}
	resp := s.Dispatch(r.Context(), req)
	s.write(w, rec, resp.Status, resp.Body)
}

// bearerToken extracts the token of "Bearer <token>" (scheme in any case).
func bearerToken(h string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// restQuery parses the query string, raw or percent-encoded brackets alike
// (.NET sends sort[created] unencoded, Java sort%5Bcreated%5D; spec §3.3),
// and folds the sort[field] keys into one "sort" value that keeps their
// order, which url.Values alone would lose. Malformed pairs are skipped.
func restQuery(raw string) url.Values {
	v, _ := url.ParseQuery(raw)
	var order []string
	for _, pair := range strings.Split(raw, "&") {
		k, val, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil || !strings.HasPrefix(key, "sort[") || !strings.HasSuffix(key, "]") {
			continue
		}
		order = append(order, key[len("sort["):len(key)-1]+":"+value)
		v.Del(key)
	}
	if len(order) > 0 {
		v["sort"] = append(v["sort"], strings.Join(order, ","))
	}
	return v
}
