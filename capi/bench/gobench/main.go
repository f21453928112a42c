// Command gobench is `make bench`: it measures a GET of one object against
// the sandbox through raw net/http, the Go core and the C ABI (running
// cbench), plus the cost of the C boundary on calls without I/O, and prints
// one table with the project's targets next to the numbers.
//
// Usage: SECUCARD_SANDBOX='<sandbox JSON line>' gobench -cbench PATH [-calls N]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/product"
)

type result struct {
	callers, calls    int
	median, p99, perS float64 // µs, µs, calls per second
	cpu               float64 // client process CPU µs per call
	errors            int
}

// sample pools the latencies and wall time of one configuration's rounds.
type sample struct {
	callers int
	lat     []time.Duration
	elapsed time.Duration
	cpu     time.Duration // user+system time of the client process
	errors  int
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (s *sample) result() result {
	all := append([]time.Duration(nil), s.lat...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return result{callers: s.callers, calls: len(all), median: us(all[len(all)/2]),
		p99: us(all[int(float64(len(all)-1)*0.99)]), perS: float64(len(all)) / s.elapsed.Seconds(),
		cpu: us(s.cpu) / float64(len(all)), errors: s.errors}
}

// measure runs fn callers×per times from callers goroutines into s.
func measure(s *sample, callers, per int, fn func() error) {
	s.callers = callers
	lat := make([][]time.Duration, callers)
	errCount := make([]int, callers)
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lat[i] = make([]time.Duration, 0, per)
			for j := 0; j < per; j++ {
				t0 := time.Now()
				if fn() != nil {
					errCount[i]++
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	s.elapsed += time.Since(start)
	s.cpu += cpuTime() - cpu0
	for i := range lat {
		s.lat = append(s.lat, lat[i]...)
		s.errors += errCount[i]
	}
}

// perCall times 5 batches of n runs of fn and returns the best µs per run:
// the minimum is the estimate least moved by other load on the machine.
func perCall(n int, fn func()) float64 {
	best := 0.0
	for b := 0; b < 5; b++ {
		t0 := time.Now()
		for i := 0; i < n; i++ {
			fn()
		}
		v := float64(time.Since(t0).Nanoseconds()) / 1e3 / float64(n)
		if b == 0 || v < best {
			best = v
		}
	}
	return best
}

func receiptJSON() []byte {
	lines := []map[string]any{{"type": "separator", "value": map[string]any{"caption": "Kundenbeleg"}}}
	for i := 0; i < 12; i++ {
		lines = append(lines, map[string]any{"type": "name-value", "value": map[string]any{
			"name": fmt.Sprintf("Artikel %d", i), "value": fmt.Sprintf("%d,%02d EUR", i+1, (i*7)%100)}})
	}
	lines = append(lines, map[string]any{"type": "textline", "value": map[string]any{"text": "Vielen Dank", "decoration": []string{"align-center"}}})
	b, _ := json.Marshal(lines)
	return b
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gobench: "+format+"\n", args...)
	os.Exit(1)
}

// runC runs cbench with args and returns its output lines split into name
// and key=value fields.
func runC(path string, env []string, args ...string) []map[string]string {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fail("cbench %s: %v", strings.Join(args, " "), err)
	}
	var lines []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		kv := map[string]string{"": f[0]}
		for _, p := range f[1:] {
			k, v, _ := strings.Cut(p, "=")
			kv[k] = v
		}
		lines = append(lines, kv)
	}
	return lines
}

func num(kv map[string]string, k string) float64 {
	v, err := strconv.ParseFloat(kv[k], 64)
	if err != nil {
		fail("cbench printed no number %s in %v", k, kv[""])
	}
	return v
}

func main() {
	cbench := flag.String("cbench", "", "path of the cbench program (the C side)")
	per := flag.Int("calls", 2000, "calls for one caller per round; 8 callers make a quarter each")
	rounds := flag.Int("rounds", 3, "rounds; each runs (a), (b) and (c) in turn so load changes hit all three")
	flag.Parse()
	var sb struct {
		SandboxURL   string `json:"sandbox_url"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(os.Getenv("SECUCARD_SANDBOX")), &sb); err != nil || sb.SandboxURL == "" {
		fail("set SECUCARD_SANDBOX to the sandbox's JSON line (run through capi/ctest/with-sandbox.sh)")
	}
	if *cbench == "" {
		fail("-cbench is required")
	}
	off := false
	cfg := core.Config{Environment: "sandbox", SandboxURL: sb.SandboxURL, STOMP: core.STOMPConfig{Enabled: &off},
		Credentials: &core.Credentials{ClientID: sb.ClientID, ClientSecret: sb.ClientSecret}}
	client, err := core.New(cfg)
	if err != nil {
		fail("%v", err)
	}
	defer client.Close()
	ctx := context.Background()
	req := &api.Request{Resource: "smart.idents", Op: api.Get, ID: "smi_1"}
	for i := 0; i < 200; i++ { // token, connections
		if _, err := client.Call(ctx, req); err != nil {
			fail("warm-up: %v", err)
		}
	}
	tok, err := client.Token(ctx)
	if err != nil {
		fail("token: %v", err)
	}

	// (a) raw net/http with a transport like the core's own.
	raw := &http.Client{Transport: &http.Transport{
		DialContext:  (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns: 64, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
	}}
	url := strings.TrimRight(sb.SandboxURL, "/") + "/api/v2/Smart/Idents/smi_1"
	rawGet := func() error {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		r.Header.Set("Accept", "application/json")
		resp, err := raw.Do(r)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for i := 0; i < 200; i++ {
		_ = rawGet()
	}
	coreGet := func() error { _, err := client.Call(ctx, req); return err }
	q := max(*per/4, 1)

	var a1, a8, b1, b8, c1, c8 sample
	for r := 0; r < *rounds; r++ {
		measure(&a1, 1, *per, rawGet)
		measure(&a8, 8, q, rawGet)
		measure(&b1, 1, *per, coreGet)
		measure(&b8, 8, q, coreGet)
		// (c) in its own process: a C host with the library loaded.
		for _, kv := range runC(*cbench, nil, strconv.Itoa(*per)) {
			if kv[""] != "c_call" {
				continue
			}
			s := &c1
			if num(kv, "callers") == 8 {
				s = &c8
			}
			s.callers = int(num(kv, "callers"))
			s.elapsed += time.Duration(num(kv, "elapsed_us") * 1e3)
			s.cpu += time.Duration(num(kv, "cpu_us") * 1e3)
			s.errors += int(num(kv, "errors"))
			for _, v := range strings.Split(kv["lat_us"], ",") {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					fail("cbench latency %q", v)
				}
				s.lat = append(s.lat, time.Duration(f*1e3))
			}
		}
	}

	// No I/O: the boundary alone. Go first, then the same work through C.
	idle, err := core.New(cfg)
	if err != nil {
		fail("%v", err)
	}
	defer idle.Close()
	goStats := perCall(5000, func() { _, _ = json.Marshal(idle.Stats()) })
	receipt := receiptJSON()
	goReceipt := perCall(300, func() {
		lines, _ := product.ReceiptLines(receipt)
		_ = product.FormatReceipt(lines, 40)
	})
	var cStats, cReceipt, cNoop float64
	for _, kv := range runC(*cbench, []string{"BENCH_RECEIPT=" + string(receipt)}, "--boundary") {
		switch kv[""] {
		case "c_stats":
			cStats = num(kv, "per_call_us")
		case "c_receipt":
			cReceipt = num(kv, "per_call_us")
		case "c_noop":
			cNoop = num(kv, "per_call_us")
		}
	}

	fmt.Printf("\nlibsecucard boundary benchmark: GET smart.idents/smi_1 against the sandbox on loopback\n")
	fmt.Printf("%s/%s, %d CPUs, GOMAXPROCS %d, %s, %d rounds pooled\n\n", runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), *rounds)
	fmt.Printf("%-28s %7s %7s %11s %9s %9s %11s %6s\n", "path", "callers", "calls", "median µs", "p99 µs", "calls/s", "CPU µs/call", "errors")
	for _, row := range []struct {
		name string
		s    *sample
	}{
		{"(a) net/http, raw GET", &a1}, {"(a) net/http, raw GET", &a8},
		{"(b) Go core, Client.Call", &b1}, {"(b) Go core, Client.Call", &b8},
		{"(c) C ABI, secucard_call", &c1}, {"(c) C ABI, secucard_call", &c8},
	} {
		r := row.s.result()
		fmt.Printf("%-28s %7d %7d %11.1f %9.1f %9.0f %11.1f %6d\n", row.name, r.callers, r.calls, r.median, r.p99, r.perS, r.cpu, r.errors)
	}
	fmt.Printf("\n%-40s %9s %9s %10s\n", "no I/O: the C boundary alone (best of 5)", "Go µs", "C µs", "added µs")
	fmt.Printf("%-40s %9.2f %9.2f %10.2f\n", "client stats (JSON)", goStats, cStats, cStats-goStats)
	fmt.Printf("%-40s %9.2f %9.2f %10.2f\n", "format_receipt, 14 lines, width 40", goReceipt, cReceipt, cReceipt-goReceipt)
	fmt.Printf("%-40s %9s %9.3f %10s\n", "empty export (secucard_version_number)", "-", cNoop, "-")

	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	boundary := cStats - goStats
	e2e := c1.result().median - b1.result().median
	share := 100 * c8.result().perS / a8.result().perS
	core8 := 100 * b8.result().perS / a8.result().perS
	fmt.Printf("\ntargets\n")
	fmt.Printf("  C-ABI overhead per call over the Go core, no I/O:   %+8.2f µs  (target ≤ 5 µs)  %s  (client stats)\n", boundary, verdict(boundary <= 5))
	fmt.Printf("  same, end to end (median (c) - (b), 1 caller):      %+8.1f µs  (target ≤ 5 µs)  %s\n", e2e, verdict(e2e <= 5))
	fmt.Printf("  C-ABI throughput, 8 callers, share of raw net/http: %8.1f %%   (target ≥ 95 %%) %s\n", share, verdict(share >= 95))
	fmt.Printf("  (for comparison: the Go core alone reaches %.1f %% of raw net/http with 8 callers)\n", core8)
	fmt.Printf("  (CPU µs/call is the client process only; wall-clock numbers move with other load on the machine)\n")
}
