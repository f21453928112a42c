package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// names returns the "name" of every listed object, sorted, for set checks.
func names(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	data, _ := m["data"].([]any)
	for _, o := range data {
		out = append(out, str(o.(map[string]any)["name"]))
	}
	sort.Strings(out)
	return out
}

func TestQueryLanguage(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	people := []map[string]any{
		{"name": "Hans Meier", "customer": map[string]any{"name": "meier", "age": 35}, "amount": 500, "city": "Köln", "tags": []string{"a", "b"}},
		{"name": "Erika Mustermann", "customer": map[string]any{"name": "mustermann", "age": 55}, "amount": 1500, "city": "Berlin"},
		{"name": "Max Meyer", "customer": map[string]any{"name": "meyer", "age": 42}, "amount": 50, "city": "Bonn"},
		{"name": "Anna Schmidt", "customer": map[string]any{"name": "schmidt", "age": 28}, "amount": 2500, "city": "Berlin", "note": "VIP Kunde seit 2019"},
	}
	for _, p := range people {
		require.Equal(t, http.StatusOK, c.do("POST", "/api/v2/general/contacts", tok, p, nil).Status)
	}
	hans, erika, max, anna := "Hans Meier", "Erika Mustermann", "Max Meyer", "Anna Schmidt"
	cases := []struct {
		q    string
		want []string
	}{
		{"city:Berlin", []string{anna, erika}},
		{"city:berlin", []string{anna, erika}},
		{"customer.name:meier", []string{hans}},
		{"customer.name:me*er", []string{hans, max}},
		{"customer.name:me?er", []string{hans, max}},
		{"name:meier", []string{hans}},
		{"name:m*", []string{erika, hans, max}},
		{"customer.age:[30 TO 40]", []string{hans}},
		{"amount:[2000 TO *]", []string{anna}},
		{"amount:[* TO 500]", []string{hans, max}},
		{"amount:500", []string{hans}},
		{"name:[A TO F]", []string{anna, erika}},
		{"(NOT customer.name:meier*) AND (customer.age:[30 TO 40] OR customer.age:[50 TO 60])", []string{erika}},
		{"city:Berlin or city:Bonn", []string{anna, erika, max}},
		{"city:Berlin OR city:Bonn AND amount:50", []string{anna, erika, max}},
		{"(city:Berlin OR city:Bonn) AND amount:50", []string{max}},
		{"city:Berlin amount:[2000 TO *]", []string{anna}},
		{"city:Berlin and amount:[2000 TO *]", []string{anna}},
		{"NOT city:Berlin", []string{hans, max}},
		{"not city:Berlin AND NOT city:Bonn", []string{hans}},
		{`note:"VIP Kunde"`, []string{anna}},
		{`"vip kunde"`, []string{anna}},
		{"mustermann", []string{erika}},
		{"city:(Berlin OR Bonn)", []string{anna, erika, max}},
		{"tags:b", []string{hans}},
		{"city:Köln", []string{hans}},
		{"nosuchfield:x", nil},
		{"", []string{anna, erika, hans, max}},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			a := c.do("GET", "/api/v2/general/contacts?q="+url.QueryEscape(tc.q), tok, nil, nil)
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			m := a.JSON(t)
			assert.Equal(t, tc.want, names(t, m))
			assert.Equal(t, json.Number(fmt.Sprint(len(tc.want))), m["count"])
		})
	}
	syntaxErrors := []struct{ q, msg string }{
		{"city:Berlin AND", "expected a term"},
		{"(city:Berlin", `expected ")"`},
		{"city:Berlin)", `unexpected ")"`},
		{"amount:[1 TO]", "expected a range bound"},
		{"amount:[1 2]", "expected TO"},
		{"amount:[1 TO 2", `expected "]"`},
		{`note:"open`, "unterminated"},
		{":x", "missing field name"},
		{"[1 TO 2]", "a range needs a field"},
		{"a..b:x", "empty segment"},
		{"city:", "expected a value"},
	}
	for _, tc := range syntaxErrors {
		t.Run("error "+tc.q, func(t *testing.T) {
			a := c.do("GET", "/api/v2/general/contacts?q="+url.QueryEscape(tc.q), tok, nil, nil)
			assert.Equal(t, http.StatusBadRequest, a.Status)
			m := a.JSON(t)
			assert.Equal(t, "ProductFormatException", m["error"])
			assert.Contains(t, m["error_details"], "q: syntax error at position")
			assert.Contains(t, m["error_details"], tc.msg)
		})
	}
}

