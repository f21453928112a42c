package core

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// perEnvironment are the keys whose default depends on the environment
// (environments in config.go); the docs say "per environment" for them.
var perEnvironment = map[string]bool{
	"oauth_url": true, "rest_url": true,
	"stomp.enabled": true, "stomp.host": true, "stomp.port": true, "stomp.tls": true,
}

// objectKeys are documented as one object, not key by key.
var objectKeys = map[string]bool{"credentials": true}

// tableDefaults renders the defaults table as the docs write it: every leaf
// key of Config with its default as a JSON literal, or "" when it has none.
func tableDefaults() map[string]string {
	out := map[string]string{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := jsonName(f)
			key := join(path, name)
			fv := v.Field(i)
			switch {
			case objectKeys[key]:
				out[key] = ""
			case f.Type.Kind() == reflect.Struct:
				walk(fv, key)
			case fv.Kind() == reflect.Pointer && fv.IsNil():
				out[key] = ""
			case fv.Kind() == reflect.Bool:
				out[key] = strings.ToLower(strings.TrimSpace(jsonLiteral(fv.Interface())))
			case fv.IsZero():
				out[key] = ""
			default:
				out[key] = jsonLiteral(fv.Interface())
			}
		}
	}
	walk(reflect.ValueOf(defaults), "")
	return out
}

func jsonLiteral(v any) string {
	for reflect.ValueOf(v).Kind() == reflect.Pointer {
		v = reflect.ValueOf(v).Elem().Interface()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// readmeDefaults reads the README's config table: | `key` | default | ... |.
func readmeDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	text := string(b)
	start := strings.Index(text, "### Configuration")
	require.GreaterOrEqual(t, start, 0)
	end := strings.Index(text[start:], "\n### ")
	section := text[start : start+end]
	row := regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| ([^|]+) \\|")
	out := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		cell := strings.TrimSpace(m[2])
		switch {
		case cell == "—" || cell == "-":
			cell = ""
		case cell == "per environment":
		default:
			cell = strings.Trim(cell, "`")
		}
		out[m[1]] = cell
	}
	return out
}

// headerDefaults reads the key list of secucard_client_new in the header:
// key=value inside "section { ... }".
func headerDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../include/secucard.h")
	require.NoError(t, err)
	text := string(b)
	start := strings.Index(text, " * Keys (all optional")
	require.GreaterOrEqual(t, start, 0)
	end := strings.Index(text[start:], " * The credentials and a credential callback")
	require.Greater(t, end, 0)
	block := text[start : start+end]
	block = block[strings.Index(block, "):")+2:] // after the introduction
	block = strings.ReplaceAll(block, " * ", " ")
	perEnv := regexp.MustCompile(`\s*\(per environment\)`)
	block = perEnv.ReplaceAllString(block, "=@env")
	block = regexp.MustCompile(`\([^()]*\)`).ReplaceAllString(block, "") // value lists
	tok := regexp.MustCompile(`[a-z_]+(?:=(?:"[^"]*"|[^,{}\s.]+(?:\.[0-9]+)?))?|\{|\}`)
	out := map[string]string{}
	var stack []string
	last := ""
	for _, tk := range tok.FindAllString(block, -1) {
		switch tk {
		case "{":
			if section := strings.Join(append(append([]string{}, stack...), last), "."); !objectKeys[section] {
				delete(out, section) // a section, not a key
			}
			stack = append(stack, last)
		case "}":
			stack = stack[:len(stack)-1]
		default:
			name, val, _ := strings.Cut(tk, "=")
			last = name
			key := strings.Join(append(append([]string{}, stack...), name), ".")
			if len(stack) > 0 && objectKeys[stack[0]] {
				continue // the credentials' own keys have no defaults
			}
			if val == "@env" {
				val = "per environment"
			}
			out[key] = val
		}
	}
	// "stomp {enabled, host, port, tls (per environment)": the marker sits
	// after the last of the four.
	for _, k := range []string{"stomp.enabled", "stomp.host", "stomp.port"} {
		if _, ok := out[k]; ok && out["stomp.tls"] == "per environment" {
			out[k] = "per environment"
		}
	}
	return out
}

// TestDocumentedDefaults derives the defaults README.md and the header
// document from the text and compares them with the defaults table: a
// default changed in one place fails here until the others say the same.
func TestDocumentedDefaults(t *testing.T) {
	want := tableDefaults()
	for name, doc := range map[string]map[string]string{"README.md": readmeDefaults(t), "include/secucard.h": headerDefaults(t)} {
		t.Run(name, func(t *testing.T) {
			var missing []string
			for key, def := range want {
				got, ok := doc[key]
				if !ok {
					missing = append(missing, key)
					continue
				}
				switch {
				case perEnvironment[key]:
					assert.Equal(t, "per environment", got, key)
				default:
					assert.Equal(t, def, got, "%s: the table says %q", key, def)
				}
			}
			sort.Strings(missing)
			assert.Empty(t, missing, "keys %s does not list", name)
			for key := range doc {
				_, known := want[key]
				assert.True(t, known, "%s documents %q, which is not a config key", name, key)
			}
		})
	}
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
