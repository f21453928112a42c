// Command gobench is `make bench`: a paired, interleaved measurement of what
// a call costs through raw net/http, the Go core, the C ABI (sync and async),
// the Python binding and the C# binding, all against one sandbox, plus the
// push -> host callback latency, the library's size and RSS growth.
//
// Each variant runs in a process of its own (a worker, see workers.go), so
// CPU time and context switches per call are that host's alone (getrusage).
// Every round runs every variant back to back (in a rotating order), so load
// from other work on the machine hits all of them alike; the figures that
// decide a target are medians of per-round ratios.
//
// Usage (the Makefile's run target starts the sandbox):
//
//	with-sandbox.sh BUILD -stomp 127.0.0.1:0 -- gobench -build BUILD ...
//	gobench -worker raw|core|push   (a Go worker; the orchestrator starts it)
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type options struct {
	build, cbench, python, pybench, pysrc, mono, csbench string
	rounds, calls, callers, pushRounds, events, rssCalls int
	only                                                 string
}

func main() {
	var o options
	worker := flag.String("worker", "", "run as a Go worker: raw, core or push")
	flag.StringVar(&o.build, "build", "", "build directory with libsecucard.so and secucard-sandbox")
	flag.StringVar(&o.cbench, "cbench", "", "the C worker (cbench)")
	flag.StringVar(&o.python, "python", "", "Python interpreter for the Python worker (empty: skip it)")
	flag.StringVar(&o.pybench, "pybench", "", "the Python worker script")
	flag.StringVar(&o.pysrc, "pysrc", "", "bindings/python/src")
	flag.StringVar(&o.mono, "mono", "", "mono, for the C# worker (empty: skip it)")
	flag.StringVar(&o.csbench, "csbench", "", "the C# worker (csbench.exe)")
	flag.IntVar(&o.rounds, "rounds", 30, "rounds; each runs every variant once (short rounds: load changes hit all variants alike)")
	flag.IntVar(&o.calls, "calls", 400, "calls per variant per round")
	flag.IntVar(&o.callers, "callers", 8, "concurrent callers in each variant")
	flag.IntVar(&o.pushRounds, "push-rounds", 10, "rounds of the push latency")
	flag.IntVar(&o.events, "events", 100, "events per push variant per round")
	flag.IntVar(&o.rssCalls, "rss-calls", 100000, "calls of the RSS run (growth is taken over its second half)")
	flag.StringVar(&o.only, "only", "", "comma-separated variants to run (default: all)")
	flag.Parse()
	var err error
	if *worker != "" {
		err = workerMain(*worker)
	} else {
		err = orchestrate(o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gobench: %v\n", err)
		os.Exit(1)
	}
}

type sandboxInfo struct {
	SandboxURL   string `json:"sandbox_url"`
	AdminURL     string `json:"admin_url"`
	STOMPAddr    string `json:"stomp_addr"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// clientConfig is the config every worker's client is built from.
func (sb sandboxInfo) clientConfig(stompPort int) string {
	stomp := map[string]any{"enabled": false}
	if stompPort > 0 {
		stomp = map[string]any{"enabled": true, "host": "127.0.0.1", "port": stompPort, "tls": false}
	}
	b, _ := json.Marshal(map[string]any{
		"environment": "sandbox", "sandbox_url": sb.SandboxURL, "stomp": stomp,
		"credentials": map[string]any{"client_id": sb.ClientID, "client_secret": sb.ClientSecret},
	})
	return string(b)
}

// variant is one way of making the workload's calls.
type variant struct {
	key, name string
	argv      []string
	env       []string
	w         *worker
	runs      []run
}

func orchestrate(o options) error {
	start := time.Now()
	var sb sandboxInfo
	if err := json.Unmarshal([]byte(os.Getenv("SECUCARD_SANDBOX")), &sb); err != nil || sb.SandboxURL == "" || sb.STOMPAddr == "" {
		return fmt.Errorf("SECUCARD_SANDBOX must hold the JSON line of a sandbox started with -stomp (the Makefile does this)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	lib := filepath.Join(o.build, "libsecucard.so")
	common := []string{"BENCH_CONFIG=" + sb.clientConfig(0), "BENCH_GET=" + getRequest, "BENCH_POST=" + postRequest,
		"SECUCARD_LIBRARY=" + lib}
	all := []*variant{
		{key: "raw", name: "raw net/http, fixed token", argv: []string{self, "-worker", "raw"}},
		{key: "core", name: "Go core, Client.Call", argv: []string{self, "-worker", "core"}},
		{key: "c", name: "C ABI, secucard_call", argv: []string{o.cbench, "sync"}},
		{key: "async", name: "C ABI, secucard_call_async", argv: []string{o.cbench, "async"}},
		{key: "python", name: "Python binding, Client.call", argv: []string{o.python, o.pybench},
			env: []string{"PYTHONPATH=" + o.pysrc}},
		{key: "csharp", name: "C# binding, SecucardClient.Call", argv: []string{o.mono, o.csbench},
			env: []string{"LD_LIBRARY_PATH=" + o.build}},
	}
	var vs []*variant
	for _, v := range all {
		if o.only != "" && !strings.Contains(","+o.only+",", ","+v.key+",") {
			continue
		}
		if v.argv[0] == "" {
			fmt.Printf("(skipping %s: no interpreter given)\n", v.name)
			continue
		}
		vs = append(vs, v)
	}
	byKey := map[string]*variant{}
	for _, v := range vs {
		if v.w, err = startWorker(v.name, append(append([]string{}, common...), v.env...), v.argv...); err != nil {
			return err
		}
		defer v.w.stop()
		byKey[v.key] = v
	}

	fmt.Printf("libsecucard benchmark: paired, interleaved rounds against one sandbox on loopback\n")
	fmt.Printf("%s/%s, %d CPUs, %s; load average at start: %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		runtime.Version(), loadAverage())
	fmt.Printf("workload: %d callers, %d calls per variant per round, alternating GET smart.idents/smi_1 and\n"+
		"POST smart.idents/notused/validate (a body each way); %d rounds, variant order rotating\n\n", o.callers, o.calls, o.rounds)

	header := fmt.Sprintf("%-6s", "round")
	for _, v := range vs {
		header += fmt.Sprintf(" %16s", v.key+" calls/s")
	}
	fmt.Println(header)
	for r := 0; r < o.rounds; r++ {
		line := fmt.Sprintf("%-6d", r+1)
		res := map[string]run{}
		for i := range vs {
			v := vs[(i+r)%len(vs)]
			x, err := v.w.calls(o.calls, o.callers)
			if err != nil {
				return err
			}
			if x.errors > 0 {
				return fmt.Errorf("%s: %d of %d calls failed", v.name, x.errors, x.calls)
			}
			v.runs = append(v.runs, x)
			res[v.key] = x
		}
		for _, v := range vs {
			line += fmt.Sprintf(" %16.0f", res[v.key].perSecond())
		}
		fmt.Println(line)
	}

	fmt.Printf("\n%-34s %14s %14s %14s\n", "variant (median over rounds)", "calls/s", "CPU µs/call", "ctx sw/call")
	for _, v := range vs {
		fmt.Printf("%-34s %14.0f %14.1f %14.2f\n", v.name, med(v.runs, run.perSecond), med(v.runs, run.cpuPerCall), med(v.runs, run.cswPerCall))
	}

	var verdicts []string
	fmt.Printf("\n%-40s %-24s %-8s %s\n", "paired ratio (per round)", "median [min-max]", "target", "verdict")
	ratio := func(label, a, b string, f func(run) float64, op string, target float64) {
		va, vb := byKey[a], byKey[b]
		if va == nil || vb == nil {
			return
		}
		var rs []float64
		for i := range va.runs {
			rs = append(rs, f(va.runs[i])/f(vb.runs[i]))
		}
		s := spreadOf(rs)
		v := "info"
		tgt := "-"
		if op != "" {
			tgt = op + " " + strconv.FormatFloat(target, 'f', -1, 64)
			v = verdict(op == ">=" && s.med >= target || op == "<=" && s.med <= target)
			verdicts = append(verdicts, v)
		}
		fmt.Printf("%-40s %5.2f [%4.2f-%4.2f]%7s %-8s %s\n", label, s.med, s.min, s.max, "", tgt, v)
	}
	ratio("C ABI calls/s ÷ Go core", "c", "core", run.perSecond, ">=", 0.90)
	ratio("C ABI CPU/call ÷ Go core", "c", "core", run.cpuPerCall, "<=", 1.15)
	ratio("C ABI ctx switches/call ÷ Go core", "c", "core", run.cswPerCall, "<=", 1.5)
	ratio("Go core calls/s ÷ raw net/http", "core", "raw", run.perSecond, ">=", 0.95)
	ratio("Go core CPU/call ÷ raw net/http", "core", "raw", run.cpuPerCall, "<=", 1.15)
	ratio("Python calls/s ÷ C ABI", "python", "c", run.perSecond, ">=", 0.90)
	ratio("C# calls/s ÷ C ABI", "csharp", "c", run.perSecond, ">=", 0.90)
	ratio("C ABI async calls/s ÷ Go core", "async", "core", run.perSecond, "", 0)
	ratio("C ABI async CPU/call ÷ Go core", "async", "core", run.cpuPerCall, "", 0)
	ratio("Python CPU/call ÷ C ABI", "python", "c", run.cpuPerCall, "", 0)
	ratio("C# CPU/call ÷ C ABI", "csharp", "c", run.cpuPerCall, "", 0)
	for _, v := range vs { // the call workers are done; the push and RSS runs follow
		v.w.stop()
	}

	if o.pushRounds > 0 && o.events > 0 {
		vv, err := pushLatency(o, sb, common, self)
		if err != nil {
			return err
		}
		verdicts = append(verdicts, vv...)
	}

	fmt.Println()
	if fi, err := os.Stat(lib); err == nil {
		mb := float64(fi.Size()) / (1 << 20)
		v := verdict(mb <= 12)
		verdicts = append(verdicts, v)
		fmt.Printf("%-52s %8.1f MB  target <= 12 MB  %s\n", "library size ("+filepath.Base(resolve(lib))+")", mb, v)
	}
	if o.rssCalls > 0 && o.cbench != "" {
		v, err := rssGrowth(o, common)
		if err != nil {
			return err
		}
		verdicts = append(verdicts, v)
	}
	missed := 0
	for _, v := range verdicts {
		if v != "met" {
			missed++
		}
	}
	fmt.Printf("\n%d of %d targets met; elapsed %s\n", len(verdicts)-missed, len(verdicts), time.Since(start).Round(time.Second))
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func med(rs []run, f func(run) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return spreadOf(v).med
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// pushLatency measures push -> host callback for the Go core's handler, a C
// event callback and a C secucard_next_event loop: each worker behind its own
// proxy, events pushed one at a time (each waits for its delivery: latency,
// not queueing), the workers taking turns in every round.
func pushLatency(o options, sb sandboxInfo, common []string, self string) ([]string, error) {
	type pushVariant struct {
		key, name string
		argv      []string
		w         *worker
		lat       []int64 // ns
		p99s      []float64
	}
	vs := []*pushVariant{
		{key: "go", name: "Go core event handler", argv: []string{self, "-worker", "push"}},
		{key: "ccb", name: "C event callback", argv: []string{o.cbench, "push-callback"}},
		{key: "cnext", name: "C secucard_next_event", argv: []string{o.cbench, "push-next"}},
	}
	for _, v := range vs {
		p, err := newSTOMPProxy(sb.STOMPAddr)
		if err != nil {
			return nil, err
		}
		defer p.close()
		env := append(append([]string{}, common...), "BENCH_CONFIG="+sb.clientConfig(p.port()))
		if v.w, err = startWorker(v.name, env, v.argv...); err != nil {
			return nil, err
		}
		v.w.proxy = p
		defer v.w.stop()
	}
	// Every event goes to each variant in turn (starting with another one
	// each time): a burst of load on the machine hits all of them alike.
	seq := 0
	for r := 0; r < o.pushRounds; r++ {
		round := make([][]int64, len(vs))
		for e := 0; e < o.events; e++ {
			for i := range vs {
				k := (i + e + r) % len(vs)
				v := vs[k]
				seq++
				id := fmt.Sprintf("EPS_BENCH%025d", seq)
				v.w.proxy.expect(id)
				if err := pushEvent(sb.AdminURL, id); err != nil {
					return nil, err
				}
				kv, err := v.w.expect("event", 10*time.Second)
				if err != nil {
					return nil, err
				}
				if kv["0"] != id {
					return nil, fmt.Errorf("%s: got event %s, pushed %s", v.name, kv["0"], id)
				}
				t1, _ := strconv.ParseInt(kv["1"], 10, 64)
				t0, ok := v.w.proxy.sentAt(id)
				if !ok {
					return nil, fmt.Errorf("%s: the proxy did not see event %s", v.name, id)
				}
				round[k] = append(round[k], t1-t0)
			}
		}
		for k, v := range vs {
			v.lat = append(v.lat, round[k]...)
			v.p99s = append(v.p99s, float64(percentile(round[k], 0.99)))
		}
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	fmt.Printf("\npush -> first line of the host's callback (frame written to the client's socket -> callback),\n"+
		"%d events per variant, each event to every variant in turn (%d rounds for the spread)\n", o.events*o.pushRounds, o.pushRounds)
	fmt.Printf("%-34s %10s %10s %10s\n", "variant", "p50 ms", "p99 ms", "max ms")
	for _, v := range vs {
		fmt.Printf("%-34s %10.3f %10.3f %10.3f\n", v.name, ms(percentile(v.lat, 0.50)), ms(percentile(v.lat, 0.99)), ms(percentile(v.lat, 1)))
	}
	// The p99s are taken over all events: the variants take turns event by
	// event, and a round's own p99 (its first or second largest value) is
	// mostly noise from the machine's scheduling; the per-round ratios show
	// the spread.
	var out []string
	goP99 := percentile(vs[0].lat, 0.99)
	for _, v := range vs[1:] {
		p99 := percentile(v.lat, 0.99)
		ok := verdict(ms(p99) <= 1)
		var rs []float64
		for i := range v.p99s {
			rs = append(rs, v.p99s[i]/vs[0].p99s[i])
		}
		s := spreadOf(rs)
		ratio := float64(p99) / float64(goP99)
		ok2 := verdict(ratio <= 1.2)
		fmt.Printf("%-52s %8.3f ms  target <= 1 ms  %s\n", v.name+" p99", ms(p99), ok)
		fmt.Printf("%-52s %8.2f     target <= 1.2   %s  (per round: %.2f [%.2f-%.2f])\n", v.name+" p99 ÷ Go core p99",
			ratio, ok2, s.med, s.min, s.max)
		if v.key == "ccb" { // the targets name the C callback; next_event is reported alongside
			out = append(out, ok, ok2)
		}
	}
	return out, nil
}

func pushEvent(admin, id string) error {
	body, _ := json.Marshal(map[string]any{"id": id, "target": "general.notifications", "type": "display",
		"data": map[string]string{"text": "Bitte Karte einstecken oder auflegen"}})
	resp, err := http.Post(strings.TrimRight(admin, "/")+"/events", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pushing an event: sandbox answered %s", resp.Status)
	}
	return nil
}

// rssGrowth runs rssCalls calls through the C ABI and reports the RSS growth
// over the second half.
func rssGrowth(o options, common []string) (string, error) {
	w, err := startWorker("C ABI RSS", common, o.cbench, "sync")
	if err != nil {
		return "", err
	}
	defer w.stop()
	half := o.rssCalls / 2
	var kb [2]int64
	for i := range kb {
		if err := w.send("rss %d %d", half, o.callers); err != nil {
			return "", err
		}
		kv, err := w.expect("rss", 10*time.Minute)
		if err != nil {
			return "", err
		}
		kb[i], _ = strconv.ParseInt(kv["rss_kb"], 10, 64)
	}
	growth := kb[1] - kb[0]
	v := verdict(growth <= 1024)
	fmt.Printf("%-52s %8d KiB target <= 1024 KiB  %s\n", fmt.Sprintf("RSS growth, C ABI, calls %d..%d (%d -> %d KiB)", half, 2*half, kb[0], kb[1]), growth, v)
	return v, nil
}
