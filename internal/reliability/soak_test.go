//go:build soak

package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
)

var (
	soakFor     = flag.Duration("soak", time.Minute, "how long the soak runs (make soak SOAK=10m)")
	sandboxPath = flag.String("sandbox", "", "the secucard-sandbox binary (make soak passes build/<os>-<arch>/secucard-sandbox)")
)

const (
	callers   = 8
	callMS    = 2000 // each call's deadline
	pushEvery = 20 * time.Millisecond
	// callEvery paces each caller (20 calls a second at most): a busy till
	// is far slower, and unbounded callers would grow the sandbox's store
	// by hundreds of thousands of transactions in a 10-minute run.
	callEvery = 50 * time.Millisecond
)

// TestSoak runs 8 callers, a push stream and random faults against a
// sandbox process for -soak, then checks the invariants of the fault
// matrix over everything that happened, that the heap (after GC) stayed
// flat over the second half, and that closing the client leaves no
// goroutine behind. It prints its figures. The sandbox is a process of its
// own so that the heap measured is the client's (and the test's small
// bookkeeping), not the sandbox's growing store.
func TestSoak(t *testing.T) {
	if *sandboxPath == "" {
		t.Fatal("-sandbox must name the secucard-sandbox binary; run `make soak`, which builds it")
	}
	watchdog := time.AfterFunc(*soakFor+5*time.Minute, func() {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		fmt.Fprintf(os.Stderr, "soak: still running 5 minutes after its end; goroutines:\n%s", buf[:n])
		os.Exit(2)
	})
	defer watchdog.Stop()

	sb := startSandboxProcess(t)
	goroutinesBefore := runtime.NumGoroutine()
	s := &soak{t: t, sb: sb, deadline: time.Now().Add(*soakFor), rng: rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))}
	s.client = s.newClient()
	if err := s.client.Open(contextFor(t)); err != nil {
		t.Fatalf("open: %v", err)
	}

	var wg sync.WaitGroup
	for i := range callers {
		s.ops[i] = &callerLog{}
		wg.Add(1)
		go func() { defer wg.Done(); s.caller(i) }()
	}
	wg.Add(2)
	go func() { defer wg.Done(); s.pusher() }()
	go func() { defer wg.Done(); s.faulter() }()

	// The heap after GC, sampled: warm-up ends at a tenth of the run.
	start := time.Now()
	var samples []heapSample
	tick := time.NewTicker(max(*soakFor/20, time.Second))
	for time.Now().Before(s.deadline) {
		<-tick.C
		samples = append(samples, heapSample{time.Since(start), liveHeap()})
	}
	tick.Stop()
	wg.Wait()
	sb.admin(t, "DELETE", "/faults", "")
	sb.settle(t)
	s.waitForPushes()
	heapEnd := liveHeap()

	s.check()
	s.client.WaitEventsIdle()
	stats := s.client.Stats()
	if err := s.client.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	s.sb.http.CloseIdleConnections() // the test's own admin connections
	goroutinesAfter := settleGoroutines(goroutinesBefore)

	mid := samples[len(samples)/2].heap
	s.report(stats, samples, heapEnd, goroutinesBefore, goroutinesAfter)
	// Flat: the second half may not add more than the larger of 4 MiB and
	// a quarter of the mid-run heap (GC timing and bounded caches filling
	// up); a leak of a few hundred bytes per call over minutes exceeds it.
	if limit := max(4<<20, mid/4); heapEnd > mid+limit {
		t.Errorf("the live heap grew from %s at mid-run to %s at the end (limit +%s)", mib(mid), mib(heapEnd), mib(limit))
	}
	if goroutinesAfter > goroutinesBefore {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("%d goroutines before the client, %d after closing it:\n%s", goroutinesBefore, goroutinesAfter, buf[:n])
	}
}

