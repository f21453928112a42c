package event

import (
	"container/list"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/redact"
)

// DefaultQueueSize bounds the queue when Options.QueueSize is 0.
const DefaultQueueSize = 1024

// DedupeWindow is how many recent push ids are remembered for
// de-duplication (documented with the config key events.dedupe).
const DedupeWindow = 4096

// Fetcher loads the object behind a {object, id} stub for FetchChanged.
type Fetcher func(ctx context.Context, resource, id string) (json.RawMessage, error)

// Options configure a Dispatcher.
type Options struct {
	// QueueSize bounds undelivered events. Overflow policy: the OLDEST queued
	// event is discarded (the newest state matters most at a till: the last
	// display text, the final transaction change), the loss is counted, and a
	// {"kind":"dropped","count":n} event is delivered before the next event, so
	// nothing is lost silently.
	QueueSize int
	// Dedupe drops push events whose id was delivered recently (a webhook and a
	// STOMP push of the same event, or a redelivery).
	Dedupe bool
	// FetchChanged replaces the {object,id} stubs of "changed" push events with
	// the objects themselves, fetched through Fetch before delivery (as the
	// legacy SDKs did for payment.* and smart.checkins). A failed fetch keeps the
	// stub and is reported as an "error" event.
	FetchChanged bool
	Fetch        Fetcher
	FetchTimeout time.Duration // per fetch, default 10s
	Logger       *logging.Logger
	// Redactor masks every event before delivery (the client's; nil masks
	// the patterns only).
	Redactor *redact.Redactor
}

// Stats counts what the dispatcher did.
type Stats struct {
	Published    int64 `json:"published"`
	Delivered    int64 `json:"delivered"`
	Dropped      int64 `json:"dropped"`
	Deduplicated int64 `json:"deduplicated"`
	FetchFailed  int64 `json:"fetch_failed"`
	// Discarded counts events still queued when the dispatcher closed.
	Discarded int64 `json:"discarded"`
}

// Dispatcher queues events and delivers them one at a time, in order, either to
// a handler (from its own goroutine) or to callers of Next.
type Dispatcher struct {
	opts Options
	log  *logging.Logger

	mu          sync.Mutex
	changed     *sync.Cond // signalled on publish, handler change, delivery end, close
	queue       []Event    // FIFO; bounded by opts.QueueSize
	pendingDrop int        // drops not yet reported to the host
	handler     func(Event)
	delivering  bool // the goroutine is inside handler
	waiting     int  // callers of Next waiting for an event (observable state for tests)
	closed      bool
	seen        map[string]*list.Element
	seenOrder   *list.List
	stats       Stats

	done chan struct{}
}

// New starts a dispatcher. Close it to stop its goroutine.
func New(opts Options) *Dispatcher {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Second
	}
	d := &Dispatcher{opts: opts, log: opts.Logger.With("events: "), done: make(chan struct{})}
	d.changed = sync.NewCond(&d.mu)
	if opts.Dedupe {
		d.seen = map[string]*list.Element{}
		d.seenOrder = list.New()
	}
	go d.run()
	return d
}

// Publish queues an event without blocking. After Close it is ignored.
func (d *Dispatcher) Publish(e Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if e.Kind == KindPush && d.seen != nil && e.ID != "" {
		if _, dup := d.seen[e.ID]; dup {
			d.stats.Deduplicated++
			return
		}
		d.seen[e.ID] = d.seenOrder.PushBack(e.ID)
		if d.seenOrder.Len() > DedupeWindow {
			oldest := d.seenOrder.Front()
			d.seenOrder.Remove(oldest)
			delete(d.seen, oldest.Value.(string))
		}
	}
	d.stats.Published++
	if len(d.queue) >= d.opts.QueueSize {
		d.queue = d.queue[1:]
		d.pendingDrop++
		d.stats.Dropped++
		d.log.Warnf("event queue full (%d): dropped the oldest event", d.opts.QueueSize)
	}
	d.queue = append(d.queue, e)
	d.changed.Broadcast()
}

// SetHandler routes events to h from the dispatcher's goroutine (nil: events
// wait for Next). It does not wait for a delivery in progress; call WaitIdle
// for that (except from inside the handler, which would deadlock).
func (d *Dispatcher) SetHandler(h func(Event)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errs.New(errs.Closed, "events", "the client is closed")
	}
	d.handler = h
	d.changed.Broadcast()
	return nil
}

// WaitIdle blocks until no handler call is in progress.
func (d *Dispatcher) WaitIdle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.delivering {
		d.changed.Wait()
	}
}

