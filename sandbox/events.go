package sandbox

import (
	"context"
	"encoding/json"
	"sync"
)

// Event is the server-side push event; it marshals exactly like the real
// push JSON (spec §5.2), in the server's JSON style.
type Event struct {
	Object  string          `json:"object"`  // "event.pushs" (STOMP) / "event.pushes" (webhook)
	ID      string          `json:"id"`      // EPS_...
	Created string          `json:"created"` // 2015-08-12T09:12:37+02:00
	Target  string          `json:"target"`  // product.resource the event is about
	Type    string          `json:"type"`    // changed, added, display, ...
	Data    json.RawMessage `json:"data"`    // object or array
}

// MarshalJSON writes the event in the server's JSON style (\/ and \uXXXX).
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	p := plain(e)
	if len(p.Data) == 0 {
		p.Data = json.RawMessage("null")
	}
	return EncodeJSON(p)
}

// eventObject is the object name of events pushed over STOMP (spec §5.1).
const eventObject = "event.pushs"

// Push publishes ev to every subscriber. Missing object, id and created are
// filled in.
func (s *Server) Push(ev Event) {
	s.hub.publish(s.completeEvent(ev), "", true)
}

// pushTo publishes ev to the subscribers of client and to the "" ones.
func (s *Server) pushTo(client string, ev Event) {
	s.hub.publish(s.completeEvent(ev), client, false)
}

func (s *Server) completeEvent(ev Event) Event {
	if ev.Object == "" {
		ev.Object = eventObject
	}
	if ev.ID == "" || ev.Created == "" {
		s.mu.Lock()
		if ev.ID == "" {
			ev.ID = s.newIDLocked(s.colls["event.pushs"])
		}
		s.mu.Unlock()
		if ev.Created == "" {
			ev.Created = s.stamp(s.now())
		}
	}
	return ev
}

// Subscribe delivers events to fn: with token "" every event, otherwise the
// events of the token's client (looked up now, so the subscription outlives
// the token's expiry) and events pushed with Push. fn runs on a goroutine
// of its own subscription, in publish order, never under a sandbox lock; it
// may call cancel. After cancel returns, fn is not called again except for
// a call already running.
func (s *Server) Subscribe(token string, fn func(Event)) (cancel func()) {
	client := ""
	if token != "" {
		client = s.clientOf(token)
		if client == "" {
			client = "\x00unknown" // only events pushed to everybody
		}
	}
	_, cancel = s.hub.subscribe(client, token == "", fn)
	return cancel
}

// hub fans events out to subscribers. Each subscriber has an unbounded queue
// and one goroutine, so a slow fn delays only itself.
type hub struct {
	ctx  context.Context
	log  logger
	mu   sync.Mutex
	subs map[*subscriber]struct{}
	wg   sync.WaitGroup
}

type subscriber struct {
	client string
	all    bool
	fn     func(Event)

	mu     sync.Mutex
	queue  []Event
	closed bool
	wake   chan struct{} // capacity 1
	done   chan struct{}
	once   sync.Once
}

func (h *hub) init(ctx context.Context, log logger) {
	h.ctx, h.log = ctx, log
	h.subs = map[*subscriber]struct{}{}
}

func (h *hub) subscribe(client string, all bool, fn func(Event)) (*subscriber, func()) {
	sub := &subscriber{client: client, all: all, fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	h.wg.Add(1)
	go h.run(sub)
	return sub, func() {
		sub.once.Do(func() {
			sub.mu.Lock()
			sub.closed = true
			sub.queue = nil
			sub.mu.Unlock()
			close(sub.done)
			h.mu.Lock()
			delete(h.subs, sub)
			h.mu.Unlock()
		})
	}
}

// publish enqueues ev for the matching subscribers. Holding h.mu while
// enqueuing keeps one publish order for every subscriber.
func (h *hub) publish(ev Event, client string, everyone bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if !everyone && !sub.all && sub.client != client {
			continue
		}
		sub.mu.Lock()
		if !sub.closed {
			sub.queue = append(sub.queue, ev)
		}
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

func (h *hub) run(sub *subscriber) {
	defer h.wg.Done()
	for {
		select {
		case <-sub.wake:
		case <-sub.done:
			return
		case <-h.ctx.Done():
			return
		}
		for {
			sub.mu.Lock()
			if sub.closed || len(sub.queue) == 0 {
				sub.mu.Unlock()
				break
			}
			ev := sub.queue[0]
			sub.queue = sub.queue[1:]
			sub.mu.Unlock()
			h.deliver(sub, ev)
		}
	}
}

func (h *hub) deliver(sub *subscriber, ev Event) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Errorf("event subscriber panicked on %s/%s: %v", ev.Target, ev.Type, r)
		}
	}()
	sub.fn(ev)
}

// wait blocks until every subscriber goroutine has ended (after ctx ended).
func (h *hub) wait() { h.wg.Wait() }
