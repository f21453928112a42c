package rest

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
)

const base = "https://connect.secucard.com/api/v2"

func intp(n int) *int { return &n }

func newURLChannel(t *testing.T, baseURL string) *Channel {
	t.Helper()
	ch, err := New(Config{BaseURL: baseURL, Language: "en", UserAgent: "t", MaxBodyBytes: MaxBodyBytes})
	require.NoError(t, err)
	return ch
}

// urlOf resolves req as the client does and asks the channel for its URL.
func urlOf(ch *Channel, req *api.Request) (*url.URL, error) {
	p, err := (&call.Settings{}).Resolve(req)
	if err != nil {
		return nil, err
	}
	return ch.URL(p)
}

func TestURLAndMethodMapping(t *testing.T) {
	ch := newURLChannel(t, base+"/") // trailing slash tolerated
	cases := []struct {
		name   string
		req    api.Request
		method string
		url    string
	}{
		{"get by id", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2"},
			"GET", base + "/smart/transactions/STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2"},
		{"list", api.Request{Resource: "smart.transactions", Op: api.List},
			"GET", base + "/smart/transactions"},
		{"get with action", api.Request{Resource: "payment.transactions", Op: api.Get, ID: "PCI_1", Action: "oldformat"},
			"GET", base + "/payment/transactions/PCI_1/oldFormat"},
		{"create, resource case folded", api.Request{Resource: "Smart.Transactions", Op: api.Create, Data: []byte(`{}`)},
			"POST", base + "/smart/transactions"},
		{"update", api.Request{Resource: "smart.transactions", Op: api.Update, ID: "STX_1", Data: []byte(`{}`)},
			"PUT", base + "/smart/transactions/STX_1"},
		{"update with action and me", api.Request{Resource: "general.accounts", Op: api.Update, ID: "me", Action: "location"},
			"PUT", base + "/general/accounts/me/location"},
		{"delete", api.Request{Resource: "payment.customers", Op: api.Delete, ID: "PCU_1"},
			"DELETE", base + "/payment/customers/PCU_1"},
		{"delete with action and arg", api.Request{Resource: "loyalty.cards", Op: api.Delete, ID: "9276004711001234", Action: "assignUser", Arg: "me"},
			"DELETE", base + "/loyalty/cards/9276004711001234/assignUser/me"},
		{"execute with arg", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"},
			"POST", base + "/smart/transactions/STX_1/start/demo"},
		{"execute without id, canonical action case", api.Request{Resource: "smart.transactions", Op: api.Execute, Action: "diagnosis"},
			"POST", base + "/smart/transactions/Diagnosis"},
		{"endofday canonical", api.Request{Resource: "smart.transactions", Op: api.Execute, Action: "ENDOFDAY"},
			"POST", base + "/smart/transactions/EndofDay"},
		{"unknown action kept as given", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "setDelivery"},
			"POST", base + "/smart/transactions/STX_1/setDelivery"},
		{"placeholder ids", api.Request{Resource: "general.accounts", Op: api.Execute, ID: "null", Action: "passwordreset", Arg: "kasse@example.com"},
			"POST", base + "/general/accounts/null/passwordreset/kasse@example.com"},
		{"not_set id and multi-segment arg", api.Request{Resource: "payment.transactions", Op: api.Get, ID: "not_set", Action: "crowdfundingdata", Arg: "MRC_1/extra"},
			"GET", base + "/payment/transactions/not_set/crowdfundingdata/MRC_1/extra"},
		{"custom app call", api.Request{Resource: "general.apps", Op: api.Execute, AppID: "APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG", Action: "getMerchantDetails"},
			"POST", base + "/General/Apps/APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG/callBackend/getMerchantDetails"},
		{"java ping through general.apps", api.Request{Resource: "general.apps", Op: api.Execute, ID: "APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG", Action: "callbackend", Arg: "ping"},
			"POST", base + "/general/apps/APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG/callBackend/ping"},
		{"odd id escaped", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "a%b;c&d=e"},
			"GET", base + "/smart/transactions/a%25b%3Bc&d=e"},
		{"non-ASCII id escaped", api.Request{Resource: "general.stores", Op: api.Get, ID: "Bäckerei"},
			"GET", base + "/general/stores/B%C3%A4ckerei"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := urlOf(ch, &tc.req)
			require.NoError(t, err)
			assert.Equal(t, tc.url, u.String())
			assert.Equal(t, tc.method, method(tc.req.Op))
		})
	}
}

