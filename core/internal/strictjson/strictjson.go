// Package strictjson decodes host-supplied JSON (config, requests,
// credentials) so that every mistake becomes an errs.InvalidArgument that a
// payment engineer can act on: it names the key as the host wrote it, with
// its section ("timeouts.bogus_ms", "query"), says what JSON was expected in
// JSON's terms ("must be a whole number, got a string"), never shows Go
// internals ("cannot unmarshal ... into Go struct field"), never repeats a
// value (a secret typed into the wrong key must not come back in an error or
// a log), and never echoes more than a short piece of a key (a 10 MB key must
// not make a 20 MB error JSON). Text that is not valid UTF-8 is refused,
// naming where it is: encoding/json would silently turn it into U+FFFD and
// send that to the server.
//
// The document is first decoded into plain JSON values and checked against
// the shape of the Go type it will fill (checkShape); only then does the
// strict decoder fill it. Types with their own UnmarshalJSON (a query's
// friendly forms, raw request bodies) are checked by that method.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/redact"
)

// maxKeyEcho bounds a key repeated in an error (in runes).
const maxKeyEcho = 64

// Decode unmarshals the JSON object data into v (a pointer to a struct).
// Keys are named from the document's root ("stomp.port"); what names the
// document itself in errors about it as a whole ("config", "request").
//
// An error never echoes a secret of data: besides the patterns every message
// passes, the values of data's secret-bearing keys are masked wherever the
// message would repeat them.
func Decode(data []byte, v any, what string) error {
	return DecodeAt(data, v, what, "")
}

// DecodeAt is Decode for a document that is a section of a larger one:
// prefix is prepended to every key path ("credentials" gives
// "credentials.password").
func DecodeAt(data []byte, v any, what, prefix string) error {
	if err := decode(data, v, what, prefix); err != nil {
		return errs.Redact(err, redact.ForJSON(data))
	}
	return nil
}

func decode(data []byte, v any, what, prefix string) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return errs.Invalid(what, "is empty; expected a JSON object")
	}
	if trimmed[0] != '{' {
		return errs.Invalid(what, "must be a JSON object%s", gotKind(trimmed[0]))
	}
	if err := CheckUTF8(trimmed, what, prefix); err != nil {
		return err
	}
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return errs.New(errs.Internal, "strictjson", "Decode needs a pointer, got %T", v)
	}
	// Most documents are right, and the strict decoder alone accepts exactly
	// those the shape check and the strict decoder accept together, once
	// fitsCInt adds the one rule the decoder lacks (an int is a C int). So a
	// document is decoded once; only one the decoder refuses is decoded
	// again, generically, for the shape check that names the mistake. (A
	// request is parsed on every C ABI call: three passes cost ~10 µs.)
	if decodeStrict(trimmed, v) == nil && fitsCInt(reflect.ValueOf(v).Elem()) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return syntax(err, what)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.Invalid(what, "has trailing data after the JSON object")
	}
	sh := shape{what: what}
	if err := sh.check(doc, t.Elem(), prefix); err != nil {
		return err
	}
	if err := decodeStrict(trimmed, v); err != nil {
		return translate(err, what, prefix)
	}
	return nil
}

var errTrailing = errors.New("trailing data")

// decodeStrict decodes data into v refusing unknown keys, numbers kept exact,
// nothing after the value.
func decodeStrict(data []byte, v any) error {
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	strict.UseNumber()
	if err := strict.Decode(v); err != nil {
		return err
	}
	if _, err := strict.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

// fitsCInt reports whether every int reachable in v, where the shape check
// would look (not inside a type with its own UnmarshalJSON), fits a C int:
// the range check wholeNumber makes and the decoder does not.
func fitsCInt(v reflect.Value) bool {
	t := v.Type()
	if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return true
	}
	switch v.Kind() {
	case reflect.Int:
		return v.Int() >= math.MinInt32 && v.Int() <= math.MaxInt32
	case reflect.Pointer:
		return v.IsNil() || fitsCInt(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !fitsCInt(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if !fitsCInt(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if !fitsCInt(it.Value()) {
				return false
			}
		}
	}
	return true
}

// gotKind names the JSON type a value starting with c has, for "got ...".
func gotKind(c byte) string {
	switch {
	case c == '"':
		return ", got a string"
	case c == '[':
		return ", got an array"
	case c == 't' || c == 'f':
		return ", got true/false"
	case c == 'n':
		return ", got null"
	case c == '-' || c >= '0' && c <= '9':
		return ", got a number"
	}
	return ""
}

// syntax reports JSON that does not parse, by position.
func syntax(err error, what string) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		msg := strings.TrimPrefix(se.Error(), "json: ")
		return errs.Invalid(what, "is not valid JSON (at byte %d: %s)", se.Offset, msg)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errs.Invalid(what, "is truncated JSON")
	}
	return errs.Invalid(what, "is not valid JSON")
}

