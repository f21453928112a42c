package sandbox

import (
	"encoding/json"
	"sync"
	"time"
)

// Event is the server-side push event. It marshals with the keys of the real
// push JSON (spec §5.2); EncodeJSON gives the real server's escaping.
type Event struct {
	Object  string          `json:"object"`  // "event.pushs" (STOMP pushes); webhooks use "event.pushes"
	ID      string          `json:"id"`      // EPS_ + 30 upper-case alphanumerics
	Created string          `json:"created"` // 2006-01-02T15:04:05+01:00
	Target  string          `json:"target"`  // product.resource the event is about
	Type    string          `json:"type"`    // changed, added, display, ...
	Data    json.RawMessage `json:"data"`    // object or array
}

// maxQueuedEvents bounds one subscriber's backlog; beyond it the oldest
// events are dropped so a stuck subscriber cannot grow memory without end.
const maxQueuedEvents = 10000

// hub fans events out to subscribers. Each subscriber has its own goroutine
// and queue: fn is called in push order, never under a lock, and a slow
// subscriber delays nobody else.
type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	all    bool   // token "": every event
	client string // the client the token was issued to ("" when unknown)
	fn     func(Event)

	mu      sync.Mutex
	wake    *sync.Cond
	queue   []Event
	stopped bool
}

// Subscribe calls fn for every event pushed for the client the token belongs
// to (token "" receives every event). Events pushed with Push reach every
// subscriber. fn runs on a goroutine of its own, one event at a time, in push
// order. cancel stops delivery: events not yet delivered are dropped, and a
// call of fn already running may still finish after cancel returns. cancel may
// be called from inside fn and more than once.
func (s *Server) Subscribe(token string, fn func(Event)) (cancel func()) {
	sub := &subscriber{all: token == "", fn: fn}
	if token != "" {
		sub.client = s.clientOf(token)
	}
	sub.wake = sync.NewCond(&sub.mu)
	s.hub.mu.Lock()
	if s.hub.closed || fn == nil {
		s.hub.mu.Unlock()
		return func() {}
	}
	if s.hub.subs == nil {
		s.hub.subs = map[*subscriber]struct{}{}
	}
	s.hub.subs[sub] = struct{}{}
	s.hub.mu.Unlock()
	go sub.run()
	return func() {
		s.hub.mu.Lock()
		delete(s.hub.subs, sub)
		s.hub.mu.Unlock()
		sub.stop()
	}
}

// Push delivers ev to every subscriber. Empty Object, ID and Created are
// filled in ("event.pushs", a new EPS_ id, now).
func (s *Server) Push(ev Event) {
	s.deliver(s.completeEvent(ev), func(*subscriber) bool { return true })
}

// pushToClient delivers ev to the client's subscribers and to "" subscribers.
func (s *Server) pushToClient(client string, ev Event) {
	s.deliver(s.completeEvent(ev), func(sub *subscriber) bool { return sub.all || (client != "" && sub.client == client) })
}

func (s *Server) completeEvent(ev Event) Event {
	if ev.Object == "" {
		ev.Object = "event.pushs"
	}
	if ev.ID == "" {
		ev.ID = "EPS_" + s.randFrom(upperAlnum, idRandomLen)
	}
	if ev.Created == "" {
		ev.Created = timestamp(time.Now())
	}
	if len(ev.Data) == 0 {
		ev.Data = json.RawMessage("null")
	}
	return ev
}

func (s *Server) deliver(ev Event, match func(*subscriber) bool) {
	s.hub.mu.Lock()
	targets := make([]*subscriber, 0, len(s.hub.subs))
	for sub := range s.hub.subs {
		if match(sub) {
			targets = append(targets, sub)
		}
	}
	s.hub.mu.Unlock()
	for _, sub := range targets {
		sub.enqueue(ev)
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	h.closed = true
	subs := h.subs
	h.subs = nil
	h.mu.Unlock()
	for sub := range subs {
		sub.stop()
	}
}

func (sub *subscriber) enqueue(ev Event) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.stopped {
		return
	}
	if len(sub.queue) >= maxQueuedEvents {
		sub.queue = sub.queue[1:]
	}
	sub.queue = append(sub.queue, ev)
	sub.wake.Signal()
}

func (sub *subscriber) stop() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.stopped = true
	sub.queue = nil
	sub.wake.Signal()
}

func (sub *subscriber) run() {
	for {
		sub.mu.Lock()
		for len(sub.queue) == 0 && !sub.stopped {
			sub.wake.Wait()
		}
		if sub.stopped {
			sub.mu.Unlock()
			return
		}
		ev := sub.queue[0]
		sub.queue = sub.queue[1:]
		sub.mu.Unlock()
		sub.fn(ev)
	}
}