type heapSample struct {
	at   time.Duration
	heap uint64
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// settleGoroutines waits (bounded) for goroutines to end after a close:
// some exit a moment after the close returns (idle connections, timers).
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// sandboxProcess is a secucard-sandbox started for the soak.
type sandboxProcess struct {
	cmd *exec.Cmd
	sandboxEndpoints
	http *http.Client
}

type sandboxEndpoints struct {
	RESTURL      string `json:"rest_url"`
	STOMPAddr    string `json:"stomp_addr"`
	AdminURL     string `json:"admin_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	SandboxURL   string `json:"sandbox_url"`
}

func startSandboxProcess(t *testing.T) *sandboxProcess {
	bin, err := filepath.Abs(*sandboxPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-http", "127.0.0.1:0", "-stomp", "127.0.0.1:0", "-start-delay", "5ms", "-seed", "15")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	sb := &sandboxProcess{cmd: cmd, http: &http.Client{Timeout: time.Minute}}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		t.Fatalf("the sandbox printed no endpoints: %v", err)
	}
	if err := json.Unmarshal(line, &sb.sandboxEndpoints); err != nil || sb.STOMPAddr == "" {
		t.Fatalf("the sandbox's line %q: %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return sb
}

// admin calls the sandbox's admin API.
func (sb *sandboxProcess) admin(t *testing.T, method, path, body string) []byte {
	req, err := http.NewRequest(method, sb.AdminURL+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := sb.http.Do(req)
	if err != nil {
		t.Errorf("admin %s %s: %v", method, path, err)
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Errorf("admin %s %s: HTTP %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

// settle waits until the sandbox has answered every request it saw.
func (sb *sandboxProcess) settle(t *testing.T) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var recs []struct {
			Status int    `json:"status"`
			Fault  string `json:"fault"`
		}
		_ = json.Unmarshal(sb.admin(t, "GET", "/requests", ""), &recs)
		busy := 0
		for _, r := range recs {
			if r.Status == 0 && !strings.Contains(r.Fault, "drop") && !strings.Contains(r.Fault, "aborted") {
				busy++
			}
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the sandbox still runs %d requests", busy)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The soak's bookkeeping is small and fixed per operation, so that it
// does not hide a leak of the client in the heap figures.

// outcome of a logical operation: the first call's, then the host's repeat's.
type outcome uint8

const (
	outOK outcome = iota + 1
	outNotSent
	outRejected
	outUnknown
)

func outcomeOf(err *errs.Error) outcome {
	switch {
	case err == nil:
		return outOK
	case err.Outcome == errs.OutcomeNotSent:
		return outNotSent
	case err.Outcome == errs.OutcomeRejected:
		return outRejected
	}
	return outUnknown
}

// logical is one create (or create and start) and what the host saw.
type logical struct {
	first, repeat outcome // repeat 0: not repeated
	start         bool    // a payment start followed the create
	startFirst    outcome
	txID          string // of a start
}

type callerLog struct {
	mu    sync.Mutex
	ops   []logical
	calls map[string]int // by op and result, e.g. "get ok"
}

func (l *callerLog) count(key string) {
	l.mu.Lock()
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[key]++
	l.mu.Unlock()
}

type soak struct {
	t        *testing.T
	sb       *sandboxProcess
	client   *core.Client
	deadline time.Time
	rngMu    sync.Mutex
	rng      *rand.Rand

	ops [callers]*callerLog

	untyped   atomic.Int64
	noOutcome atomic.Int64
	dishonest atomic.Int64 // payment starts that may have run but were retryable

	pushMu     sync.Mutex
	pushed     int    // pushes the sandbox accepted
	seen       []byte // bit per push seq: delivered
	duplicates int
	foreign    int // pushes with a soak id the pusher never sent
	signals    int // connection down/reconnecting, dropped and resync events
	faults     map[string]int
}

func (s *soak) intn(n int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.IntN(n)
}

func (s *soak) newClient() *core.Client {
	host, port, _ := net.SplitHostPort(s.sb.STOMPAddr)
	p, _ := strconv.Atoi(port)
	cfg := map[string]any{
		"environment": "sandbox", "sandbox_url": s.sb.SandboxURL, "log_level": "off",
		"credentials": map[string]any{"client_id": s.sb.ClientID, "client_secret": s.sb.ClientSecret},
		"stomp":       map[string]any{"enabled": true, "host": host, "port": p, "tls": false},
		"retry":       map[string]any{"max_attempts": 3, "initial_backoff_ms": 20, "max_backoff_ms": 200, "max_retry_after_ms": 1500},
	}
	b, _ := json.Marshal(cfg)
	c, err := core.NewFromJSON(b)
	if err != nil {
		s.t.Fatalf("client: %v", err)
	}
	if err := c.SetEventHandler(s.onEvent); err != nil {
		s.t.Fatal(err)
	}
	return c
}

// call runs one request and records whether its error was typed and
// honest; it returns the host's view.
func (s *soak) call(req string) (json.RawMessage, *errs.Error) {
	r, err := api.ParseRequest([]byte(req))
	if err != nil {
		s.t.Errorf("request %s: %v", req, err)
		return nil, &errs.Error{Kind: errs.InvalidArgument}
	}
	return s.do(r)
}

func (s *soak) do(r *api.Request) (json.RawMessage, *errs.Error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.client.Call(ctx, r)
	if err == nil {
		return out, nil
	}
	e := asError(err)
	if !known[e.Kind] {
		s.untyped.Add(1)
		s.t.Errorf("untyped error: %v", err)
	}
	if e.Outcome == "" {
		s.noOutcome.Add(1)
		s.t.Errorf("an error without an outcome: %v", err)
	}
	if r.Action == "start" && e.Outcome == errs.OutcomeUnknown && e.Retryable {
		s.dishonest.Add(1)
		s.t.Errorf("a payment start that may have run is retryable: %v", err)
	}
	return nil, e
}

// repeat does what a retryable error says: the same request, same key.
func (s *soak) repeat(r *api.Request, e *errs.Error) outcome {
	if e == nil || !e.Retryable {
		return 0
	}
	again := *r
	again.IdempotencyKey = e.IdempotencyKey
	_, e2 := s.do(&again)
	return outcomeOf(e2)
}

// caller loops over a mix of a till's calls until the deadline.
func (s *soak) caller(id int) {
	l := s.ops[id]
	channels := []string{"rest", "stomp"}
	pace := time.NewTicker(callEvery)
	defer pace.Stop()
	for ; time.Now().Before(s.deadline); <-pace.C {
		ch := channels[s.intn(2)]
		switch k := s.intn(10); {
		case k < 4: // create, and sometimes start it
			ref := fmt.Sprintf("soak-%d-%d", id, len(l.ops))
			r, _ := api.ParseRequest([]byte(`{"resource":"smart.transactions","op":"create","channel":"` + ch +
				`","timeout_ms":` + strconv.Itoa(callMS) + `,"data":{"transactionRef":"` + ref + `","basket_info":{"sum":250,"currency":"EUR"}}}`))
			out, e := s.do(r)
			op := logical{first: outcomeOf(e), repeat: s.repeat(r, e)}
			l.count("create " + op.first.String())
			if e == nil && k == 0 {
				var tx struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(out, &tx)
				sr, _ := api.ParseRequest([]byte(`{"resource":"smart.transactions","op":"execute","id":"` + tx.ID +
					`","action":"start","arg":"cash","channel":"` + ch + `","timeout_ms":` + strconv.Itoa(callMS) + `}`))
				_, se := s.do(sr)
				op.start, op.startFirst, op.txID = true, outcomeOf(se), tx.ID
				l.count("start " + op.startFirst.String())
			}
			l.mu.Lock()
			l.ops = append(l.ops, op)
			l.mu.Unlock()
		case k < 8:
			_, e := s.call(`{"resource":"smart.idents","op":"get","id":"` + []string{"smi_1", "smi_2", "smi_3"}[s.intn(3)] + `","channel":"` + ch + `","timeout_ms":` + strconv.Itoa(callMS) + `}`)
			l.count("get " + outcomeOf(e).String())
		default:
			// A list of a collection that does not grow: the sandbox copies
			// every object of a collection for each list, and the soak's
			// transactions grow all the time.
			_, e := s.call(`{"resource":"general.stores","op":"list","channel":"` + ch + `","timeout_ms":` + strconv.Itoa(callMS) + `,"query":{"count":5,"sort":{"name":"asc"}}}`)
			l.count("list " + outcomeOf(e).String())
		}
	}
}

