// Package strictjson decodes host-supplied JSON (config, requests) so that an
// unknown key, an ill-typed value or trailing garbage becomes an
// errs.InvalidArgument naming the offending key with its full path.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/libsecucard/libsecucard/core/errs"
)

// Decode unmarshals data into v, rejecting unknown fields. prefix is prepended
// to field paths in errors ("stomp." for a nested section, "" at top level).
func Decode(data []byte, v any, what string) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return errs.Invalid(what, "is empty; expected a JSON object")
	}
	if trimmed[0] != '{' {
		return errs.Invalid(what, "must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return translate(err, what)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.Invalid(what, "has trailing data after the JSON object")
	}
	return nil
}

func translate(err error, what string) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var e *errs.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = what
		}
		return errs.Invalid(field, "must be %s, got JSON %s", describe(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return errs.Invalid(what, "is not valid JSON (at byte %d): %s", syntaxErr.Offset, syntaxErr.Error())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimSuffix(strings.TrimPrefix(err.Error(), `json: unknown field "`), `"`)
		return errs.Invalid(EchoKey(name), "is not a known key of %s", what)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return errs.Invalid(what, "is truncated JSON")
	}
	return errs.Invalid(what, "cannot be decoded: %s", err.Error())
}

// maxKeyEcho bounds a key name repeated in an error: a 10 MB key must not
// make a 20 MB error JSON.
const maxKeyEcho = 64

// EchoKey is a key the host wrote, made safe and useful to repeat in an
// error's field: cut to maxKeyEcho characters, the empty key written as
// `""` so the error still names it (errs.Invalid redacts what remains).
func EchoKey(key string) string {
	switch {
	case key == "":
		return `""`
	case !utf8.ValidString(key):
		return "(a key that is not valid UTF-8)"
	case utf8.RuneCountInString(key) > maxKeyEcho:
		return string([]rune(key)[:maxKeyEcho]) + "…"
	}
	return key
}

func describe(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), goType == "json.Number":
		return "a number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	}
	return fmt.Sprintf("of type %s", goType)
}
