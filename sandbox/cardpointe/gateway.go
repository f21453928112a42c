package cardpointe

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
)

// GatewayHandler serves the Gateway under /cardconnect/rest/ (spec §2).
// Every request needs HTTP Basic credentials (401 otherwise, before any
// routing, as a security filter does). Writes take PUT or POST alike;
// reads are GET; a body sent with a GET is read and ignored (CardConnect's
// own Node sample sends one). Paths are case-sensitive; an unknown path is
// 404 with the documented JSON body.
func (s *Server) GatewayHandler() http.Handler { return http.HandlerFunc(s.serveGateway) }

// Handler serves both services and the admin call; any other path is 404.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case underPrefix(p, GatewayPrefix):
			s.serveGateway(w, r)
		case underPrefix(p, CardSecurePrefix):
			s.serveCardSecure(w, r)
		case underPrefix(p, AdminPrefix):
			s.serveAdmin(w, r)
		default:
			s.writeHTTPError(w, r, http.StatusNotFound)
		}
	})
}

// Owns reports whether path belongs to the CardPointe sandbox: the Gateway,
// CardSecure or its admin call. Paths are case-sensitive, as on the Gateway.
func Owns(path string) bool {
	return underPrefix(path, GatewayPrefix) || underPrefix(path, CardSecurePrefix) || underPrefix(path, AdminPrefix)
}

// underPrefix reports whether path is prefix or below it (whole segments).
func underPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// authorized checks HTTP Basic credentials in constant time.
func (s *Server) authorized(r *http.Request) bool {
	scheme, enc, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	u := subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.Password))
	return ok && u&p == 1
}

// route is one Gateway endpoint.
type route struct {
	write bool // PUT/POST with a JSON body; otherwise the methods below
	get   bool
	del   bool
	segs  []int // accepted path lengths in segments after the name (reads)
}

var routes = map[string]route{
	"auth":             {write: true},
	"capture":          {write: true},
	"void":             {write: true},
	"voidByOrderId":    {write: true},
	"refund":           {write: true},
	"sigcap":           {write: true},
	"profile":          {write: true, get: true, del: true, segs: []int{3}},
	"inquire":          {get: true, segs: []int{2}},
	"inquireByOrderid": {get: true, segs: []int{2, 3}},
	"settlestat":       {get: true, segs: []int{0}},
	"funding":          {get: true, segs: []int{0}},
	"bin":              {get: true, segs: []int{2}},
	"inquireMerchant":  {get: true, segs: []int{1}},
}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	if !underPrefix(r.URL.Path, GatewayPrefix) {
		s.writeHTTPError(w, r, http.StatusNotFound)
		return
	}
	if !s.authorized(r) {
		s.writeHTTPError(w, r, http.StatusUnauthorized)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, GatewayPrefix)
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		s.credentialTest(w, r)
		return
	}
	// Empty segments count: profile/<id>//<merchid> names no account (spec §2).
	segs := strings.Split(rest, "/")
	if len(segs) > 1 && segs[len(segs)-1] == "" && segs[0] != "profile" {
		segs = segs[:len(segs)-1] // a trailing slash
	}
	name, args := segs[0], segs[1:]
	rt, known := routes[name]
	if !known {
		s.writeHTTPError(w, r, http.StatusNotFound)
		return
	}
	isWrite := r.Method == http.MethodPut || r.Method == http.MethodPost
	switch {
	case rt.write && isWrite:
		if len(args) > 0 {
			s.writeHTTPError(w, r, http.StatusNotFound)
			return
		}
		s.serveWrite(w, r, name)
	case rt.get && r.Method == http.MethodGet, rt.del && r.Method == http.MethodDelete:
		if !slices.Contains(rt.segs, len(args)) {
			s.writeHTTPError(w, r, http.StatusNotFound)
			return
		}
		_, _ = readBody(w, r) // a body on GET is tolerated and ignored
		s.serveRead(w, r, name, args)
	default:
		w.Header().Set("Allow", allowed(rt))
		s.writeHTTPError(w, r, http.StatusMethodNotAllowed)
	}
}

func allowed(rt route) string {
	var m []string
	if rt.get {
		m = append(m, http.MethodGet)
	}
	if rt.write {
		m = append(m, http.MethodPut, http.MethodPost)
	}
	if rt.del {
		m = append(m, http.MethodDelete)
	}
	return strings.Join(m, ", ")
}

