package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

var secretKey = regexp.MustCompile(`(?i)^(?:` + secretKeys + `)$`)

// JSON returns the JSON document raw with the masks String applies to text,
// applied to its keys and values so that the result stays valid JSON (a card
// number written as a bare JSON number, masked in the text, would not be): a
// value under a secret-bearing key becomes "[REDACTED]" ("code" only when it
// holds a long device code), every key and string goes through String, and a
// number that is a card number becomes the string of its last four digits.
// Key order is kept. Input that is not JSON comes back as a JSON string of its
// redacted text.
func (r *Redactor) JSON(raw []byte) []byte {
	out, err := r.redactJSON(raw)
	if err != nil {
		b, _ := json.Marshal(r.Bytes(raw))
		return b
	}
	return out
}

// jsonLevel is one open object or array.
type jsonLevel struct {
	object bool
	n      int    // tokens written at this level (keys and values)
	key    string // object: the key of the value being read
}

func (r *Redactor) redactJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out bytes.Buffer
	var stack []jsonLevel
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			out.WriteByte(byte(d))
			stack = stack[:len(stack)-1]
			continue
		}
		var top *jsonLevel
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		isKey := top != nil && top.object && top.n%2 == 0
		if top != nil && top.n > 0 {
			if top.object && !isKey {
				out.WriteByte(':')
			} else {
				out.WriteByte(',')
			}
		}
		if top != nil {
			top.n++
		}
		under := ""
		if top != nil && top.object && !isKey {
			under = top.key
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			out.WriteByte(byte(v))
			stack = append(stack, jsonLevel{object: v == '{'})
		case string:
			switch {
			case isKey:
				top.key = v
				writeJSONString(&out, r.String(v))
			case maskedUnder(under, len(v)):
				writeJSONString(&out, Mask)
			default:
				writeJSONString(&out, r.String(v))
			}
		case json.Number:
			s := v.String()
			switch {
			case under != "" && !strings.EqualFold(under, "code") && secretKey.MatchString(under):
				writeJSONString(&out, Mask)
			case isCardNumber(s):
				writeJSONString(&out, Last4(s))
			default:
				out.WriteString(s)
			}
		case bool:
			if v {
				out.WriteString("true")
			} else {
				out.WriteString("false")
			}
		case nil:
			out.WriteString("null")
		}
	}
}

// maskedUnder reports whether a string value of length n under key is a
// secret: any value of a secret-bearing key, and a long "code" (a device code;
// a short one is an API error code).
func maskedUnder(key string, n int) bool {
	if key == "" {
		return false
	}
	if strings.EqualFold(key, "code") {
		return n >= 16
	}
	return secretKey.MatchString(key)
}

func isCardNumber(s string) bool {
	if len(s) < 13 || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return Luhn(s)
}

// writeJSONString writes s as a JSON string without HTML escaping, so text
// the library does not change keeps its bytes.
func writeJSONString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out.Truncate(out.Len() - 1) // Encode's newline
}

// ForJSON returns a Redactor that knows, as secrets, the values of the
// secret-bearing keys anywhere in the JSON document raw (client_secret,
// password, encryption_key, ...). It serves input rejected before any client
// exists: an error about a config must not echo the secret the host put in it
// (say, in the wrong key). Input that is not JSON yields no secrets.
func ForJSON(raw []byte) *Redactor {
	r := New()
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return r
	}
	n := 0
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			if maskedUnder(key, len(v)) {
				n++
				r.Set(fmt.Sprintf("%s#%d", key, n), v)
			}
		case json.Number:
			if key != "" && !strings.EqualFold(key, "code") && secretKey.MatchString(key) {
				n++
				r.Set(fmt.Sprintf("%s#%d", key, n), v.String())
			}
		}
	}
	walk(doc, "")
	return r
}
