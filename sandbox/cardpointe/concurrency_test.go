package cardpointe_test

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// TestConcurrentClients runs many tills at once against one sandbox while
// batches settle, then checks that every transaction ended in a state its
// history allows and the batches add up. Run with -race.
func TestConcurrentClients(t *testing.T) {
	g := newGW(t, cardpointe.Options{Now: fixedNow})
	const workers, rounds = 8, 15
	type outcome struct{ retref, orderid, want string }
	results := make(chan outcome, workers*rounds)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				orderid := fmt.Sprintf("W%d-%d", w, i)
				a := g.auth(visa, "1.00", map[string]any{"orderid": orderid})
				retref := a["retref"].(string)
				switch i % 3 {
				case 0: // void before capture
					requireCode(t, g.put("void", map[string]any{"retref": retref}), "A", "FNOR", "00")
					results <- outcome{retref, orderid, "Voided"}
				case 1: // capture; a settle may or may not have run since
					requireCode(t, g.put("capture", map[string]any{"retref": retref}), "A", "FNOR", "00")
					results <- outcome{retref, orderid, "captured"}
				default:
					g.put("profile", map[string]any{"account": visa, "name": orderid})
					g.get("inquireByOrderid/" + orderid + "/" + mid)
					results <- outcome{retref, orderid, "Authorized"}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // settles and reports meanwhile
		defer wg.Done()
		for range 10 {
			g.settle()
			g.do(http.MethodGet, "/cardconnect/rest/settlestat?merchid="+mid, nil)
			g.do(http.MethodGet, "/cardconnect/rest/funding?merchid="+mid, nil)
		}
	}()
	wg.Wait()
	close(results)
	g.settle()

	n := 0
	for o := range results {
		n++
		inq := g.inquire(o.retref)
		switch o.want {
		case "captured":
			assert.Equal(t, "Accepted", inq["setlstat"], o.orderid)
		default:
			assert.Equal(t, o.want, inq["setlstat"], o.orderid)
		}
	}
	require.Equal(t, workers*rounds, n)
	// Every settled sale was funded exactly once.
	f := g.get("funding?merchid=" + mid + "&date=1207").object(t)
	assert.Len(t, f["txns"], workers*rounds/3)
}

// TestLogNeverCarriesCardData runs every operation with card numbers, CVVs
// and tokens, then checks the sandbox's log (the -v log of the program).
func TestLogNeverCarriesCardData(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	g := newGW(t, cardpointe.Options{Log: log.New(lockedWriter{&mu, &buf}, "", 0), Password: "s3cret-pass"})
	pans := []string{visa, "5454545454545454", "371449635398431", "4999006200620062", "4387751111111038"}
	const cvv = "7391"
	var tokens []string
	for _, pan := range pans {
		tok := g.tokenize(map[string]any{"account": pan, "cvv": cvv, "expiry": "1230"})["token"].(string)
		tokens = append(tokens, tok)
		a := g.auth(pan, "12.00", map[string]any{"cvv2": cvv, "capture": "Y", "profile": "Y", "orderid": "L-" + pan[:4]})
		g.auth(tok, "1.00", map[string]any{"cvv2": cvv})
		if a["respstat"] == "A" {
			g.put("void", map[string]any{"retref": a["retref"], "amount": "1.00"})
		}
	}
	sale := g.auth(visa, "30.00", map[string]any{"capture": "Y", "cvv2": cvv})
	g.settle()
	g.put("refund", map[string]any{"retref": sale["retref"], "amount": "5.00"})
	p := g.put("profile", map[string]any{"account": "6011000995500000", "cvv2": cvv})
	g.do(http.MethodDelete, "/cardconnect/rest/profile/"+p["profileid"].(string)+"//"+mid, nil)

	mu.Lock()
	logged := buf.String()
	mu.Unlock()
	require.NotEmpty(t, logged, "the log must have lines for this test to mean anything")
	for _, pan := range pans {
		assert.NotContains(t, logged, pan)
		assert.Contains(t, logged, pan[:2]+strings.Repeat("X", len(pan)-6)+pan[len(pan)-4:], "masked form is logged")
	}
	for _, tok := range tokens {
		assert.NotContains(t, logged, tok)
	}
	assert.NotContains(t, logged, "s3cret-pass")
	// A CVV is four digits: look for it as a value, not inside retrefs.
	for _, field := range regexp.MustCompile(`[=\s]([0-9]{3,4})(\s|$)`).FindAllStringSubmatch(logged, -1) {
		assert.NotEqual(t, cvv, field[1])
	}
	assert.NotContains(t, strings.ToLower(logged), "cvv")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