func (o outcome) String() string {
	switch o {
	case outOK:
		return "ok"
	case outNotSent:
		return "not_sent"
	case outRejected:
		return "rejected"
	case outUnknown:
		return "unknown"
	}
	return "-"
}

// pusher publishes numbered pushes until the deadline.
func (s *soak) pusher() {
	for seq := 0; time.Now().Before(s.deadline); seq++ {
		body := fmt.Sprintf(`{"id":"EPS_SOAK%08d","target":"general.notifications","type":"soak","data":{"seq":%d}}`, seq, seq)
		s.sb.admin(s.t, "POST", "/events", body)
		s.pushMu.Lock()
		s.pushed = seq + 1
		s.pushMu.Unlock()
		time.Sleep(pushEvery)
	}
}

func (s *soak) onEvent(e event.Event) {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	switch {
	case e.Kind == event.KindPush && e.Type == "soak":
		seq, err := strconv.Atoi(strings.TrimPrefix(e.ID, "EPS_SOAK"))
		if err != nil || seq < 0 {
			s.foreign++
			return
		}
		for len(s.seen)*8 <= seq {
			s.seen = append(s.seen, 0)
		}
		if s.seen[seq/8]&(1<<(seq%8)) != 0 {
			s.duplicates++
		}
		s.seen[seq/8] |= 1 << (seq % 8)
	case e.Kind == event.KindDropped,
		e.Kind == event.KindConnection && (e.State == event.Disconnected || e.State == event.Reconnecting),
		e.Kind == event.KindConnection && bytes.Contains(e.JSON(), []byte(`"resync":true`)):
		s.signals++
	}
}

