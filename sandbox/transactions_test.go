package sandbox_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox"
)

func basketBody(sum any, price any) map[string]any {
	return map[string]any{
		"merchantRef": "m-1", "transactionRef": "t-1",
		"basket_info": map[string]any{"sum": sum, "currency": "EUR"},
		"basket": map[string]any{"products": []any{
			map[string]any{"id": 1, "articleNumber": "3378", "ean": "5060215249804", "desc": "Brötchen", "quantity": 2, "priceOne": price, "tax": 7},
		}, "texts": []any{}},
		"idents": []any{map[string]any{"object": "smart.idents", "id": "smi_1", "type": "card", "value": sandbox.SeedCards[0].CardNumber}},
	}
}

// collector gathers events in delivery order.
type collector struct {
	mu  sync.Mutex
	evs []sandbox.Event
	ch  chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) add(ev sandbox.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// wait returns once n events arrived, failing after a generous deadline.
func (c *collector) wait(t *testing.T, n int) []sandbox.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.evs) >= n {
			out := append([]sandbox.Event(nil), c.evs...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("only %d of %d events arrived", len(c.evs), n)
		}
	}
}

func TestTransactionLifecycle(t *testing.T) {
	c := start(t, sandbox.Options{StartDelay: time.Millisecond})
	tok := c.token()
	events := newCollector()
	cancel := c.s.Subscribe(tok, events.add)
	defer cancel()

	a := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(504, 252), nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	tx := a.JSON(t)
	id := str(tx["id"])
	assert.Regexp(t, `^STX_[A-Z0-9]{30}$`, id)
	assert.Equal(t, "created", tx["status"])
	assert.Equal(t, "t-1", tx["transactionRef"])
	ident := tx["idents"].([]any)[0].(map[string]any)
	assert.Equal(t, "9276", ident["prefix"])
	assert.Equal(t, "secucard Kundenkarte", ident["name"])
	assert.Equal(t, true, ident["valid"], "a seeded card is valid")

	a = c.do("PUT", "/api/v2/smart/transactions/"+id, tok, map[string]any{"merchantRef": "m-2", "status": "ok"}, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	assert.Equal(t, "m-2", a.JSON(t)["merchantRef"])
	assert.Equal(t, "created", a.JSON(t)["status"], "status is not writable")

	a = c.do("POST", "/api/v2/smart/transactions/"+id+"/start/cash", tok, "", nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	final := a.JSON(t)
	assert.Equal(t, "ok", final["status"])
	assert.Equal(t, "cash", final["payment_method"])
	assert.Regexp(t, `^\d+$`, final["receipt_number"])
	for _, key := range []string{"receipt", "receipt_merchant"} {
		lines := final[key].([]any)
		require.NotEmpty(t, lines)
		types := map[string]bool{}
		for _, l := range lines {
			lm := l.(map[string]any)
			types[str(lm["type"])] = true
			switch lm["type"] {
			case "space":
				assert.NotContains(t, lm, "value")
			case "separator":
				assert.Contains(t, lm["value"], "caption")
			case "textline":
				assert.Contains(t, lm["value"], "text")
				assert.IsType(t, []any{}, lm["value"].(map[string]any)["decoration"])
			case "name-value":
				assert.Contains(t, lm["value"], "name")
				assert.Contains(t, lm["value"], "value")
			default:
				t.Errorf("unexpected receipt line type %v", lm["type"])
			}
		}
		assert.Len(t, types, 4, "all four line types appear")
	}
	assert.Contains(t, string(a.Raw), `"5,04 EUR"`)
	assert.Contains(t, string(a.Raw), `"align-center"`)

	// Everything the start published came before its answer; a marker
	// pushed now lands behind it, so no further start event can hide.
	c.s.Push(sandbox.Event{Target: "end.marker", Type: "end"})
	evs := events.wait(t, 4)
	require.Len(t, evs, 4)
	for _, ev := range evs[:3] {
		assert.Equal(t, "event.pushs", ev.Object)
		assert.Equal(t, "general.notifications", ev.Target)
		assert.Equal(t, "display", ev.Type)
		assert.Regexp(t, `^EPS_[A-Z0-9]{30}$`, ev.ID)
		assert.Regexp(t, stampRe, ev.Created)
		var d map[string]string
		require.NoError(t, json.Unmarshal(ev.Data, &d))
		assert.NotEmpty(t, d["text"])
	}
	assert.JSONEq(t, `{"text":"Betrag: 5,04 EUR"}`, string(evs[0].Data), "events arrive in order")
	assert.Equal(t, "end.marker", evs[3].Target,
		"a start pushes only the display events the real service sends (spec §5.3), no smart.transactions event")

	t.Run("no change after start", func(t *testing.T) {
		a := c.do("PUT", "/api/v2/smart/transactions/"+id, tok, map[string]any{"merchantRef": "x"}, nil)
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Equal(t, "ProductNotAllowedException", a.JSON(t)["error"])
		a = c.do("POST", "/api/v2/smart/transactions/"+id+"/start/cash", tok, "", nil)
		assert.Equal(t, http.StatusBadRequest, a.Status)
		assert.Contains(t, a.JSON(t)["error_details"], `status "ok"`)
	})
	t.Run("cancelTrx by receipt number", func(t *testing.T) {
		a := c.do("POST", "/api/v2/smart/transactions/"+str(final["receipt_number"])+"/cancelTrx", tok, `"smart.transactions"`, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, id, a.JSON(t)["id"])
		assert.Equal(t, "canceled", a.JSON(t)["status"])
		a = c.do("POST", "/api/v2/smart/transactions/999999/cancelTrx", tok, `"smart.transactions"`, nil)
		assert.Equal(t, http.StatusNotFound, a.Status)
	})
	t.Run("cancel", func(t *testing.T) {
		a := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(100, 50), nil)
		other := str(a.JSON(t)["id"])
		for i := 0; i < 2; i++ {
			a = c.do("POST", "/api/v2/smart/transactions/"+other+"/cancel", tok, `"smart.transactions"`, nil)
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			assert.Equal(t, "canceled", a.JSON(t)["status"], "cancel is repeatable")
		}
		a = c.do("POST", "/api/v2/smart/transactions/"+other+"/start/demo", tok, "", nil)
		assert.Equal(t, http.StatusBadRequest, a.Status)
	})
	t.Run("Diagnosis and EndofDay", func(t *testing.T) {
		a := c.do("POST", "/api/v2/smart/transactions/Diagnosis", tok, `"smart.transactions"`, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "smart.transactions", a.JSON(t)["object"])
		assert.NotEmpty(t, a.JSON(t)["receipt"])

		b := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(300, 150), nil)
		bid := str(b.JSON(t)["id"])
		require.Equal(t, http.StatusOK, c.do("POST", "/api/v2/smart/transactions/"+bid+"/start/cashless", tok, "", nil).Status)
		a = c.do("POST", "/api/v2/smart/transactions/endofday", tok, `"smart.transactions"`, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		raw := string(a.Raw)
		assert.Contains(t, raw, "Kassenschnitt")
		assert.Contains(t, raw, `"name":"Anzahl Zahlungen:","value":"1"`, "only ok payments since the last end of day count")
		assert.Contains(t, raw, `"3,00 EUR"`)
	})
	t.Run("preTransaction", func(t *testing.T) {
		b := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(2350, 1175), nil)
		a := c.do("POST", "/api/v2/smart/transactions/"+str(b.JSON(t)["id"])+"/preTransaction", tok, `"smart.transactions"`, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		m := a.JSON(t)
		assert.Equal(t, json.Number("650"), m["missing_sum"])
		assert.Len(t, m["bonus_products"], 2)
	})
}

func TestTransactionValidation(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"sum with cents as float", basketBody(5.04, 252), "basket_info.sum"},
		{"sum as string", basketBody("504", 252), "basket_info.sum"},
		{"price as string", basketBody(504, "2.52"), "basket.products[0].priceOne"},
		{"price as float", basketBody(504, 2.52), "basket.products[0].priceOne"},
		{"basket_info not an object", map[string]any{"basket_info": 5}, "basket_info"},
		{"products not an array", map[string]any{"basket": map[string]any{"products": "x"}}, "basket.products"},
		{"idents not an array", map[string]any{"idents": "smi_1"}, "idents"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := c.do("POST", "/api/v2/smart/transactions", tok, tc.body, nil)
			assert.Equal(t, http.StatusBadRequest, a.Status, "%s", a.Raw)
			m := a.JSON(t)
			assert.Equal(t, "ProductFormatException", m["error"])
			assert.True(t, strings.HasPrefix(str(m["error_details"]), tc.field+": "), "%v", m["error_details"])
		})
	}
	a := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(504, 252), nil)
	id := str(a.JSON(t)["id"])
	a = c.do("PUT", "/api/v2/smart/transactions/"+id, tok, map[string]any{"basket_info": map[string]any{"sum": 1.5}}, nil)
	assert.Equal(t, http.StatusBadRequest, a.Status, "updates are validated too")
	for _, path := range []string{id + "/start/bitcoin", id + "/start", "STX_NOPE/start/cash"} {
		a = c.do("POST", "/api/v2/smart/transactions/"+path, tok, "", nil)
		assert.Contains(t, []int{400, 404}, a.Status, path)
	}
	a = c.do("POST", "/api/v2/smart/transactions", tok, map[string]any{"idents": []any{map[string]any{"id": "smi_1", "value": "pdo28hdal"}}}, nil)
	assert.Equal(t, false, a.JSON(t)["idents"].([]any)[0].(map[string]any)["valid"], "an unknown card is not valid")
}

