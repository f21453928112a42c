package cardpointe

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
)

// System is the "system" value of a CardPointe request.
const System = "cardpointe"

// Request is one CardPointe call as the host wrote it:
//
//	{"system": "cardpointe", "op": "auth", "data": {...}, "timeout_ms": 40000}
//
// data holds the Gateway's own fields, named exactly as spec §2 names them
// (case-sensitive; a few are camelCase); amounts are JSON integers of minor
// units; Y/N flags take true/false (or "Y"/"N"); merchid defaults to the
// config's. Fields the library does not list go under "extra", sent as they
// are. A request is checked completely before anything is sent.
type Request struct {
	System    string          `json:"system"`
	Op        string          `json:"op"`
	Data      json.RawMessage `json:"data,omitempty"`
	TimeoutMS int             `json:"timeout_ms,omitempty"`

	spec   *opSpec
	fields map[string]any // checked and converted: the wire values, "merchid" and "extra" apart
	extra  map[string]any
	// merchid given in data; "" takes the config's.
	merchid string
	// amount is the auth's amount in minor units (what partial compares with).
	amount int64
}

// Name is "cardpointe.<op>" for logs, stats and error ops.
func (r *Request) Name() string { return System + "." + r.Op }

// Timeout is the request's timeout_ms, 0 when it gave none.
func (r *Request) Timeout() time.Duration { return time.Duration(r.TimeoutMS) * time.Millisecond }

// kind is how a data field is checked and sent.
type kind int

const (
	text    kind = iota // a string, sent as it is
	amount              // a JSON integer of minor units, sent as "D.DD"
	flag                // true/false or "Y"/"N", sent as "Y"/"N"
	object              // a JSON object (userfields)
	array               // a JSON array (Level 3 items)
	boolean             // true/false, sent as a JSON boolean (CardSecure's unique)
	profile             // auth's profile: true/"Y" saves the card, "<profileid>[/<acctid>]" charges one
	receipt             // true/"Y" or "json"
)

// answer classes of the operations (how decode reads a 200).
type answerKind int

const (
	payment    answerKind = iota // respstat decides; C is a decline (money moves)
	record                       // a transaction record or several; a bare PPS answer is a refusal
	result                       // respstat A or none is success; C is a refusal
	listing                      // an array; "Null batches" is an empty one
	report                       // funding, bin: errormsg / success false is a refusal
	plainText                    // the credential test's text
	cardSecure                   // errorcode 0 is success
)

// opSpec is one operation: where it goes and which fields it takes.
type opSpec struct {
	method   string
	endpoint string // under the Gateway's base; "" the base itself
	secure   bool   // CardSecure, not the Gateway (no Basic credentials, no merchid)
	body     map[string]kind
	path     []string // data fields (and "merchid") forming the path after endpoint
	query    []string // data fields sent as query parameters (with merchid)
	required []string
	oneOf    []string // at least one of these is required
	answer   answerKind
	// repeatable: repeating the request has no further effect (spec facts
	// cited in ops below); nil: it is a read, or never repeatable once sent.
	idempotent func(r *Request) bool
	mutating   bool
}

// Cardholder and address fields (spec §2.1, §2.8).
var holder = map[string]kind{
	"name": text, "company": text, "address": text, "address2": text, "city": text, "region": text,
	"country": text, "postal": text, "phone": text, "email": text,
}

func with(base map[string]kind, more map[string]kind) map[string]kind {
	m := make(map[string]kind, len(base)+len(more))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range more {
		m[k] = v
	}
	return m
}

// profileFields are a stored account's fields (spec §2.8); profile names
// the profile to add to (create) or "<profileid>/<acctid>" (update).
var profileFields = with(holder, map[string]kind{
	"account": text, "expiry": text, "defaultacct": flag, "profile": text, "cofpermission": flag,
	"auoptout": flag, "accttype": text, "bankaba": text, "ssnl4": text, "license": text,
})

func always(*Request) bool { return true }

// fullVoid: a void of the whole amount has no further effect when repeated
// (the spec recommends repeating voidByOrderId three times when its answer
// is lost, §2.4); a partial void reduces the amount again.
func fullVoid(r *Request) bool { _, partial := r.fields["amount"]; return !partial }