// waitForPushes gives the last pushes a moment to arrive.
func (s *soak) waitForPushes() {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.pushMu.Lock()
		got := s.delivered()
		want := s.pushed
		s.pushMu.Unlock()
		if got >= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *soak) delivered() int {
	n := 0
	for _, b := range s.seen {
		for ; b != 0; b &= b - 1 {
			n++
		}
	}
	return n
}

// faulter arms a random fault every half second: the matrix's faults,
// on either channel, plus token expiry and STOMP drops.
func (s *soak) faulter() {
	s.faults = map[string]int{}
	kinds := []struct {
		name string
		arm  func(ch string)
	}{
		{"503 ×2", func(ch string) { s.fault(`"status":503,"count":2`, ch) }},
		{"429 Retry-After 1s", func(ch string) {
			if ch == "stomp" {
				s.fault(`"status":429`, ch)
			} else {
				s.fault(`"status":429,"retry_after":1`, ch)
			}
		}},
		{"held past the deadline", func(ch string) { s.fault(`"delay_ms":2500`, ch) }},
		{"held within the deadline", func(ch string) { s.fault(`"delay_ms":300`, ch) }},
		{"drop before read", func(ch string) { s.fault(`"drop":"before_read"`, ch) }},
		{"drop after read", func(ch string) { s.fault(`"drop":"after_read"`, ch) }},
		{"token expiry", func(string) { s.sb.admin(s.t, "POST", "/tokens/expire", "{}") }},
		{"STOMP drop", func(string) { s.sb.admin(s.t, "POST", "/stomp/drop", "{}") }},
	}
	for time.Now().Before(s.deadline) {
		k := kinds[s.intn(len(kinds))]
		ch := []string{"rest", "stomp"}[s.intn(2)]
		k.arm(ch)
		s.faults[k.name]++
		time.Sleep(500 * time.Millisecond)
	}
}

func (s *soak) fault(spec, channel string) {
	path := []string{"/smart/transactions", "/smart/idents"}[s.intn(2)]
	s.sb.admin(s.t, "POST", "/faults", `{"path":"`+path+`","channel":"`+channel+`",`+spec+`}`)
}