// serveWrite decodes a JSON body and runs a write endpoint.
func (s *Server) serveWrite(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := s.readJSON(w, r)
	if !ok {
		return
	}
	var resp obj
	switch name {
	case "auth":
		if resp = s.auth(r.Context(), f); resp == nil {
			// The request ended during a simulated processor timeout (the
			// client left, or the server is closing): close the connection
			// rather than let net/http send an empty 200.
			panic(http.ErrAbortHandler)
		}
	case "capture":
		resp = s.capture(f)
	case "void":
		resp = s.void(f, "retref")
	case "voidByOrderId":
		resp = s.void(f, "orderid")
	case "refund":
		resp = s.refund(f)
	case "sigcap":
		resp = s.sigcap(f)
	case "profile":
		resp = s.profileSave(f)
	}
	writeJSON(w, http.StatusOK, resp)
}

// serveRead runs a GET (or profile DELETE) endpoint; path arguments are
// taken as they come (case-sensitive, no trimming).
func (s *Server) serveRead(w http.ResponseWriter, r *http.Request, name string, args []string) {
	var resp any
	switch name {
	case "profile":
		if r.Method == http.MethodDelete {
			resp = s.profileDelete(args[0], args[1], args[2])
		} else {
			resp = s.profileGet(args[0], args[1], args[2])
		}
	case "inquire":
		resp = s.inquire(args[0], args[1])
	case "inquireByOrderid":
		resp = s.inquireByOrderid(args[0], args[1])
	case "settlestat":
		body, found := s.settlestat(r.URL.Query())
		if !found {
			writeText(w, "Null batches") // plain text, not JSON, as recorded (spec §2.7)
			return
		}
		resp = body
	case "funding":
		resp = s.fundingAnswer(r.URL.Query())
	case "bin":
		resp = s.bin(args[0], args[1])
	case "inquireMerchant":
		resp = s.inquireMerchant(args[0])
	}
	writeJSON(w, http.StatusOK, resp)
}

// credentialTest answers the bare base URL (spec §1): PUT or POST with
// {"merchid"}, or GET (the Postman collection's form, usually bodiless).
// The MID must belong to the credentials; a mismatch is 401.
func (s *Server) credentialTest(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPut, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, PUT, POST")
		s.writeHTTPError(w, r, http.StatusMethodNotAllowed)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	// PUT and POST must name the MID of the credentials. A GET (the Postman
	// form) usually has no body; one that names a MID must name this one.
	f, err := decodeFields(body)
	if r.Method != http.MethodGet && err != nil {
		s.writeHTTPError(w, r, http.StatusBadRequest)
		return
	}
	merchid, typeErr := f.str("merchid")
	named := r.Method != http.MethodGet || merchid != ""
	if typeErr != nil || named && merchid != s.opts.MerchID {
		s.writeHTTPError(w, r, http.StatusUnauthorized)
		return
	}
	writeText(w, "CardConnect REST Servlet")
}

// bin answers GET bin/<merchid>/<token> (spec §2.9); failures carry
// errormsg and success false.
func (s *Server) bin(merchid, token string) obj {
	if s.checkMerchant(merchid) != "" {
		return obj{"errormsg": "Invalid merchant", "success": false}
	}
	s.mu.Lock()
	e := s.vault.lookup(token)
	s.mu.Unlock()
	if e == nil || e.ach {
		return obj{"errormsg": "Invalid token", "success": false}
	}
	b, _, _ := brandOf(e.pan)
	info := binInfo(b, e.pan[:6])
	info["success"] = true
	return info
}

// binInfo is the BIN data of a card (spec §2.9): the sandbox knows the
// network only, so every card is a plain US consumer credit card.
func binInfo(b brand, bin string) obj {
	product := b.product
	if product == "" {
		product = "N"
	}
	return obj{
		"country": "USA", "product": product, "bin": bin, "cardusestring": "Credit",
		"gsa": false, "corporate": false, "fsa": false, "purchase": false, "prepaid": false,
		"issuer": "Sandbox Issuer", "subtype": "Consumer Credit",
		"binlo": bin + "XXX", "binhi": bin + "XXX",
	}
}

// inquireMerchant answers GET inquireMerchant/<merchid> (spec §2.9).
func (s *Server) inquireMerchant(merchid string) obj {
	if code := s.checkMerchant(merchid); code != "" {
		return ppsBody(code)
	}
	return obj{
		"site": s.opts.Site, "merchid": merchid, "enabled": true, "cardproc": s.opts.Processor,
		"echeck": "N", "avs": "N", "cvv": "N", "acctupdater": "N", "fee_type": "N",
	}
}
