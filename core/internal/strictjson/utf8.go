package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/libsecucard/libsecucard/core/errs"
)

// CheckUTF8 refuses a JSON document (or any text) that is not valid UTF-8,
// naming where: the key path of the string that holds the bad bytes
// ("data.basket.products[0].desc"), prefixed with prefix, or what for the
// document as a whole. encoding/json would replace such bytes with U+FFFD and
// the server would store the replacement ("caf\xe9" would become "caf\uFFFD").
func CheckUTF8(data []byte, what, prefix string) error {
	bad := firstInvalid(data)
	if bad < 0 {
		return nil
	}
	where, inKey := locate(data, bad)
	field := join(prefix, where)
	if field == "" {
		field = what
	}
	if inKey {
		return errs.Invalid(field, "has a key that is not valid UTF-8 (byte %d of the %s)", bad, what)
	}
	return errs.Invalid(field, "is not valid UTF-8 text (byte %d of the %s): send UTF-8, or \\u escapes", bad, what)
}

// firstInvalid is the offset of the first byte that is not part of valid
// UTF-8, or -1.
func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// frame is one open object or array while locating a byte.
type frame struct {
	path      string
	object    bool
	expectKey bool
	key       string
	index     int
}

func (f *frame) child() string {
	if f.object {
		return join(f.path, echoKey(f.key))
	}
	return fmt.Sprintf("%s[%d]", f.path, f.index)
}

// locate walks the JSON tokens of data until the one that contains offset
// bad and returns its key path, and whether the bad bytes are in a key. Text
// that is not JSON is located as a whole ("").
func locate(data []byte, bad int) (path string, inKey bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return "", false
		}
		end := int(dec.InputOffset())
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].valueDone()
			}
			continue
		}
		if top != nil && top.object && top.expectKey {
			key, _ := tok.(string)
			if end > bad {
				return top.path, true
			}
			top.key, top.expectKey = key, false
			continue
		}
		here := ""
		if top != nil {
			here = top.child()
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{path: here, object: d == '{', expectKey: d == '{'})
			continue
		}
		if end > bad {
			return here, false
		}
		if top != nil {
			top.valueDone()
		}
	}
}

func (f *frame) valueDone() {
	if f.object {
		f.expectKey = true
	} else {
		f.index++
	}
}
