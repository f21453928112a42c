package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/product"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// ccTokens is a minimal client_credentials TokenSource against the sandbox
// (core/auth is the real one); it counts the grants it ran.
type ccTokens struct {
	srv    *sandbox.Server
	mu     sync.Mutex
	tok    string
	grants int
}

func (c *ccTokens) Token(ctx context.Context, interactive bool) (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != "" {
		return &oauth2.Token{AccessToken: c.tok}, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.srv.ClientID()}, "client_secret": {c.srv.ClientSecret()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.srv.URL()+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.AccessToken == "" {
		return nil, fmt.Errorf("token request failed: HTTP %d", resp.StatusCode)
	}
	c.tok = body.AccessToken
	c.grants++
	return &oauth2.Token{AccessToken: c.tok}, nil
}

func (c *ccTokens) Invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == tok {
		c.tok = ""
	}
}

func startSandbox(t *testing.T, mod func(*testConfig)) (*sandbox.Server, *testChannel, *ccTokens) {
	t.Helper()
	srv := testkit.Sandbox(t, sandbox.Options{StartDelay: -1, Seed: 7})
	tokens := &ccTokens{srv: srv}
	ch := newChannelFor(t, srv.URL(), nil, func(c *testConfig) {
		c.Tokens = tokens
		if mod != nil {
			mod(c)
		}
	})
	return srv, ch, tokens
}

// apiRecords are the sandbox's records of /api/v2 calls (token calls left out).
func apiRecords(srv *sandbox.Server) []sandbox.RequestRecord {
	var out []sandbox.RequestRecord
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/api/v2/") {
			out = append(out, r)
		}
	}
	return out
}

func TestSandboxPOSFlow(t *testing.T) {
	_, ch, _ := startSandbox(t, nil)
	ctx := context.Background()

	idents, err := product.NewSmartIdents(ch).List(ctx)
	require.NoError(t, err)
	require.Len(t, idents, 3)
	assert.Equal(t, "9276", idents[0].Prefix)

	txs := product.NewSmartTransactions(ch)
	created, err := txs.Create(ctx, &product.SmartTransaction{
		MerchantRef: "Kasse 3", TransactionRef: "Bon 4711",
		Basket: &product.Basket{Products: []product.Product{
			{ID: 1, ArticleNumber: "3489", Desc: "Kaffee Crema", Quantity: 2, PriceOne: 199, Tax: 19},
			{ID: 2, Parent: new(1), Desc: "Hafermilch", Quantity: 1, PriceOne: 30, Tax: 7},
		}},
		BasketInfo: &product.BasketInfo{Sum: 428, Currency: "EUR"},
		Idents:     []product.Ident{{Type: "card", Value: "9276004711001234"}},
	})
	require.NoError(t, err)
	assert.Equal(t, "created", created.Status)
	assert.True(t, strings.HasPrefix(created.ID, "STX_"), created.ID)

	got, err := txs.Get(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(428), got.BasketInfo.Sum)

	done, err := txs.Start(ctx, created.ID, "cash")
	require.NoError(t, err)
	assert.Equal(t, "ok", done.Status)
	require.NotEmpty(t, done.Receipt)
	assert.NotEmpty(t, done.ReceiptNumber)
	text := product.FormatReceipt(done.Receipt, 32)
	assert.Contains(t, text, "4,28")
	for _, l := range strings.Split(text, "\n") {
		assert.LessOrEqual(t, len([]rune(l)), 32)
	}
}

func TestSandboxGetRetriedThrough503(t *testing.T) {
	srv, ch, _ := startSandbox(t, nil)
	srv.AddFault(sandbox.Fault{Path: "/smart/idents", Method: "GET", Status: 503, Count: 2})
	out, err := ch.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List})
	require.NoError(t, err)
	var page api.Page
	require.NoError(t, json.Unmarshal(out, &page))
	assert.Equal(t, 3, page.Count)
	var statuses []int
	for _, r := range apiRecords(srv) {
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []int{503, 503, 200}, statuses)
}

func TestSandboxCreateRetriedWithXActionAfterDroppedConnection(t *testing.T) {
	srv, ch, _ := startSandbox(t, nil)
	// The server reads the whole request, then the connection dies.
	srv.AddFault(sandbox.Fault{Path: "/smart/transactions", Method: "POST", Drop: sandbox.DropAfterRead, Count: 1})
	ctx := context.Background()
	tx, err := product.NewSmartTransactions(ch).Create(ctx, &product.SmartTransaction{
		BasketInfo: &product.BasketInfo{Sum: 100, Currency: "EUR"},
		Basket:     &product.Basket{Products: []product.Product{{ID: 1, Desc: "Brötchen", Quantity: 1, PriceOne: 100, Tax: 7}}},
	})
	require.NoError(t, err)
	recs := apiRecords(srv)
	require.Len(t, recs, 2)
	assert.NotEmpty(t, recs[0].XAction)
	assert.Equal(t, recs[0].XAction, recs[1].XAction, "the retry carries the same X-Action")

	list, err := product.NewTyped[product.SmartTransaction](ch, "smart.transactions").List(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 1, list.Count, "one transaction, not two")
	assert.Equal(t, tx.ID, list.Data[0].ID)
}