// demoOutcomes starts n demo payments and returns their statuses.
func demoOutcomes(t *testing.T, seed int64, n int) []string {
	c := start(t, sandbox.Options{Seed: seed, StartDelay: -1})
	tok := c.token()
	var out []string
	for i := 0; i < n; i++ {
		a := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(100, 50), nil)
		id := str(a.JSON(t)["id"])
		a = c.do("POST", "/api/v2/smart/transactions/"+id+"/start/demo", tok, "", nil)
		require.Equal(t, http.StatusOK, a.Status)
		m := a.JSON(t)
		out = append(out, str(m["status"]))
		if m["status"] == "failed" {
			assert.Contains(t, string(a.Raw), "Zahlung abgelehnt")
		}
	}
	return out
}

func TestDemoOutcomeIsSeeded(t *testing.T) {
	first := demoOutcomes(t, 7, 30)
	assert.Equal(t, first, demoOutcomes(t, 7, 30), "same seed, same outcomes")
	assert.Contains(t, first, "ok")
	assert.Contains(t, first, "failed")
}

func TestEventSubscriptions(t *testing.T) {
	c := start(t, sandbox.Options{StartDelay: -1})
	tok := c.token()
	all, mine, stranger := newCollector(), newCollector(), newCollector()
	defer c.s.Subscribe("", all.add)()
	defer c.s.Subscribe(tok, mine.add)()
	defer c.s.Subscribe("not-a-token", stranger.add)()

	a := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(100, 50), nil)
	require.Equal(t, http.StatusOK, c.do("POST", "/api/v2/smart/transactions/"+str(a.JSON(t)["id"])+"/start/loyalty", tok, "", nil).Status)
	assert.Len(t, all.wait(t, 3), 3, "the three display texts of a loyalty payment")
	assert.Len(t, mine.wait(t, 3), 3)

	// Push goes to everybody; the stranger's first event proves it saw none of the start events.
	c.s.Push(sandbox.Event{Target: "general.skeletons", Type: "DemoEvent", Data: json.RawMessage(`{"demo":"event"}`)})
	got := stranger.wait(t, 1)
	assert.Equal(t, "DemoEvent", got[0].Type)
	assert.Len(t, all.wait(t, 4), 4)

	a = c.do("POST", "/sandbox/events", "", map[string]any{"target": "general.notifications", "type": "display", "data": map[string]string{"text": "Hallo"}}, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	pushed := a.JSON(t)
	assert.Regexp(t, `^EPS_`, pushed["id"])
	got = stranger.wait(t, 2)
	assert.Equal(t, pushed["id"], got[1].ID)

	a = c.do("POST", "/sandbox/events", "", map[string]any{"type": "display"}, nil)
	assert.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "target", a.JSON(t)["field"])

	t.Run("cancel stops delivery", func(t *testing.T) {
		late := newCollector()
		stop := c.s.Subscribe("", late.add)
		c.s.Push(sandbox.Event{Target: "a.b", Type: "one"})
		late.wait(t, 1)
		stop()
		stop() // idempotent
		c.s.Push(sandbox.Event{Target: "a.b", Type: "two"})
		all.wait(t, 7) // "two" reached an active subscriber, so it was published
		late.mu.Lock()
		assert.Len(t, late.evs, 1)
		late.mu.Unlock()
	})
	t.Run("order per subscriber", func(t *testing.T) {
		ordered := newCollector()
		defer c.s.Subscribe("", ordered.add)()
		for i := 0; i < 200; i++ {
			c.s.Push(sandbox.Event{Target: "a.b", Type: "n", Data: json.RawMessage("1" + strconv.Itoa(i))})
		}
		evs := ordered.wait(t, 200)
		for i, ev := range evs {
			assert.Equal(t, "1"+strconv.Itoa(i), string(ev.Data))
		}
	})
}

func TestEventJSON(t *testing.T) {
	ev := sandbox.Event{Object: "event.pushs", ID: "EPS_6G685TPBRMVWA7YQA2KRKH95NVA244", Created: "2015-08-12T09:12:37+02:00",
		Target: "general.notifications", Type: "display", Data: json.RawMessage(`{"text": "DEMO Aktivität / mehr Text"}`)}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	assert.Equal(t, `{"object":"event.pushs","id":"EPS_6G685TPBRMVWA7YQA2KRKH95NVA244","created":"2015-08-12T09:12:37+02:00",`+
		`"target":"general.notifications","type":"display","data":{"text":"DEMO Aktivit\u00e4t \/ mehr Text"}}`, string(b))
	b, err = json.Marshal(sandbox.Event{Target: "x.y", Type: "z"})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"data":null`)
}
