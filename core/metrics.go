package core

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
)

// latencyWindow is how many recent call latencies the percentiles cover.
const latencyWindow = 2048

// Stats is a snapshot of a client's counters (the JSON of secucard_client_stats).
type Stats struct {
	Calls          map[string]int64 `json:"calls"` // by outcome: "ok" or the error kind
	Retries        int64            `json:"retries"`
	TokenRequests  int64            `json:"token_requests"`
	TokenRefreshes int64            `json:"token_refreshes"`
	LatencyMS      Latency          `json:"latency_ms"`
	Events         event.Stats      `json:"events"`
	STOMP          STOMPStats       `json:"stomp"`
}

// Latency summarises recent call latencies in milliseconds.
type Latency struct {
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"` // calls measured in total (the percentiles cover the most recent ones)
}

// STOMPStats describes the push channel.
type STOMPStats struct {
	Connected  bool  `json:"connected"`
	Reconnects int64 `json:"reconnects"`
}

type metrics struct {
	retries atomic.Int64

	mu      sync.Mutex
	calls   map[string]int64
	ring    [latencyWindow]time.Duration
	next    int
	count   int64
	maxSeen time.Duration
}

func newMetrics() *metrics { return &metrics{calls: map[string]int64{}} }

func (m *metrics) record(err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = string(errs.KindOf(err))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[outcome]++
	m.ring[m.next] = d
	m.next = (m.next + 1) % latencyWindow
	m.count++
	if d > m.maxSeen {
		m.maxSeen = d
	}
}

func (m *metrics) snapshot() Stats {
	m.mu.Lock()
	calls := make(map[string]int64, len(m.calls))
	for k, v := range m.calls {
		calls[k] = v
	}
	n := int(min(m.count, latencyWindow))
	lat := make([]time.Duration, n)
	copy(lat, m.ring[:n])
	count, maxSeen := m.count, m.maxSeen
	m.mu.Unlock()

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p*float64(len(lat)-1) + 0.5)
		return float64(lat[i].Microseconds()) / 1000
	}
	return Stats{
		Calls:   calls,
		Retries: m.retries.Load(),
		LatencyMS: Latency{
			P50: pct(0.50), P90: pct(0.90), P99: pct(0.99),
			Max: float64(maxSeen.Microseconds()) / 1000, Count: count,
		},
	}
}
