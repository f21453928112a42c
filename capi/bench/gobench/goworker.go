package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/event"
)

// The Go workers: "raw" (net/http with a fixed token, the floor), "core"
// (core.Client.Call, what a Go program pays) and "push" (the Go core's event
// handler, the baseline of the push latency).

// The workload, the same in every worker: callers alternate a GET of one
// ident and a POST that validates a card number (a body each way, an X-Action
// id, no state growing in the sandbox).
const (
	getRequest  = `{"resource":"smart.idents","op":"get","id":"smi_1"}`
	postRequest = `{"resource":"smart.idents","op":"execute","id":"notused","action":"validate","data":[{"type":"card","value":"9276000000000016"}]}`
	postBody    = `[{"type":"card","value":"9276000000000016"}]`
)

func workerMain(mode string) error {
	cfgJSON := os.Getenv("BENCH_CONFIG")
	cfg, err := core.ParseConfig([]byte(cfgJSON))
	if err != nil {
		return err
	}
	c, err := core.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()

	if mode == "push" {
		return pushWorker(ctx, c)
	}
	var call func(post bool) error
	switch mode {
	case "core":
		call = func(post bool) error {
			req := &api.Request{Resource: "smart.idents", Op: api.Get, ID: "smi_1"}
			if post {
				req = &api.Request{Resource: "smart.idents", Op: api.Execute, ID: "notused", Action: "validate",
					Data: json.RawMessage(postBody)}
			}
			_, err := c.Call(ctx, req)
			return err
		}
	case "raw":
		if call, err = rawCaller(ctx, c); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown worker %q", mode)
	}
	for i := 0; i < 200; i++ { // token, connections, stacks
		if err := call(i%2 == 1); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var n, callers int
		if _, err := fmt.Sscanf(sc.Text(), "calls %d %d", &n, &callers); err != nil {
			return fmt.Errorf("bad command %q", sc.Text())
		}
		fmt.Println(goCalls(n, callers, call))
	}
	return nil
}

// goCalls runs n calls from callers goroutines and reports them as the C and
// Python workers do.
func goCalls(n, callers int, call func(post bool) error) string {
	var wg sync.WaitGroup
	var mu sync.Mutex
	errors := 0
	u0, t0 := selfUsage(), time.Now()
	for w := 0; w < callers; w++ {
		share := n / callers
		if w < n%callers {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			bad := 0
			for j := 0; j < share; j++ {
				if call(j%2 == 1) != nil {
					bad++
				}
			}
			mu.Lock()
			errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall, use := time.Since(t0), selfUsage().minus(u0)
	return fmt.Sprintf("result calls=%d errors=%d wall_ns=%d cpu_ns=%d csw=%d", n, errors, wall.Nanoseconds(), use.cpuNS, use.csw)
}

// rawCaller sends the workload's two requests with net/http directly: the
// token fetched once, a transport like the core's, the body read and thrown
// away (no JSON decoding), a fresh X-Action id per POST as the core sends.
func rawCaller(ctx context.Context, c *core.Client) (func(bool) error, error) {
	tok, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	var sb struct {
		SandboxURL string `json:"sandbox_url"`
	}
	if err := json.Unmarshal([]byte(os.Getenv("SECUCARD_SANDBOX")), &sb); err != nil || sb.SandboxURL == "" {
		return nil, fmt.Errorf("SECUCARD_SANDBOX has no sandbox_url")
	}
	base := strings.TrimRight(sb.SandboxURL, "/") + "/api/v2/Smart/Idents/"
	hc := &http.Client{Transport: &http.Transport{
		DialContext:  (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns: 64, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
	}}
	bearer := "Bearer " + tok.AccessToken
	return func(post bool) error {
		var r *http.Request
		if post {
			r, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"notused/validate", bytes.NewReader([]byte(postBody)))
			r.Header.Set("Content-Type", "application/json")
			var id [16]byte
			_, _ = rand.Read(id[:])
			r.Header.Set("X-Action", hex.EncodeToString(id[:]))
		} else {
			r, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+"smi_1", nil)
		}
		r.Header.Set("Authorization", bearer)
		r.Header.Set("Accept", "application/json")
		resp, err := hc.Do(r)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}, nil
}

// pushWorker reports every pushed event the core's handler receives.
func pushWorker(ctx context.Context, c *core.Client) error {
	type arrival struct {
		id string
		t  int64
	}
	out := make(chan arrival, 1024)
	if err := c.SetEventHandler(func(e event.Event) {
		t := monoNow() // first line of the host's handler
		if e.Kind == event.KindPush {
			out <- arrival{e.ID, t}
		}
	}); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.Open(octx); err != nil {
		return err
	}
	fmt.Println("ready")
	go func() {
		for a := range out {
			fmt.Printf("event %s %d\n", a.id, a.t)
		}
	}()
	_, _ = io.Copy(io.Discard, os.Stdin) // until the orchestrator closes stdin
	return nil
}
