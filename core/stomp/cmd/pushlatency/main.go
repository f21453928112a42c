// Command pushlatency is the push line of `make bench`: the time from the
// sandbox pushing an event to the client's event handler running with it,
// over a loopback STOMP connection. The path measured is the whole pipeline
// a till depends on: sandbox hub -> STOMP MESSAGE -> the channel's reader ->
// event.ParsePush -> the client's dispatcher queue -> the handler goroutine.
// Events are pushed one at a time (each waits for the previous one's
// delivery), so the numbers are latency, not queueing under load.
//
// Usage: pushlatency [-events N] [-warmup N]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/sandbox"
)

// target is the project's goal for push -> host callback on loopback.
const target = time.Millisecond

func main() {
	n := flag.Int("events", 2000, "events to measure")
	warmup := flag.Int("warmup", 200, "events pushed first and not measured")
	flag.Parse()
	if err := run(*n, *warmup); err != nil {
		fmt.Fprintf(os.Stderr, "pushlatency: %v\n", err)
		os.Exit(1)
	}
}

func run(n, warmup int) error {
	if n < 1 || warmup < 0 {
		return fmt.Errorf("-events must be positive and -warmup not negative")
	}
	srv, err := sandbox.New(sandbox.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return err
	}
	addr, err := srv.StartSTOMP("127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	enabled, plain := true, false
	c, err := core.New(core.Config{
		Environment: core.EnvSandbox,
		SandboxURL:  srv.URL(),
		Credentials: &core.Credentials{ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret()},
		STOMP:       core.STOMPConfig{Enabled: &enabled, Host: "127.0.0.1", Port: port, TLS: &plain},
		LogLevel:    "off",
	})
	if err != nil {
		return err
	}
	defer c.Close()

	var mu sync.Mutex
	sent := map[string]time.Time{}
	arrived := make(chan time.Duration, 1)
	if err := c.SetEventHandler(func(e event.Event) {
		now := time.Now()
		if e.Kind != event.KindPush {
			return
		}
		mu.Lock()
		t0, ok := sent[e.ID]
		delete(sent, e.ID)
		mu.Unlock()
		if ok {
			arrived <- now.Sub(t0)
		}
	}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Open(ctx); err != nil {
		return err
	}

	data := json.RawMessage(`{"text":"Bitte Karte einstecken oder auflegen"}`)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < warmup+n; i++ {
		id := fmt.Sprintf("EPS_BENCH%025d", i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		srv.Push(sandbox.Event{ID: id, Target: "general.notifications", Type: "display", Data: data})
		select {
		case d := <-arrived:
			if i >= warmup {
				lat = append(lat, d)
			}
		case <-time.After(5 * time.Second):
			return fmt.Errorf("event %d did not reach the handler within 5 s", i)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1)+0.5)] }
	verdict := "met"
	if pct(0.99) > target {
		verdict = "MISSED"
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("push -> handler (sandbox push, STOMP on loopback, dispatcher): %d events  p50 %s  p99 %s  max %s  target p99 <= %s: %s\n",
		len(lat), ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]), ms(target), verdict)
	return nil
}
