package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// smartIdents implements the smart.idents actions (spec §6.1, §6.2):
// <id>/read returns the ident (Java readIdent), notused/validate takes
// [{"type","value"}] (PHP) and answers the matching idents with "valid" set.
func (s *Server) smartIdents(c *call) (DispatchResponse, bool) {
	switch c.action {
	case "read":
		if c.id == "" {
			return s.notAllowed(codeBadMethod, "read needs an ident id: smart/idents/<id>/read"), true
		}
		return s.get(c), true
	case "validate":
		var items []map[string]any
		if err := json.Unmarshal(c.body, &items); err != nil || len(items) == 0 {
			return s.fieldError("data", `must be a non-empty array of {"type","value"} objects`), true
		}
		s.mu.Lock()
		out := make([]any, len(items))
		for i, it := range items {
			if _, ok := it["value"].(string); !ok {
				s.mu.Unlock()
				return s.fieldError(fmt.Sprintf("data[%d].value", i), "must be a string"), true
			}
			out[i] = s.completeIdentsLocked([]any{map[string]any(it)})[0]
		}
		s.mu.Unlock()
		return DispatchResponse{Status: http.StatusOK, Body: mustJSON(out)}, true
	}
	return DispatchResponse{}, false
}

// identForLocked finds the seeded ident an ident in a request refers to: by
// id, else by type and the value's prefix (a card number 9276... is smi_1).
func (s *Server) identForLocked(m map[string]any) (object, bool) {
	idents := s.colls["smart.idents"]
	if id, _ := m["id"].(string); id != "" {
		o, ok := idents.items[id]
		return o, ok
	}
	typ, _ := m["type"].(string)
	value, _ := m["value"].(string)
	for _, id := range idents.order {
		o := idents.items[id]
		prefix, _ := o["prefix"].(string)
		if (typ == "" || strings.EqualFold(typ, fmt.Sprint(o["type"]))) && prefix != "" && strings.HasPrefix(value, prefix) {
			return o, true
		}
	}
	return nil, false
}