// ops are the operations, by the name the host writes in "op" (the
// Gateway's endpoint names where there is one, spec §2).
var ops = map[string]*opSpec{
	"testCredentials": {method: http.MethodPost, answer: plainText},
	"auth": {
		method: http.MethodPost, endpoint: "auth", answer: payment, mutating: true,
		body: with(holder, map[string]kind{
			"account": text, "expiry": text, "amount": amount, "currency": text, "capture": flag, "cvv2": text,
			"ecomind": text, "orderid": text, "profile": profile, "tokenize": flag, "cof": text,
			"cofscheduled": flag, "cofpermission": flag, "receipt": receipt, "bin": flag, "track": text,
			"signature": text, "bankaba": text, "accttype": text, "authcode": text, "taxexempt": flag,
			"taxamnt": amount, "ponumber": text, "invoiceid": text, "termid": text, "auoptout": flag,
			"userfields": object, "ssnl4": text, "license": text,
		}),
		required: []string{"amount"}, oneOf: []string{"account", "profile", "track"},
	},
	"capture": {
		method: http.MethodPost, endpoint: "capture", answer: payment, mutating: true,
		body: map[string]kind{
			"retref": text, "amount": amount, "authcode": text, "invoiceid": text, "ponumber": text,
			"taxamnt": amount, "frtamnt": amount, "dutyamnt": amount, "items": array, "receipt": receipt,
		},
		required: []string{"retref"},
	},
	"void": {
		method: http.MethodPost, endpoint: "void", answer: payment, mutating: true, idempotent: fullVoid,
		body: map[string]kind{"retref": text, "amount": amount}, required: []string{"retref"},
	},
	"voidByOrderId": {
		method: http.MethodPost, endpoint: "voidByOrderId", answer: payment, mutating: true, idempotent: fullVoid,
		body: map[string]kind{"orderid": text, "amount": amount}, required: []string{"orderid"},
	},
	"refund": {
		method: http.MethodPost, endpoint: "refund", answer: payment, mutating: true,
		body:     map[string]kind{"retref": text, "amount": amount, "orderid": text, "receipt": receipt},
		required: []string{"retref"},
	},
	"inquire": {
		method: http.MethodGet, endpoint: "inquire", answer: record,
		body: map[string]kind{"retref": text}, path: []string{"retref", "merchid"}, required: []string{"retref"},
	},
	"inquireByOrderid": {
		method: http.MethodGet, endpoint: "inquireByOrderid", answer: record,
		body: map[string]kind{"orderid": text, "set": text}, path: []string{"orderid", "merchid", "set"},
		required: []string{"orderid"},
	},
	"settlestat": {
		method: http.MethodGet, endpoint: "settlestat", answer: listing,
		body: map[string]kind{"date": text, "batchid": text}, query: []string{"date", "batchid"},
	},
	"funding": {
		method: http.MethodGet, endpoint: "funding", answer: report,
		body: map[string]kind{"date": text}, query: []string{"date"},
	},
	// Since 7/2022 the Gateway returns the existing profile for an exact
	// duplicate instead of creating another (spec §2.8).
	"profileCreate": {
		method: http.MethodPost, endpoint: "profile", answer: result, mutating: true, idempotent: always,
		body: profileFields, required: []string{"account"},
	},
	// An update sets fields to values: the same update again changes nothing.
	"profileUpdate": {
		method: http.MethodPost, endpoint: "profile", answer: result, mutating: true, idempotent: always,
		body: profileFields, required: []string{"profile"},
	},
	"profileGet": {
		method: http.MethodGet, endpoint: "profile", answer: listing,
		body: map[string]kind{"profileid": text, "acctid": text}, path: []string{"profileid", "acctid", "merchid"},
		required: []string{"profileid"},
	},
	"profileDelete": {
		method: http.MethodDelete, endpoint: "profile", answer: result, mutating: true, idempotent: always,
		body: map[string]kind{"profileid": text, "acctid": text}, path: []string{"profileid", "acctid", "merchid"},
		required: []string{"profileid"},
	},
	"bin": {
		method: http.MethodGet, endpoint: "bin", answer: report,
		body: map[string]kind{"token": text}, path: []string{"merchid", "token"}, required: []string{"token"},
	},
	// Storing the same signature again leaves the same signature.
	"sigcap": {
		method: http.MethodPost, endpoint: "sigcap", answer: result, mutating: true, idempotent: always,
		body: map[string]kind{"retref": text, "signature": text}, required: []string{"retref", "signature"},
	},
	"inquireMerchant": {method: http.MethodGet, endpoint: "inquireMerchant", answer: result, path: []string{"merchid"}},
	// CardSecure yields the same token for the same card unless unique is
	// asked for (spec §5).
	"tokenize": {
		method: http.MethodPost, endpoint: "ccn/tokenize", secure: true, answer: cardSecure, mutating: true,
		idempotent: func(r *Request) bool { u, _ := r.fields["unique"].(bool); return !u },
		body: map[string]kind{
			"account": text, "devicedata": text, "expiry": text, "cvv": text, "signature": text,
			"encryptionhandler": text, "unique": boolean,
		},
		oneOf: []string{"account", "devicedata"},
	},
}

