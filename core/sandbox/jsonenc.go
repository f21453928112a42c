package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// EncodeJSON encodes v the way the real server's PHP backend does (spec §3.6,
// §9.4 item 4): compact, "/" escaped as "\/", every non-ASCII character as
// \uXXXX (UTF-16 surrogate pairs above the BMP), integers kept as integers
// (decode with UseNumber to keep cents exact). The output is pure ASCII, which
// also keeps STOMP content-length byte and character counts equal (spec §4.14).
// It is the only encoder the sandbox uses for wire JSON.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // PHP's json_encode leaves < > & alone by default
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return phpEscape(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// mustEncode is EncodeJSON for values the sandbox builds itself (maps of
// strings, numbers and json.Number), which cannot fail to encode.
func mustEncode(v any) []byte {
	b, err := EncodeJSON(v)
	if err != nil {
		panic(fmt.Sprintf("sandbox: encoding a value built by the sandbox failed: %v", err))
	}
	return b
}

// phpEscape rewrites valid, compact JSON. In JSON text "/" and non-ASCII bytes
// can only occur inside strings, and encoding/json never escapes "/", so every
// "/" is a literal slash and can be escaped without tracking string state.
func phpEscape(b []byte) []byte {
	if !needsEscape(b) {
		return b
	}
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
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		}
	}
	return out
}

func needsEscape(b []byte) bool {
	for _, c := range b {
		if c == '/' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