func TestSandboxCreateWithoutXActionNotRetriedAfterDrop(t *testing.T) {
	srv, ch, _ := startSandbox(t, func(c *testConfig) { c.Idempotency = false })
	srv.AddFault(sandbox.Fault{Path: "/smart/transactions", Method: "POST", Drop: sandbox.DropAfterRead, Count: 1})
	_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{"basket_info":{"sum":1,"currency":"EUR"}}`)})
	e := asErr(t, err)
	assert.Equal(t, errs.Network, e.Kind)
	assert.False(t, e.Retryable)
	assert.Len(t, apiRecords(srv), 1)
}

func TestSandboxRetryAfterOn429(t *testing.T) {
	var mu sync.Mutex
	var waits []time.Duration
	srv, ch, _ := startSandbox(t, func(c *testConfig) {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return nil
		}
	})
	srv.AddFault(sandbox.Fault{Path: "/smart/checkins", Status: 429, RetryAfter: 1, Count: 1})
	_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.checkins", Op: api.List})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, waits, 1)
	assert.GreaterOrEqual(t, waits[0], time.Second)
}

func TestSandboxExpiredTokenIsReplacedOnce(t *testing.T) {
	srv, ch, tokens := startSandbox(t, nil)
	ctx := context.Background()
	_, err := ch.Do(ctx, &api.Request{Resource: "smart.idents", Op: api.List})
	require.NoError(t, err)
	srv.ExpireTokens()
	_, err = ch.Do(ctx, &api.Request{Resource: "smart.idents", Op: api.List})
	require.NoError(t, err)
	assert.Equal(t, 2, tokens.grants)
	var statuses []int
	for _, r := range apiRecords(srv) {
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []int{200, 401, 200}, statuses)
}

func TestSandboxErrorEnvelope(t *testing.T) {
	_, ch, _ := startSandbox(t, func(c *testConfig) { c.Language = "de" })
	_, err := product.NewSmartTransactions(ch).Get(context.Background(), "STX_DOESNOTEXIST0000000000000000")
	e := asErr(t, err)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, "ProductNotFoundException", e.ErrorName)
	assert.NotEmpty(t, e.SupportID)
	assert.NotEmpty(t, e.Code)
	assert.NotEmpty(t, e.Message)
	assert.Equal(t, "smart.transactions.get", e.Op)
}

func TestSandboxIteratorPaging(t *testing.T) {
	_, ch, _ := startSandbox(t, nil)
	ctx := context.Background()
	customers := product.NewPaymentCustomers(ch)
	want := map[string]bool{}
	for i := 0; i < 12; i++ {
		c, err := customers.Create(ctx, &product.PaymentCustomer{MerchantCustomerID: fmt.Sprintf("it-%02d", i)})
		require.NoError(t, err)
		want[c.ID] = true
	}
	for _, q := range []*api.Query{{Count: new(5)}, {Count: new(5), ScrollExpire: "1m"}} {
		t.Run(fmt.Sprintf("scroll=%v", q.ScrollExpire != ""), func(t *testing.T) {
			it := call.NewIterator(ch, &api.Request{Resource: "payment.customers", Op: api.List, Query: q})
			got := map[string]bool{}
			for it.Next(ctx) {
				var c product.PaymentCustomer
				require.NoError(t, json.Unmarshal(it.Item(), &c))
				assert.False(t, got[c.ID], "no item twice")
				got[c.ID] = true
			}
			require.NoError(t, it.Err())
			assert.GreaterOrEqual(t, it.Total(), 12)
			for id := range want {
				assert.True(t, got[id], "missing %s", id)
			}
		})
	}
}

// The iterator pages over the HTTP channel with offset paging.
func TestIteratorOverTheHTTPChannel(t *testing.T) {
	const total = 15
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		var items []string
		for i := offset; i < total && i < offset+count; i++ {
			items = append(items, fmt.Sprintf(`{"id":"it%d"}`, i))
		}
		writeJSON(w, 200, fmt.Sprintf(`{"count":%d,"data":[%s]}`, total, strings.Join(items, ",")))
	})
	ch := newTestChannel(t, srv, nil)
	it := call.NewIterator(ch, &api.Request{Resource: "smart.idents", Op: api.List, Query: &api.Query{Count: intp(7)}})
	got := drain(t, it)
	require.NoError(t, it.Err())
	require.Len(t, got, total)
	assert.Equal(t, "it0", got[0])
	assert.Equal(t, "it14", got[14])
	seen := srv.seen()
	require.Len(t, seen, 3)
	assert.Equal(t, "count=7", seen[0].RawQuery)
	assert.Equal(t, "count=7&offset=7", seen[1].RawQuery)
	assert.Equal(t, "count=7&offset=14", seen[2].RawQuery)
}

// drain collects the ids an iterator yields.
func drain(t *testing.T, it *call.Iterator) []string {
	t.Helper()
	var out []string
	for it.Next(context.Background()) {
		var o struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(it.Item(), &o))
		out = append(out, o.ID)
	}
	return out
}
