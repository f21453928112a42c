package cardpointe_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/sandbox"
)

// A full run at trace level - tokenize, sales, declines, a lost answer, a
// failed Luhn check, a profile, errors - and nothing the library emits (log
// lines, error JSON) or returns carries a PAN, CVV, expiry or track data.
func TestNoCardDataInOutput(t *testing.T) {
	l := &logs{}
	e := start(t, setup{config: map[string]any{"log_level": "trace"}, opts: []core.Option{l.sink()}})
	const (
		cvv    = "7391"
		expiry = "0931"
		track  = "%B4788250000121443^MUSTERMANN/ERIKA^31091010000?"
		badPAN = "4111111111111112" // fails Luhn: not masked as a card number by its digits alone
	)
	// What the library emits (errors) and what it returns (results, which
	// may echo the expiry the host sent, as the Gateway does, spec §2.2).
	var emitted, results []string
	keep := func(v map[string]any, err *errs.Error) {
		if err != nil {
			b, _ := json.Marshal(err)
			emitted = append(emitted, string(b), err.Error())
		}
		if v != nil {
			b, _ := json.Marshal(v)
			results = append(results, string(b))
		}
	}
	m, err := e.call("tokenize", map[string]any{"account": visa, "expiry": expiry, "cvv": cvv})
	keep(m, err)
	for _, pan := range []string{visa, mcApproval, doNotHonor, badPAN} {
		m, err := e.call("auth", map[string]any{"account": pan, "expiry": expiry, "cvv2": cvv, "amount": 1000, "capture": true, "tokenize": true})
		keep(m, err)
	}
	m, err = e.call("auth", map[string]any{"track": track, "amount": 100})
	keep(m, err)
	e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterExecute}) // the next auth's answer is lost
	m, err = e.call("auth", map[string]any{"account": visa, "expiry": expiry, "cvv2": cvv, "amount": 100})
	keep(m, err)
	require.True(t, err == nil && m["recovered"] == true, "the lost answer was recovered: %v", err)
	m, err = e.call("profileCreate", map[string]any{"account": mcApproval, "expiry": expiry})
	keep(m, err)
	m, err = e.call("auth", map[string]any{"account": visa, "expiry": expiry, "cvv2": cvv, "amount": "1.00"})
	keep(m, err)
	m, err = e.call("tokenize", map[string]any{"account": badPAN, "cvv": cvv})
	keep(m, err)

	logText := l.text()
	require.Contains(t, logText, "request body", "trace lines were written")
	require.Contains(t, logText, "response body")
	all := logText + "\n" + strings.Join(emitted, "\n") + "\n" + strings.Join(results, "\n")
	logsAndErrors := logText + "\n" + strings.Join(emitted, "\n")
	for _, secret := range []string{visa, mcApproval, doNotHonor, badPAN, "4788250000121443", "MUSTERMANN"} {
		assert.NotContains(t, all, secret)
	}
	for _, pattern := range []string{`"cvv2?"\s*:\s*"` + cvv, `cvv2?=` + cvv, `"track"\s*:\s*"%B`} {
		assert.NotRegexp(t, regexp.MustCompile(pattern), all)
	}
	assert.False(t, standalone(cvv).MatchString(all), "the CVV appears nowhere")
	assert.False(t, standalone(expiry).MatchString(logsAndErrors), "the expiry is in no log line and no error")
}

// standalone matches a short secret (CVV, expiry) where a leak would put it:
// as a value of its own, not as four digits inside a random retref, token or
// orderid, which the Gateway draws from the same alphabet.
func standalone(secret string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^0-9A-Za-z])` + regexp.QuoteMeta(secret) + `($|[^0-9A-Za-z])`)
}

func TestStandaloneFindsALeakNotAnID(t *testing.T) {
	for _, leak := range []string{`{"cvv2":"7391"}`, `cvv2=7391&x`, "7391", `expiry 7391.`} {
		assert.True(t, standalone("7391").MatchString(leak), leak)
	}
	for _, id := range []string{`"retref":"173910000012"`, `"orderid":"LSC7391ABC"`, `"token":"9417391111111111"`} {
		assert.False(t, standalone("7391").MatchString(id), id)
	}
}