// Next waits for the next event when no handler is set. It returns a Timeout
// *errs.Error when ctx ends without an event (the C API's SECUCARD_ERR_NO_EVENT),
// InvalidArgument while a handler is set, and Closed after Close.
func (d *Dispatcher) Next(ctx context.Context) (Event, error) {
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.changed.Broadcast()
		d.mu.Unlock()
	})
	defer stop()
	d.mu.Lock()
	for {
		if d.closed {
			d.mu.Unlock()
			return Event{}, errs.New(errs.Closed, "events", "the client is closed")
		}
		if d.handler != nil {
			d.mu.Unlock()
			return Event{}, errs.Invalid("event_callback", "is set: events go to the callback; unregister it to use next_event")
		}
		if e, ok := d.popLocked(); ok {
			d.mu.Unlock()
			return d.prepare(e), nil
		}
		if ctx.Err() != nil {
			d.mu.Unlock()
			return Event{}, errs.Wrap(errs.Timeout, "events", ctx.Err(), "no event arrived in time")
		}
		d.waiting++
		d.changed.Wait()
		d.waiting--
	}
}

// popLocked takes the next event, reporting overflow first.
func (d *Dispatcher) popLocked() (Event, bool) {
	if d.pendingDrop > 0 {
		n := d.pendingDrop
		d.pendingDrop = 0
		d.stats.Delivered++
		return Event{Kind: KindDropped, Count: n, Reason: "queue_full"}, true
	}
	if len(d.queue) == 0 {
		return Event{}, false
	}
	e := d.queue[0]
	d.queue[0] = Event{}
	d.queue = d.queue[1:]
	d.stats.Delivered++
	return e, true
}

func (d *Dispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for !d.closed && (d.handler == nil || (len(d.queue) == 0 && d.pendingDrop == 0)) {
			d.changed.Wait()
		}
		if d.closed && (d.handler == nil || (len(d.queue) == 0 && d.pendingDrop == 0)) {
			// Closed, and nothing (more) a handler could take: what is left
			// has nobody to go to. Counted and logged so the loss is visible;
			// pendingDrop is already in Dropped.
			if n := len(d.queue); n > 0 {
				d.stats.Discarded += int64(n)
				d.log.Infof("closed with %d undelivered event(s) and no event handler; they are discarded", n)
			}
			d.queue = nil
			d.mu.Unlock()
			return
		}
		e, _ := d.popLocked()
		h := d.handler
		d.delivering = true
		d.mu.Unlock()

		d.deliver(h, d.prepare(e))

		d.mu.Lock()
		d.delivering = false
		d.changed.Broadcast()
		d.mu.Unlock()
	}
}

// deliver calls the handler, containing a panic so one bad handler cannot kill
// event delivery for the client.
func (d *Dispatcher) deliver(h func(Event), e Event) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Errorf("event handler panicked: %v", r)
		}
	}()
	h(e)
}

// prepare runs the optional follow-up fetch and redacts the event. It runs
// outside the lock, on the delivering goroutine, so fetched events keep their
// place in the order.
func (d *Dispatcher) prepare(e Event) Event {
	return d.fetch(e).Redacted(d.opts.Redactor)
}

func (d *Dispatcher) fetch(e Event) Event {
	if !d.opts.FetchChanged || d.opts.Fetch == nil || e.Kind != KindPush || e.Type != "changed" {
		return e
	}
	stubs, ok := e.Stubs()
	if !ok {
		return e
	}
	objs := make([]json.RawMessage, 0, len(stubs))
	for _, s := range stubs {
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.FetchTimeout)
		obj, err := d.opts.Fetch(ctx, s.Object, s.ID)
		cancel()
		if err != nil {
			d.mu.Lock()
			d.stats.FetchFailed++
			d.mu.Unlock()
			d.log.Warnf("follow-up fetch of %s %s failed: %v", s.Object, s.ID, err)
			d.Publish(Background(errs.Wrap(errs.KindOf(err), "events.fetch_changed", err,
				"could not fetch %s %s named by a changed event: %s", s.Object, s.ID, errs.As(err).Message)))
			return e
		}
		objs = append(objs, obj)
	}
	data, err := json.Marshal(objs)
	if err != nil {
		return e
	}
	e.Data = data
	return e
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Close stops taking events (Publish ignores them from now on, Next returns
// Closed), delivers what is queued to the handler, if one is set, and returns
// when the last handler call has returned: the events of the close itself
// (the STOMP channel's "disconnected") reach the host before Close returns.
// Without a handler queued events are discarded (counted in Stats.Discarded
// and logged). Do not call it from inside the handler. Closing twice is
// harmless.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	d.closed = true
	d.changed.Broadcast()
	d.mu.Unlock()
	<-d.done
}
