package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// FuzzParsePush feeds any webhook body (secucard_handle_event) or STOMP
// push body to ParsePush, the one parser of both. Properties:
//   - a refused body gets an InvalidArgument naming a field, and no card
//     number or secret of the body appears in it;
//   - an accepted body is a push event with a lower-case target, a type
//     and JSON data, whose envelope is JSON and parses back to the same
//     event (a webhook and a push of one event are one envelope);
//   - its {object,id} stubs, when it has them, name both.
//
// Seeds: testdata/fuzz/FuzzParsePush.
func FuzzParsePush(f *testing.F) {
	f.Add([]byte(`{"object":"event.pushes","id":"EPS_1","target":"smart.transactions","type":"changed","data":{"object":"smart.transactions","id":"STX_1"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParsePush(body)
		if err != nil {
			x := errs.As(err)
			if x.Kind != errs.InvalidArgument || x.Field == "" {
				t.Fatalf("%q: refused with %s (field %q): %v", body, x.Kind, x.Field, err)
			}
			if leak := testkit.Leak(testkit.ErrorText(err), string(body), testkit.SecretValues(body)...); leak != "" {
				t.Fatalf("%q: the error repeats %q: %s", body, leak, testkit.ErrorText(err))
			}
			return
		}
		if e.Kind != KindPush || e.Target == "" || e.Target != strings.ToLower(e.Target) || e.Type == "" || !json.Valid(e.Data) {
			t.Fatalf("%q: accepted as %+v", body, e)
		}
		env := e.JSON()
		if !json.Valid(env) {
			t.Fatalf("%q: the envelope %q is not JSON", body, env)
		}
		again, err := ParsePush(env)
		if err != nil {
			t.Fatalf("%q: the envelope %s does not parse back: %v", body, env, err)
		}
		if !reflect.DeepEqual(normal(again), normal(e)) {
			t.Fatalf("%q: the envelope %s parses back as %+v, not %+v", body, env, again, e)
		}
		if stubs, ok := e.Stubs(); ok {
			for _, s := range stubs {
				if s.Object == "" || s.ID == "" {
					t.Fatalf("%q: stub %+v", body, s)
				}
			}
		}
	})
}

// normal compares data by value, not by its spelling.
func normal(e Event) Event {
	var v any
	_ = json.Unmarshal(e.Data, &v)
	e.Data, _ = json.Marshal(v)
	return e
}