// check holds every logical operation to the invariants, reading the
// sandbox's transactions page by page.
func (s *soak) check() {
	type txState struct {
		count  int
		status string
		id     string
	}
	byRef := map[string]*txState{}
	byID := map[string]*txState{}
	// One scroll: the sandbox copies the transactions once and pages
	// through that copy (offset paging would copy them for every page).
	tok := s.oracleToken()
	q := url.Values{"count": {"1000"}, "scroll_expire": {"10m"}, "fields": {"id,transactionRef,status"}}
	for {
		req, _ := http.NewRequest("GET", s.sb.RESTURL+"/smart/transactions?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.sb.http.Do(req)
		if err != nil {
			s.t.Fatalf("oracle list: %v", err)
		}
		var page struct {
			ScrollID string `json:"scroll_id"`
			Data     []struct {
				ID     string `json:"id"`
				Ref    string `json:"transactionRef"`
				Status string `json:"status"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			s.t.Fatalf("oracle list: HTTP %d: %v", resp.StatusCode, err)
		}
		for _, d := range page.Data {
			st := byRef[d.Ref]
			if st == nil {
				st = &txState{}
				byRef[d.Ref] = st
			}
			st.count++
			st.status, st.id = d.Status, d.ID
			byID[d.ID] = st
		}
		if len(page.Data) == 0 || page.ScrollID == "" {
			break
		}
		q = url.Values{"scroll_id": {page.ScrollID}}
	}
	for id, l := range s.ops {
		for i, op := range l.ops {
			ref := fmt.Sprintf("soak-%d-%d", id, i)
			n := 0
			if st := byRef[ref]; st != nil {
				n = st.count
			}
			ran := op.first == outOK || op.repeat == outOK
			cannot := (op.first == outNotSent || op.first == outRejected) && (op.repeat == 0 || op.repeat == outNotSent || op.repeat == outRejected)
			switch {
			case n > 1:
				s.t.Errorf("create %s executed %d times", ref, n)
			case ran && n != 1:
				s.t.Errorf("create %s succeeded, executed %d times", ref, n)
			case cannot && n != 0:
				s.t.Errorf("create %s: outcomes %s/%s say it did not run, it ran %d time(s)", ref, op.first, op.repeat, n)
			}
			if op.start {
				st := byID[op.txID]
				started := st != nil && st.status != "created"
				switch {
				case op.startFirst == outOK && !started:
					s.t.Errorf("start of %s succeeded, the transaction is %q", op.txID, st.status)
				case (op.startFirst == outNotSent || op.startFirst == outRejected) && started:
					s.t.Errorf("start of %s: outcome %s, but it ran", op.txID, op.startFirst)
				}
			}
		}
	}
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	if s.duplicates > 0 {
		s.t.Errorf("%d pushes delivered twice", s.duplicates)
	}
	if s.foreign > 0 {
		s.t.Errorf("%d pushes the sandbox never sent", s.foreign)
	}
	if lost := s.pushed - s.delivered(); lost > 0 && s.signals == 0 {
		s.t.Errorf("%d pushes lost without a connection, dropped or resync event", lost)
	}
}

func (s *soak) oracleToken() string {
	resp, err := s.sb.http.PostForm(s.sb.SandboxURL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {s.sb.ClientID}, "client_secret": {s.sb.ClientSecret}})
	if err != nil {
		s.t.Fatalf("oracle token: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		s.t.Fatalf("oracle token: %v", err)
	}
	return body.AccessToken
}

func (s *soak) report(st core.Stats, samples []heapSample, heapEnd uint64, gBefore, gAfter int) {
	calls := map[string]int{}
	logical := 0
	for _, l := range s.ops {
		for k, v := range l.calls {
			calls[k] += v
		}
		logical += len(l.ops)
	}
	keys := make([]string, 0, len(calls))
	total := 0
	for k, v := range calls {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	fmt.Printf("soak: %s, %d callers, GOMAXPROCS=%d (a shared 2-core machine: figures are what it allowed)\n", *soakFor, callers, runtime.GOMAXPROCS(0))
	fmt.Printf("  calls: %d (%.1f/s; each caller at most %d/s), creates checked against the sandbox: %d\n",
		total, float64(total)/soakFor.Seconds(), int(time.Second/callEvery), logical)
	for _, k := range keys {
		fmt.Printf("    %-22s %d\n", k, calls[k])
	}
	faults := make([]string, 0, len(s.faults))
	for k, v := range s.faults {
		faults = append(faults, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(faults)
	fmt.Printf("  faults armed: %s\n", strings.Join(faults, ", "))
	fmt.Printf("  client: retries %d, token requests %d, STOMP reconnects %d, latency p50 %.0f ms p99 %.0f ms\n",
		st.Retries, st.TokenRequests, st.STOMP.Reconnects, st.LatencyMS.P50, st.LatencyMS.P99)
	s.pushMu.Lock()
	fmt.Printf("  pushes: sent %d, delivered %d, lost %d, twice %d, loss signals %d; events dropped by the queue %d, deduplicated %d\n",
		s.pushed, s.delivered(), s.pushed-s.delivered(), s.duplicates, s.signals, st.Events.Dropped, st.Events.Deduplicated)
	s.pushMu.Unlock()
	var hs []string
	for _, h := range samples {
		hs = append(hs, fmt.Sprintf("%s:%s", h.at.Round(time.Second), mib(h.heap)))
	}
	fmt.Printf("  live heap after GC: %s; end %s\n", strings.Join(hs, " "), mib(heapEnd))
	fmt.Printf("  goroutines: %d before the client, %d after closing it\n", gBefore, gAfter)
	fmt.Printf("  invariants: untyped errors %d, errors without outcome %d, retryable payment starts of unknown outcome %d\n",
		s.untyped.Load(), s.noOutcome.Load(), s.dishonest.Load())
}