// translate is the fallback for what the shape check let through: an error
// of a type's own UnmarshalJSON (already an *errs.Error, passed on), or
// anything the strict decoder still finds.
func translate(err error, what, prefix string) error {
	var e *errs.Error
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &typeErr):
		field := join(prefix, typeErr.Field)
		if field == "" {
			field = what
		}
		return errs.Invalid(field, "must be %s", describe(typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Invalid(join(prefix, echoKey(name)), "is not a known key")
	}
	return syntax(err, what)
}

var unmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// shape checks a decoded document against a Go type.
type shape struct{ what string }

func (sh shape) check(v any, t reflect.Type, path string) error {
	if v == nil {
		return nil // null: the zero value, which means "default"
	}
	if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil // its own UnmarshalJSON knows its forms and names its errors
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return sh.wrongType(path, "an object", v)
		}
		for key, val := range obj {
			f, ok := fieldByKey(t, key)
			if !ok {
				where := path
				if where == "" {
					where = "the " + sh.what
				}
				return errs.Invalid(join(path, echoKey(key)), "is not a known key of %s", where)
			}
			if err := sh.check(val, f.Type, join(path, jsonName(f))); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return sh.wrongType(path, "an object", v)
		}
		for key, val := range obj {
			if err := sh.check(val, t.Elem(), join(path, echoKey(key))); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return sh.wrongType(path, "an array", v)
		}
		for i, val := range arr {
			if err := sh.check(val, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return sh.wrongType(path, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return sh.wrongType(path, "true or false", v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return sh.wholeNumber(v, t, path)
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			return sh.wrongType(path, "a number", v)
		}
	}
	return nil
}

// wholeNumber checks an integer field: a JSON number without fraction or
// exponent, within the range of the field (int is a C int: 32 bits).
func (sh shape) wholeNumber(v any, t reflect.Type, path string) error {
	n, ok := v.(json.Number)
	if !ok {
		return sh.wrongType(path, "a whole number", v)
	}
	if strings.ContainsAny(string(n), ".eE") {
		return errs.Invalid(sh.name(path), "must be a whole number")
	}
	i, err := n.Int64()
	if err != nil {
		return errs.Invalid(sh.name(path), "is out of range")
	}
	bits := t.Bits()
	if t.Kind() == reflect.Int {
		bits = 32
	}
	unsigned := t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64
	switch {
	case unsigned && i < 0:
		return errs.Invalid(sh.name(path), "must not be negative")
	case !unsigned && bits < 64 && (i > 1<<(bits-1)-1 || i < -(1<<(bits-1))):
		return errs.Invalid(sh.name(path), "is out of range")
	case unsigned && bits < 64 && i > 1<<bits-1:
		return errs.Invalid(sh.name(path), "is out of range")
	}
	return nil
}

func (sh shape) name(path string) string {
	if path == "" {
		return sh.what
	}
	return path
}

// wrongType names the expected and the given JSON type, never the value.
func (sh shape) wrongType(path, want string, got any) error {
	return errs.Invalid(sh.name(path), "must be %s, got %s", want, jsonKind(got))
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "true/false"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "null"
}

// describe names what a Go type takes, in JSON's terms.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value"
}

// fieldByKey finds the field a JSON key fills, as encoding/json does: the
// exact name first, then case-insensitively; untagged fields go by their Go
// name and embedded structs lend theirs.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold reflect.StructField
	found := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if ef, ok := fieldByKey(et, key); ok {
					return ef, true
				}
				continue
			}
		}
		name := jsonName(f)
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == key {
			return f, true
		}
		if !found && strings.EqualFold(name, key) {
			fold, found = f, true
		}
	}
	return fold, found
}

// jsonName is the key a field takes: its tag's name, else its Go name.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	case key[0] == '[':
		return path + key // an array index: "receipt[0]"
	}
	return path + "." + key
}

// echoKey is a key the host wrote, made safe and useful to repeat: cut to
// maxKeyEcho runes (errs.Invalid redacts what remains), and the empty key
// written as `""`, so the error still names it.
func echoKey(key string) string {
	if key == "" {
		return `""`
	}
	if !utf8.ValidString(key) {
		return "(a key that is not valid UTF-8)"
	}
	if utf8.RuneCountInString(key) > maxKeyEcho {
		return string([]rune(key)[:maxKeyEcho]) + "…"
	}
	return key
}