func TestPagingSortFieldsScroll(t *testing.T) {
	clock := testkit.NewClock()
	c := start(t, sandbox.Options{})
	c.s.SetClock(clock.Now)
	tok := c.token()
	list := func(query string) map[string]any {
		t.Helper()
		a := c.do("GET", "/api/v2/general/news?"+query, tok, nil, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		return a.JSON(t)
	}
	nums := func(m map[string]any) []int64 {
		var out []int64
		data, _ := m["data"].([]any)
		for _, o := range data {
			n, _ := o.(map[string]any)["n"].(json.Number).Int64()
			out = append(out, n)
		}
		return out
	}

	empty := c.do("GET", "/api/v2/general/news", tok, nil, nil)
	assert.Equal(t, `{"count":0,"data":null}`, string(empty.Raw), "empty lists carry data null, as recorded")

	for i := 1; i <= 25; i++ {
		a := c.do("POST", "/api/v2/general/news", tok, map[string]any{"n": i, "g": i % 3, "meta": map[string]any{"a": i, "b": "x"}}, nil)
		require.Equal(t, http.StatusOK, a.Status)
	}

	t.Run("default page", func(t *testing.T) {
		m := list("")
		assert.Equal(t, json.Number("25"), m["count"], "count is the total")
		assert.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nums(m))
		assert.NotContains(t, m, "scroll_id")
	})
	t.Run("count and offset", func(t *testing.T) {
		assert.Equal(t, []int64{21, 22, 23, 24, 25}, nums(list("offset=20")))
		assert.Equal(t, []int64{4, 5, 6}, nums(list("count=3&offset=3")))
		assert.Nil(t, list("offset=30")["data"])
		m := list("count=0")
		assert.Nil(t, m["data"])
		assert.Equal(t, json.Number("25"), m["count"])
	})
	t.Run("bad parameters", func(t *testing.T) {
		for q, field := range map[string]string{"count=abc": "count", "offset=-1": "offset", "sort[n]=up": "sort[n]", "scroll_expire=soon": "scroll_expire"} {
			a := c.do("GET", "/api/v2/general/news?"+q, tok, nil, nil)
			assert.Equal(t, http.StatusBadRequest, a.Status, q)
			assert.Contains(t, a.JSON(t)["error_details"], field, q)
		}
	})
	t.Run("sort", func(t *testing.T) {
		assert.Equal(t, []int64{25, 24, 23}, nums(list("count=3&sort[n]=desc")))
		assert.Equal(t, []int64{25, 24, 23}, nums(list("count=3&sort%5Bn%5D=DESC")), "percent-encoded brackets")
		assert.Equal(t, []int64{1, 2, 3}, nums(list("count=3&sort[n]=asc")))
		assert.Equal(t, []int64{24, 21, 18}, nums(list("count=3&sort[g]=asc&sort[n]=desc")), "first key has priority")
		assert.Equal(t, []int64{25, 24, 23}, nums(list("count=3&sort[n]=desc&sort[g]=asc")))
		assert.Equal(t, []int64{25, 24, 23}, nums(list("count=3&sort[meta.a]=desc")), "nested sort field")
		assert.Equal(t, []int64{24, 21, 18}, nums(list("count=3&sort=g:asc,n:desc")), "successor form")
	})
	t.Run("fields", func(t *testing.T) {
		m := list("count=1&fields=n&fields=meta.a")
		data := m["data"].([]any)
		require.Len(t, data, 1)
		obj := data[0].(map[string]any)
		assert.ElementsMatch(t, []string{"object", "id", "n", "meta"}, keys(obj), "object and id are always kept")
		assert.Equal(t, map[string]any{"a": json.Number("1")}, obj["meta"])
	})
	t.Run("q with paging", func(t *testing.T) {
		m := list("q=" + url.QueryEscape("g:0") + "&count=2&sort[n]=desc")
		assert.Equal(t, json.Number("8"), m["count"])
		assert.Equal(t, []int64{24, 21}, nums(m))
	})
	t.Run("scroll", func(t *testing.T) {
		m := list("scroll_expire=1m&count=10&sort[n]=desc&fields=n")
		id := str(m["scroll_id"])
		require.NotEmpty(t, id)
		assert.Equal(t, json.Number("25"), m["count"])
		assert.Equal(t, []int64{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}, nums(m))
		next := func() map[string]any { return list("scroll_id=" + id) }
		m = next()
		assert.Equal(t, []int64{15, 14, 13, 12, 11, 10, 9, 8, 7, 6}, nums(m))
		assert.Equal(t, id, m["scroll_id"])
		m = next()
		assert.Equal(t, []int64{5, 4, 3, 2, 1}, nums(m))
		assert.ElementsMatch(t, []string{"object", "id", "n"}, keys(m["data"].([]any)[0].(map[string]any)), "fields persist")
		m = next()
		assert.Nil(t, m["data"], "an exhausted scroll answers empty pages")
		assert.Equal(t, json.Number("25"), m["count"])

		clock.Advance(61 * time.Second)
		a := c.do("GET", "/api/v2/general/news?scroll_id="+id, tok, nil, nil)
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Contains(t, a.JSON(t)["error_details"], "scroll_id")
		a = c.do("GET", "/api/v2/general/news?scroll_id=nope", tok, nil, nil)
		assert.Equal(t, http.StatusBadRequest, a.Status)
	})
	t.Run("scroll is kept alive by use", func(t *testing.T) {
		m := list("scroll_expire=30s&count=5")
		id := str(m["scroll_id"])
		for i := 0; i < 4; i++ {
			clock.Advance(20 * time.Second)
			a := c.do("GET", "/api/v2/general/news?scroll_id="+id, tok, nil, nil)
			require.Equal(t, http.StatusOK, a.Status, "page %d: %s", i, a.Raw)
		}
	})
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDispatchDirect(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	ctx := t.Context()
	r := c.s.Dispatch(ctx, sandbox.DispatchRequest{Op: "get", Product: "smart", Resource: "idents", Token: tok, Query: url.Values{"count": {"2"}}})
	require.Equal(t, http.StatusOK, r.Status)
	assert.True(t, strings.HasPrefix(string(r.Body), `{"count":3,"data":[{"object":"smart.idents","id":"smi_1"`), "%s", r.Body)

	r = c.s.Dispatch(ctx, sandbox.DispatchRequest{Op: "exec", Product: "auth", Resource: "sessions", ID: "me", Action: "refresh", Token: tok})
	assert.Equal(t, `{"result":true}`, string(r.Body))

	r = c.s.Dispatch(ctx, sandbox.DispatchRequest{Op: "add", Product: "smart", Resource: "transactions", Token: tok,
		Body: json.RawMessage(`"{\"basket_info\":{\"sum\":100,\"currency\":\"EUR\"}}"`)})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Contains(t, string(r.Body), `"basket_info":{"currency":"EUR","sum":100}`, ".NET sends data as a JSON string")

	r = c.s.Dispatch(ctx, sandbox.DispatchRequest{Op: "exec", Product: "Smart", Resource: "Transactions", Action: "diagnosis", Token: tok, Body: json.RawMessage(`"smart.transactions"`)})
	assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	r = c.s.Dispatch(ctx, sandbox.DispatchRequest{Op: "bogus", Product: "smart", Resource: "idents", Token: tok})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	r = c.s.Dispatch(ctx, sandbox.DispatchRequest{Op: "get", Product: "smart", Resource: "idents"})
	assert.Equal(t, http.StatusUnauthorized, r.Status)
}
