package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// stompBody is the request body of spec §4.5. Members are kept raw: pid and
// sid may be strings or numbers, query and data objects or (from .NET) JSON
// strings holding objects.
type stompBody struct {
	PID   json.RawMessage `json:"pid"`
	SID   json.RawMessage `json:"sid"`
	Query json.RawMessage `json:"query"`
	Data  json.RawMessage `json:"data"`
}

// stompExchange is the exchange the real clients send to (spec §4.3).
const stompExchange = "connect.api"

// stompRequest translates a SEND into a Dispatch call:
// [/exchange/connect.api/]api:<verb>:<product>.<resource>[.<action>] with
// {pid, sid, query, data}, or app:<action> with an app-id header, which is
// general.apps <app-id> callBackend <action> (the REST form of spec §3.1).
// A request that cannot be translated gets the error answer to send.
func (s *Server) stompRequest(dest, appID, xAction, token string, body []byte) (DispatchRequest, *DispatchResponse) {
	key := dest
	if strings.HasPrefix(strings.ToLower(dest), "/exchange/") {
		exchange, k, _ := strings.Cut(dest[len("/exchange/"):], "/")
		if !strings.EqualFold(exchange, stompExchange) {
			r := s.notFound(codeNoRoute, fmt.Sprintf("unknown destination %q: requests go to /exchange/%s/<routing key>", dest, stompExchange))
			return DispatchRequest{}, &r
		}
		key = k
	}
	req := DispatchRequest{Token: token, XAction: xAction}
	scheme, rest, _ := strings.Cut(key, ":")
	switch strings.ToLower(scheme) {
	case "api":
		verb, target, _ := strings.Cut(rest, ":")
		parts := strings.Split(target, ".")
		if verb == "" || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			r := s.notFound(codeNoRoute, fmt.Sprintf("malformed routing key %q: want api:<get|add|update|delete|exec>:<product>.<resource>[.<action>]", key))
			return DispatchRequest{}, &r
		}
		req.Op, req.Product, req.Resource = verb, parts[0], parts[1]
		if len(parts) == 3 {
			req.Action = parts[2]
		}
	case "app":
		if rest == "" {
			r := s.notFound(codeNoRoute, "malformed routing key: want app:<action>")
			return DispatchRequest{}, &r
		}
		if appID == "" {
			r := s.badRequest(codeBadBody, "custom app calls need an app-id header naming the app")
			return DispatchRequest{}, &r
		}
		req.Op, req.Product, req.Resource, req.ID, req.Action = "exec", "general", "apps", appID, "callBackend"
		req.Args = []string{rest}
	default:
		r := s.notFound(codeNoRoute, fmt.Sprintf("unknown routing key %q: want api:... or app:...", key))
		return DispatchRequest{}, &r
	}

	var b stompBody
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
		if err := json.Unmarshal(trimmed, &b); err != nil {
			r := s.badRequest(codeBadBody, "the body must be a JSON object {pid, sid, query, data}: "+err.Error())
			return DispatchRequest{}, &r
		}
	}
	pid, sid := rawText(b.PID), rawText(b.SID)
	if req.ID == "" {
		req.ID = pid
	}
	if sid != "" {
		req.Args = append(req.Args, strings.Split(sid, "/")...)
	}
	data := unwrapJSONString(b.Data)
	if req.ID == "" && strings.EqualFold(req.Op, "get") && req.Action == "" {
		// iOS's getObject sends the id as data instead of pid (spec §4.5).
		var id string
		if json.Unmarshal(data, &id) == nil && id != "" {
			req.ID, data = id, nil
		}
	}
	req.Body = data
	q, errText := stompQuery(unwrapJSONString(b.Query))
	if errText != "" {
		r := s.badRequest(codeBadQuery, "query: "+errText)
		return DispatchRequest{}, &r
	}
	req.Query = q
	return req, nil
}

// rawText renders a JSON string or number as text ("" for null/absent).
func rawText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// unwrapJSONString returns the JSON inside a JSON string when it holds an
// object or array (.NET serialises query and data to JSON strings first,
// spec §4.5); anything else is returned unchanged, so Java's bare-string
// bodies such as "smart.transactions" stay strings.
func unwrapJSONString(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return raw
	}
	inner := bytes.TrimSpace([]byte(s))
	if len(inner) > 0 && (inner[0] == '{' || inner[0] == '[') && json.Valid(inner) {
		return inner
	}
	return raw
}

// stompQuery turns the query object (spec §4.5) into the REST-style values
// Dispatch reads: fields joined by commas, sort (an object in priority
// order, an array of {field, order}, or a "f:dir,..." string) as one ordered
// sort=f:dir,... value, geo members as geo[...]. Unknown members are passed
// through as text.
func stompQuery(raw json.RawMessage) (url.Values, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ""
	}
	if raw[0] != '{' {
		return nil, "must be a JSON object"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, "is not valid JSON"
	}
	out := url.Values{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, "is not valid JSON"
		}
		key, _ := kt.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, "is not valid JSON"
		}
		val = bytes.TrimSpace(val)
		switch strings.ToLower(key) {
		case "fields":
			var list []string
			if json.Unmarshal(val, &list) == nil {
				out.Set("fields", strings.Join(list, ","))
			} else {
				out.Set("fields", rawText(val))
			}
		case "sort":
			s, errText := sortValue(val)
			if errText != "" {
				return nil, errText
			}
			if s != "" {
				out.Set("sort", s)
			}
		case "geo":
			var g map[string]json.RawMessage
			if json.Unmarshal(val, &g) != nil {
				return nil, "geo must be an object {field, lat, lon, distance}"
			}
			for k, v := range g {
				out.Set("geo["+k+"]", rawText(v))
			}
		default:
			if t := rawText(val); t != "" {
				out.Set(key, t)
			}
		}
	}
	return out, ""
}

// sortValue renders a sort member as "field:dir,..." keeping its order.
func sortValue(val json.RawMessage) (string, string) {
	if len(val) == 0 || string(val) == "null" {
		return "", ""
	}
	var parts []string
	switch val[0] {
	case '{':
		dec := json.NewDecoder(bytes.NewReader(val))
		_, _ = dec.Token()
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", "sort is not valid JSON"
			}
			var dir json.RawMessage
			if err := dec.Decode(&dir); err != nil {
				return "", "sort is not valid JSON"
			}
			parts = append(parts, fmt.Sprint(kt)+":"+rawText(dir))
		}
	case '[':
		var list []struct {
			Field string `json:"field"`
			Order string `json:"order"`
		}
		if json.Unmarshal(val, &list) != nil {
			return "", `sort must be an object {"field":"asc|desc"} or an array of {field, order}`
		}
		for _, e := range list {
			parts = append(parts, e.Field+":"+e.Order)
		}
	case '"':
		return rawText(val), ""
	default:
		return "", `sort must be an object {"field":"asc|desc"}`
	}
	return strings.Join(parts, ","), ""
}
