package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
)

// decodeConfig decodes the host's config JSON. Before the strict decoder runs,
// the document is checked against Config's shape so that every error names the
// key as the host wrote it, with its section ("timeouts.bogus_ms"), says which
// JSON type was expected in the host's terms, and never repeats a value (a
// secret typed into the wrong key must not come back in an error or a log).
func decodeConfig(b []byte, c *Config) error {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) == nil {
			if err := checkShape(doc, reflect.TypeOf(Config{}), ""); err != nil {
				return err
			}
		}
	}
	// Syntax, trailing data and encoding problems are the strict decoder's.
	return strictjson.Decode(b, c, "config")
}

// checkShape walks a decoded JSON value against the Go type it will fill.
func checkShape(v any, t reflect.Type, path string) error {
	if v == nil {
		return nil // null: the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrongType(path, "an object", v)
		}
		for key, val := range obj {
			f, ok := fieldByKey(t, key)
			if !ok {
				return unknownKey(path, key)
			}
			if err := checkShape(val, f.Type, join(path, jsonName(f))); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrongType(path, "an object", v)
		}
		for key, val := range obj {
			if err := checkShape(val, t.Elem(), join(path, strictjson.EchoKey(key))); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrongType(path, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrongType(path, "true or false", v)
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			return wrongType(path, "a whole number", v)
		}
		if _, err := n.Int64(); err != nil || strings.ContainsAny(string(n), ".eE") {
			return errs.Invalid(path, "must be a whole number")
		}
		if i, _ := n.Int64(); i > 1<<31-1 || i < -(1<<31) {
			return errs.Invalid(path, "is out of range")
		}
	}
	return nil
}

// fieldByKey finds the field a JSON key fills, as encoding/json does: the
// exact tag first, then case-insensitively.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold reflect.StructField
	found := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" || name == "-" {
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

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func unknownKey(path, key string) error {
	where := "the config"
	if path != "" {
		where = path
	}
	return errs.Invalid(join(path, strictjson.EchoKey(key)), "is not a known key of %s", where)
}

// wrongType names the expected and the given JSON type, never the value.
func wrongType(path, want string, got any) error {
	if path == "" {
		path = "config"
	}
	return errs.Invalid(path, "must be %s, got %s", want, jsonKind(got))
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
