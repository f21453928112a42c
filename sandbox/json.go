package sandbox

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// EncodeJSON writes v the way the real server does (spec §3.6, §9.4 item 4):
// compact, "/" escaped as "\/", every non-ASCII character as \uXXXX (UTF-16
// surrogate pairs above U+FFFF), and no HTML escaping of <, > and &. ASCII-only
// output also keeps the Java STOMP reader, which counts content-length in
// characters, in step with the bytes (spec §4.14).
func EncodeJSON(v any) ([]byte, error) {
	b, err := marshalPlain(v)
	if err != nil {
		return nil, err
	}
	return escapeServerStyle(b), nil
}

// mustJSON is EncodeJSON for values the sandbox builds itself, which always
// encode.
func mustJSON(v any) []byte {
	b, err := EncodeJSON(v)
	if err != nil {
		panic("sandbox: cannot encode own value: " + err.Error())
	}
	return b
}

// marshalPlain is json.Marshal without HTML escaping and without the trailing
// newline of json.Encoder.
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// escapeServerStyle rewrites compact JSON from encoding/json. "/" and
// non-ASCII bytes only occur inside strings, and encoding/json never emits
// "/" as part of an escape sequence, so a byte-level pass is exact.
func escapeServerStyle(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '/':
			out = append(out, '\\', '/')
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			i += size
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				out = appendU(out, r1)
				out = appendU(out, r2)
				continue
			}
			out = appendU(out, r)
		}
	}
	return out
}

func appendU(out []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// object is a resource object. It marshals "object" and "id" first and then
// "created"/"updated", like the recorded responses, and the rest sorted.
type object map[string]any

var leadingKeys = []string{"object", "id", "created", "updated"}

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) {
	return marshalOrdered(o)
}

func marshalOrdered(m map[string]any) ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := keyRank(keys[i]), keyRank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := marshalPlain(k)
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := marshalPlain(wrapMaps(m[k]))
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func keyRank(k string) int {
	for i, l := range leadingKeys {
		if k == l {
			return i
		}
	}
	return len(leadingKeys)
}

// wrapMaps makes nested objects (references such as {"object","id"}) marshal
// in the same key order as top-level ones.
func wrapMaps(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return object(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = wrapMaps(e)
		}
		return out
	}
	return v
}

// decodeValue parses JSON keeping numbers exact (json.Number), so cents and
// ids round-trip unchanged.
func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailingData
	}
	return v, nil
}

type jsonError string

func (e jsonError) Error() string { return string(e) }

const errTrailingData = jsonError("unexpected data after the JSON value")

// clone deep-copies a decoded JSON value so stored objects never share maps
// with a response being encoded or a caller's body.
func clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = clone(e)
		}
		return m
	case object:
		return object(clone(map[string]any(t)).(map[string]any))
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = clone(e)
		}
		return a
	}
	return v
}

func cloneObject(o object) object { return clone(o).(object) }

// isInteger reports whether a decoded JSON value is an integral number
// written without fraction or exponent (cents must be integers on the wire).
func isInteger(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	s := n.String()
	if strings.ContainsAny(s, ".eE") {
		return false
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func asInt(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := strconv.ParseInt(n.String(), 10, 64)
	return i
}

func num(i int64) json.Number { return json.Number(strconv.FormatInt(i, 10)) }

// jsonType names a decoded value's JSON type for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any, object:
		return "an object"
	}
	return "a value"
}
