package sandbox

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// object is a stored resource: JSON decoded with UseNumber, so numbers are
// json.Number and cents stay exact.
type object = map[string]any

// collection holds one resource's objects in creation order (the default list
// order; the real server's default order is unknown).
type collection struct {
	order []string
	byID  map[string]object
}

func newCollection() *collection { return &collection{byID: map[string]object{}} }

func (c *collection) put(o object) {
	id := o["id"].(string)
	if _, ok := c.byID[id]; !ok {
		c.order = append(c.order, id)
	}
	c.byID[id] = o
}

func (c *collection) remove(id string) {
	delete(c.byID, id)
	for i, v := range c.order {
		if v == id {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			return
		}
	}
}

// all returns deep copies in creation order, safe to use without the lock.
func (c *collection) all() []object {
	out := make([]object, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, cloneObject(c.byID[id]))
	}
	return out
}

// clone deep-copies decoded JSON so callers can read it outside the lock.
func clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = clone(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = clone(x)
		}
		return a
	}
	return v
}

func cloneObject(o object) object {
	if o == nil {
		return nil
	}
	return clone(o).(map[string]any)
}

// decodeJSON decodes a body with UseNumber. Empty input is nil.
func decodeJSON(b []byte) (any, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailing
	}
	return v, nil
}

type trailingError struct{}

func (trailingError) Error() string { return "unexpected data after the JSON value" }

var errTrailing error = trailingError{}

// lookupPath resolves a dotted path ("customer.contact.name"). Arrays on the
// way fan out, so the result lists every value found.
func lookupPath(v any, path []string) []any {
	if len(path) == 0 {
		if a, ok := v.([]any); ok {
			return a
		}
		return []any{v}
	}
	switch t := v.(type) {
	case map[string]any:
		x, ok := t[path[0]]
		if !ok {
			return nil
		}
		return lookupPath(x, path[1:])
	case []any:
		var out []any
		for _, e := range t {
			out = append(out, lookupPath(e, path)...)
		}
		return out
	}
	return nil
}

// scalarString renders a JSON scalar for matching and sorting.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	}
	return "", false
}

// number parses a JSON number or a numeric string.
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case float64:
		return t, true
	case int:
		return float64(t), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return f, err == nil
	}
	return 0, false
}

// integer reports whether v is a JSON integer (cents must be integers).
func integer(v any) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(t.String(), 10, 64)
		return n, err == nil
	case int:
		return int64(t), true
	case int64:
		return t, true
	}
	return 0, false
}

// timestampLayout is the real server's timestamp form (spec §7).
const timestampLayout = "2006-01-02T15:04:05-07:00"

// serverZone is the real server's zone (Germany); UTC+1 when the zone database
// is missing, which is right in winter.
var serverZone = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return loc
	}
	return time.FixedZone("CET", 3600)
}()

func timestamp(t time.Time) string { return t.In(serverZone).Format(timestampLayout) }

// ref is a reference stub to another resource (spec §7).
func ref(objectName, id string) object { return object{"object": objectName, "id": id} }
