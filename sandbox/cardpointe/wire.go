package cardpointe

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds a request body. The largest documented field is a
// signature image (6144 characters in responses) and userfields (4000
// bytes); 256 KiB leaves room for both many times over.
const maxBody = 256 << 10

// obj is a JSON object answer. encoding/json writes its keys sorted; the
// Gateway guarantees no order (UAT even shuffles it, spec §1).
type obj map[string]any

// fields is a decoded request body: the JSON object's members by their
// exact, case-sensitive names (spec §1: parameter names are case-sensitive,
// so the sandbox never matches "MerchID" to "merchid" the way encoding/json
// would for a struct).
type fields map[string]any

var (
	errNotObject  = errors.New("the body is not a JSON object")
	errEmptyBody  = errors.New("the body is empty")
	errBadType    = errors.New("a field has the wrong JSON type")
	errTrailing   = errors.New("data after the JSON object")
	errBodyTooBig = errors.New("the body is too large")
)

// decodeFields parses a request body into fields. Numbers keep their
// literal text (json.Number) so an amount sent as a JSON number is read
// with the same rule as a string.
func decodeFields(body []byte) (fields, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmptyBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errNotObject
	}
	return fields(m), nil
}

// str returns a scalar field as text: a string as is, a number by its
// literal, a boolean as "true"/"false"; absent or null is "". The Gateway
// expects strings (spec §1) but the usual Java JSON binders coerce scalars
// into String fields, so the sandbox does too. An object or array where a
// scalar belongs is errBadType.
func (f fields) str(name string) (string, error) {
	switch v := f[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	}
	return "", errBadType
}

// has reports whether name is present and not null.
func (f fields) has(name string) bool { return f[name] != nil }

// yes reports whether a Y/N flag is set (the docs use both "Y" and "y").
func yes(v string) bool { return strings.EqualFold(v, "Y") }

// readBody reads at most maxBody bytes of r's body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errBodyTooBig
	}
	return b, err
}

// jsonContent reports whether a request body is declared as JSON. A body
// under another (or no) media type is refused with 415, as the Java web
// stack behind the Gateway does for a JSON-bound endpoint (an inference:
// every official sample sends Content-Type: application/json, spec §1).
func jsonContent(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// writeJSON answers with a JSON value.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only plain maps, slices and strings are ever passed
		panic("cardpointe: cannot encode answer: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeText answers 200 with plain text (the credential test, "Null batches").
func writeText(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, text)
}

// writeHTTPError answers an HTTP-level error with the body the Gateway sends
// for a bad path since 8/2023 (spec §3: timestamp, status, error, path). The
// bodies of 400, 401, 405, 413 and 415 are not documented; the sandbox uses
// the same shape, which is what the Java framework behind that 404 body
// produces for every status.
func (s *Server) writeHTTPError(w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusUnauthorized {
		// RFC 9110 requires a challenge with 401; the real realm is unknown.
		w.Header().Set("WWW-Authenticate", `Basic realm="CardConnect"`)
	}
	writeJSON(w, status, s.httpErrorBody(status, r.URL.Path))
}

// ErrorBody is the body the Gateway sends with an HTTP error status on
// path: what a host server's fault injection answers on these paths.
func (s *Server) ErrorBody(status int, path string) []byte {
	b, _ := json.Marshal(s.httpErrorBody(status, path))
	return b
}

func (s *Server) httpErrorBody(status int, path string) obj {
	return obj{
		"timestamp": s.now().Format("2006-01-02T15:04:05.000+00:00"),
		"status":    status,
		"error":     http.StatusText(status),
		"path":      path,
	}
}

// MaskPath masks every path segment that looks like a card number (13-19
// digits passing Luhn, which includes CardSecure tokens), for log lines:
// the sandbox never writes a full PAN to its log.
func MaskPath(path string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if looksLikePAN(seg) {
			segs[i] = maskPAN(seg)
		}
	}
	return strings.Join(segs, "/")
}

// readJSON reads the JSON object body of a write. When it cannot (too
// large 413, not declared JSON 415, not a JSON object 400) it answers and
// returns false.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request) (fields, bool) {
	body, err := readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return nil, false
	}
	if !jsonContent(r) {
		s.writeHTTPError(w, r, http.StatusUnsupportedMediaType)
		return nil, false
	}
	f, err := decodeFields(body)
	if err != nil {
		s.writeHTTPError(w, r, http.StatusBadRequest)
		return nil, false
	}
	return f, true
}

// bodyError answers a body that could not be read or parsed.
func (s *Server) bodyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errBodyTooBig) {
		s.writeHTTPError(w, r, http.StatusRequestEntityTooLarge)
		return
	}
	s.writeHTTPError(w, r, http.StatusBadRequest)
}

// dateYMD and friends are the Gateway's date formats.
const (
	dateYMD       = "20060102"
	dateTimeYMDHM = "20060102150405"
)

// now is the sandbox clock in UTC: the Gateway's own zone for dates
// (authdate, settlement days) is not documented.
func (s *Server) now() time.Time { return s.opts.Now().UTC() }
