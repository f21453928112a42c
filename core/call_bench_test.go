package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	corecall "github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// The per-call cost of the core against raw net/http, on the workload of
// `make bench` (a GET and a POST with a body, alternating), one caller, an
// in-process sandbox. Read allocs/op and B/op first: they do not move with
// the load on the machine. `make bench` has the paired end-to-end figures.

const benchPostBody = `[{"type":"card","value":"9276000000000016"}]`

func benchClient(b *testing.B) (*core.Client, *sandbox.Server) {
	srv := testkit.Sandbox(b, sandbox.Options{})
	cfg := testkit.ClientConfig(b, srv)
	cfg["stomp"] = map[string]any{"enabled": false}
	c, err := core.NewFromJSON(testkit.JSON(b, cfg))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c, srv
}

func BenchmarkCoreCall(b *testing.B) {
	c, _ := benchClient(b)
	ctx := context.Background()
	call := func(i int) {
		req := &api.Request{Resource: "smart.idents", Op: api.Get, ID: "smi_1"}
		if i%2 == 1 {
			req = &api.Request{Resource: "smart.idents", Op: api.Execute, ID: "notused", Action: "validate",
				Data: json.RawMessage(benchPostBody)}
		}
		if _, err := c.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	measure(b, call)
}

// measure warms call up (token, connections), then times b.N calls.
func measure(b *testing.B, call func(i int)) {
	for i := 0; i < 20; i++ {
		call(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call(i)
	}
}

func BenchmarkRawHTTP(b *testing.B) {
	c, srv := benchClient(b)
	ctx := context.Background()
	tok, err := c.Token(ctx)
	if err != nil {
		b.Fatal(err)
	}
	base := strings.TrimRight(srv.Endpoints().SandboxURL, "/") + "/api/v2/Smart/Idents/"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	call := func(i int) {
		var r *http.Request
		if i%2 == 1 {
			r, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"notused/validate", bytes.NewReader([]byte(benchPostBody)))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Action", corecall.RandomID()) // fresh, as the core's: the sandbox stores each
		} else {
			r, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+"smi_1", nil)
		}
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		r.Header.Set("Accept", "application/json")
		resp, err := hc.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	measure(b, call)
}