func TestURLRejectsBadSegments(t *testing.T) {
	ch := newURLChannel(t, base)
	cases := []struct {
		name  string
		req   api.Request
		field string
	}{
		{"dot-dot id", api.Request{Resource: "smart.transactions", Op: api.Get, ID: ".."}, "id"},
		{"dot arg", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "a/."}, "arg"},
		{"slash in id", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "a/b"}, "id"},
		// Found by FuzzRequestURL: servers and proxies that take "\" for
		// "/" (IIS, some path normalisers) would read ..\ as a step up.
		{"backslash in id", api.Request{Resource: "smart.transactions", Op: api.Get, ID: `..\..\admin`}, "id"},
		{"backslash in action", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: `a\b`}, "action"},
		{"backslash in arg", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: `demo/..\x`}, "arg"},
		{"app call with id", api.Request{Resource: "general.apps", Op: api.Execute, AppID: "APP_1", ID: "x", Action: "a"}, "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := urlOf(ch, &tc.req)
			var e *errs.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, tc.field, e.Field)
		})
	}
}

func TestQueryEncoding(t *testing.T) {
	ch := newURLChannel(t, base)
	cases := []struct {
		name  string
		q     api.Query
		query string
	}{
		{"count zero is sent", api.Query{Count: intp(0)}, "count=0"},
		{"offset zero is not", api.Query{Count: intp(20), Offset: 0}, "count=20"},
		{"count and offset", api.Query{Count: intp(20), Offset: 40}, "count=20&offset=40"},
		{"fields joined", api.Query{Fields: []string{"id", "created", "basket_info.sum"}}, "fields=id%2Ccreated%2Cbasket_info.sum"},
		{"sort in order, brackets encoded", api.Query{Sort: []api.SortField{{Field: "created", Order: "DESC"}, {Field: "id", Order: "asc"}}},
			"sort%5Bcreated%5D=desc&sort%5Bid%5D=asc"},
		{"q encoded", api.Query{Q: "status:ok AND basket_info.sum:[100 TO 500]"}, "q=status%3Aok+AND+basket_info.sum%3A%5B100+TO+500%5D"},
		{"preset and geo", api.Query{Preset: "mine", Geo: &api.Geo{Field: "geometry", Lat: "51.1", Lon: "13.7", Distance: "5km"}},
			"preset=mine&geo%5Bfield%5D=geometry&geo%5Blat%5D=51.1&geo%5Blon%5D=13.7&geo%5Bdistance%5D=5km"},
		{"scroll_expire suppresses offset", api.Query{Count: intp(50), Offset: 100, ScrollExpire: "5m", Sort: []api.SortField{{Field: "id", Order: "asc"}}},
			"count=50&sort%5Bid%5D=asc&scroll_expire=5m"},
		{"scroll_id sends only scroll params and filters", api.Query{Count: intp(50), Offset: 100, Fields: []string{"id"},
			Sort: []api.SortField{{Field: "id", Order: "asc"}}, Q: "type:card", ScrollID: "c2Nyb2xs/+=", ScrollExpire: "5m"},
			"q=type%3Acard&scroll_expire=5m&scroll_id=c2Nyb2xs%2F%2B%3D"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			u, err := urlOf(ch, &api.Request{Resource: "smart.transactions", Op: api.List, Query: &q})
			require.NoError(t, err)
			assert.Equal(t, tc.query, u.RawQuery)
			assert.Equal(t, "/api/v2/smart/transactions", u.Path)
		})
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, raw := range []string{"", "connect.secucard.com/api/v2", "ftp://x/api", "https://x/api?a=b", "https://user:pw@x/api"} {
		t.Run(raw, func(t *testing.T) {
			_, err := New(Config{BaseURL: raw, Language: "en", UserAgent: "t", MaxBodyBytes: MaxBodyBytes})
			var e *errs.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, "rest_url", e.Field)
			assert.NotContains(t, e.Error(), "pw@")
		})
	}
}
