package rest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// method maps an operation to its HTTP method (spec §3.2).
func method(op api.Op) string {
	switch op {
	case api.Create, api.Execute:
		return http.MethodPost
	case api.Update:
		return http.MethodPut
	case api.Delete:
		return http.MethodDelete
	}
	return http.MethodGet
}

// buildURL renders base + path segments + list query (spec §3.1–3.3) for a
// resolved request (call.Plan.Request: action in the catalog's spelling,
// query normalised).
func buildURL(base string, req *api.Request) (*url.URL, error) {
	var segs []string
	if req.AppID != "" {
		// Custom app calls replace product/resource and id (spec §3.1); every SDK
		// spells this prefix capitalised.
		if req.ID != "" {
			return nil, errs.Invalid("id", "must be empty for a custom app call (app_id is the object)")
		}
		segs = []string{"General", "Apps", req.AppID, "callBackend"}
		if req.Action != "" {
			segs = append(segs, req.Action)
		}
	} else {
		// Lower-case product/resource as Java and JS send them; the server
		// matches case-insensitively (inference, spec §3.1).
		segs = []string{strings.ToLower(req.Product()), strings.ToLower(req.ResourceName())}
		if req.ID != "" {
			segs = append(segs, req.ID)
		}
		if req.Action != "" {
			segs = append(segs, req.Action)
		}
	}
	segs = append(segs, req.Segments()...)

	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "/"))
	for _, s := range segs {
		// "." and ".." would be resolved by proxies into another resource,
		// and so would "..\": servers and proxies that take a backslash for
		// a slash exist, and no secucard id or action holds one.
		if s == "." || s == ".." {
			return nil, errs.Invalid(segmentField(req, s), "must not be %q", s)
		}
		if strings.Contains(s, `\`) {
			return nil, errs.Invalid(segmentField(req, s), `must not contain a backslash (servers may read it as "/")`)
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if req.Op == api.List && req.Query != nil {
		if q := encodeQuery(req.Query); q != "" {
			b.WriteByte('?')
			b.WriteString(q)
		}
	}
	u, err := url.Parse(b.String())
	if err != nil {
		return nil, errs.Invalid("id", "cannot be used in a URL: %v", err)
	}
	return u, nil
}

// segmentField names the request field a bad path segment came from.
func segmentField(req *api.Request, s string) string {
	switch s {
	case req.ID:
		return "id"
	case req.Action:
		return "action"
	case req.AppID:
		return "app_id"
	}
	return "arg"
}

// encodeQuery renders a normalised list query (call.Resolve applied the
// scroll rules of spec §3.3) in a fixed order, keys and values
// percent-encoded (brackets become %5B/%5D; the sandbox accepts both forms).
func encodeQuery(q *api.Query) string {
	var parts []string
	add := func(k, v string) { parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v)) }
	if q.Count != nil {
		add("count", strconv.Itoa(*q.Count))
	}
	if q.Offset > 0 {
		add("offset", strconv.Itoa(q.Offset))
	}
	if len(q.Fields) > 0 {
		add("fields", strings.Join(q.Fields, ","))
	}
	for _, s := range q.Sort {
		add("sort["+s.Field+"]", s.Order)
	}
	if q.Q != "" {
		add("q", q.Q)
	}
	if q.Preset != "" {
		add("preset", q.Preset)
	}
	if g := q.Geo; g != nil {
		for _, kv := range [][2]string{{"field", g.Field}, {"lat", g.Lat}, {"lon", g.Lon}, {"distance", g.Distance}} {
			if kv[1] != "" {
				add("geo["+kv[0]+"]", kv[1])
			}
		}
	}
	if q.ScrollExpire != "" {
		add("scroll_expire", q.ScrollExpire)
	}
	if q.ScrollID != "" {
		add("scroll_id", q.ScrollID)
	}
	return strings.Join(parts, "&")
}