// OpNames lists the operations in a stable order (for messages and docs).
func OpNames() []string {
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// maxText bounds one text field: a signature image is the largest the docs
// show (6144 characters); userfields are bounded by the Gateway at 4000.
const maxText = 64 << 10

// segmentRe is what a value placed in a URL path may hold.
var segmentRe = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

// pathSafe: a value fit for one URL path segment. "." and ".." are made of
// allowed characters but a server or proxy resolves them to another
// resource, and two lead out of the Gateway's base path.
func pathSafe(v string) bool { return segmentRe.MatchString(v) && v != "." && v != ".." }

// ParseRequest decodes the host's request JSON strictly and checks it
// completely (fields, types, amounts); nothing is sent for a bad request.
func ParseRequest(b []byte) (*Request, error) {
	var r Request
	if err := strictjson.Decode(b, &r, "request"); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// check validates the request and converts data into wire values.
func (r *Request) check() error {
	if r.System != System {
		return errs.Invalid("system", `must be %q for a CardPointe call`, System)
	}
	spec, ok := ops[r.Op]
	if !ok {
		for name := range ops {
			if strings.EqualFold(name, r.Op) {
				return errs.Invalid("op", "is %q; operation names are case-sensitive: did you mean %q?", r.Op, name)
			}
		}
		return errs.Invalid("op", "must be one of %s, got %q", strings.Join(OpNames(), ", "), r.Op)
	}
	r.spec = spec
	if r.TimeoutMS < 0 {
		return errs.Invalid("timeout_ms", "must not be negative")
	}
	data := map[string]any{}
	if t := bytes.TrimSpace(r.Data); len(t) > 0 && string(t) != "null" {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return errs.Invalid("data", "is not valid JSON")
		}
		m, ok := v.(map[string]any)
		if !ok {
			return errs.Invalid("data", "must be a JSON object of the Gateway's fields, got %s", jsonType(v))
		}
		data = m
	}
	r.fields = map[string]any{}
	for name, v := range data {
		if v == nil {
			continue // null: absent
		}
		switch name {
		case "merchid":
			if spec.secure {
				return errs.Invalid("data.merchid", "is not a CardSecure field (tokenize needs no merchant)")
			}
			s, ok := v.(string)
			if !ok || !pathSafe(s) {
				return errs.Invalid("data.merchid", "must be the merchant ID as a string of letters and digits")
			}
			r.merchid = s
			continue
		case "extra":
			m, ok := v.(map[string]any)
			if !ok {
				return errs.Invalid("data.extra", "must be an object of further Gateway fields, got %s", jsonType(v))
			}
			for k := range m {
				if _, known := spec.body[k]; known || k == "merchid" {
					return errs.Invalid("data.extra."+k, "is a field the library knows: put it in data itself")
				}
			}
			if spec.method != http.MethodPost {
				return errs.Invalid("data.extra", "cannot be sent with %s (a %s request carries no body)", r.Op, spec.method)
			}
			r.extra = m
			continue
		}
		k, known := spec.body[name]
		if !known {
			return unknownField(spec, r.Op, name)
		}
		w, err := wireValue("data."+name, k, v)
		if err != nil {
			return err
		}
		r.fields[name] = w
	}
	for _, name := range spec.required {
		if _, ok := r.fields[name]; !ok {
			return errs.Invalid("data."+name, "is required for %s", r.Op)
		}
	}
	if len(spec.oneOf) > 0 {
		found := false
		for _, name := range spec.oneOf {
			_, has := r.fields[name]
			found = found || has
		}
		if !found {
			return errs.Invalid("data."+spec.oneOf[0], "is required for %s (or %s)", r.Op, strings.Join(spec.oneOf[1:], ", or "))
		}
	}
	return r.checkOp()
}

// checkOp holds the rules of single operations.
func (r *Request) checkOp() error {
	for _, name := range append(append([]string{}, r.spec.path...), r.spec.query...) {
		v, ok := r.fields[name].(string)
		if ok && !pathSafe(v) {
			return errs.Invalid("data."+name, `must be 1 to 64 letters, digits, ".", "_", "~" or "-", and not "." or ".." (it goes into the URL)`)
		}
	}
	switch r.Op {
	case "auth":
		r.amount = r.fields["amount"].(int64)
		if id, ok := r.fields["orderid"].(string); ok {
			if err := checkOrderID("data.orderid", id); err != nil {
				return err
			}
		}
		if p, ok := r.fields["profile"].(string); ok && p != "Y" && p != "N" {
			if _, has := r.fields["account"]; has {
				return errs.Invalid("data.account", "must be left out when profile names a stored account to charge")
			}
		}
	case "capture", "void", "voidByOrderId", "refund":
		if n, ok := r.fields["amount"].(int64); ok && n < 0 {
			return errs.Invalid("data.amount", "must not be negative for %s (a negative auth amount is a forced credit)", r.Op)
		}
	case "settlestat":
		_, byDate := r.fields["date"]
		_, byBatch := r.fields["batchid"]
		if byDate && byBatch {
			return errs.Invalid("data.batchid", "cannot be combined with date: settlestat asks by date or by batch")
		}
	case "profileUpdate":
		p := r.fields["profile"].(string)
		if id, acct, ok := strings.Cut(p, "/"); !ok || id == "" || acct == "" {
			return errs.Invalid("data.profile", `must be "<profileid>/<acctid>", the account to update`)
		}
	case "profileCreate":
		if p, ok := r.fields["profile"].(string); ok && strings.Contains(p, "/") {
			return errs.Invalid("data.profile", "must be a profile id (to add an account to it); update an account with profileUpdate")
		}
	}
	return nil
}

// unknownField names a field the operation does not take, pointing out a
// case slip (the Gateway's names are case-sensitive) or a misplaced field.
func unknownField(spec *opSpec, op, name string) error {
	field := "data." + name
	for known := range spec.body {
		if strings.EqualFold(known, name) {
			return errs.Invalid(field, "is not a field of %s; field names are case-sensitive: did you mean %q?", op, known)
		}
	}
	names := make([]string, 0, len(spec.body))
	for known := range spec.body {
		names = append(names, known)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return errs.Invalid(field, "is not a field of %s, which takes none (besides merchid)", op)
	}
	return errs.Invalid(field, "is not a field of %s (it takes %s, merchid; put other Gateway fields under extra)", op, strings.Join(names, ", "))
}

// wireValue checks one data value against its kind and returns what is sent:
// a string, an int64 amount (formatted when the body is built), a boolean,
// or an object/array as decoded.
func wireValue(field string, k kind, v any) (any, error) {
	switch k {
	case amount:
		return minorUnits(field, v)
	case flag:
		return yesNo(field, v)
	case boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, errs.Invalid(field, "must be true or false, got %s", jsonType(v))
		}
		return b, nil
	case object:
		if _, ok := v.(map[string]any); !ok {
			return nil, errs.Invalid(field, "must be an object, got %s", jsonType(v))
		}
		return v, nil
	case array:
		if _, ok := v.([]any); !ok {
			return nil, errs.Invalid(field, "must be an array, got %s", jsonType(v))
		}
		return v, nil
	case profile:
		if b, ok := v.(bool); ok {
			if b {
				return "Y", nil
			}
			return "N", nil
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, errs.Invalid(field, `must be true (save the card as a profile) or "<profileid>[/<acctid>]" (charge a stored account), got %s`, jsonType(v))
		}
		if strings.EqualFold(s, "Y") || strings.EqualFold(s, "N") {
			return strings.ToUpper(s), nil
		}
		return s, nil
	case receipt:
		if b, ok := v.(bool); ok {
			if b {
				return "Y", nil
			}
			return "N", nil
		}
		s, ok := v.(string)
		switch {
		case ok && (strings.EqualFold(s, "Y") || strings.EqualFold(s, "N")):
			return strings.ToUpper(s), nil
		case ok && strings.EqualFold(s, "json"):
			return "json", nil
		}
		return nil, errs.Invalid(field, `must be true, false or "json"`)
	}
	s, ok := v.(string)
	if !ok {
		return nil, errs.Invalid(field, "must be a string (the Gateway's values are strings; a number loses leading zeros), got %s", jsonType(v))
	}
	if len(s) > maxText {
		return nil, errs.Invalid(field, "is longer than %d bytes", maxText)
	}
	return s, nil
}

// yesNo reads a Y/N flag: true/false or "Y"/"N" in any case.
func yesNo(field string, v any) (string, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return "Y", nil
		}
		return "N", nil
	case string:
		if strings.EqualFold(x, "Y") || strings.EqualFold(x, "N") {
			return strings.ToUpper(x), nil
		}
	}
	return "", errs.Invalid(field, `must be true or false (or "Y"/"N"), got %s`, jsonType(v))
}
