package main

import (
	"fmt"
	"sync"

	"github.com/libsecucard/libsecucard/core/logging"
)

// maxQueuedLogLines bounds memory when the host's log callback is slower than
// the library logs. Lines beyond it are counted and reported in a line of
// their own, never dropped silently.
const maxQueuedLogLines = 4096

// logTarget is one registered log callback.
type logTarget struct {
	fn    func(level logging.Level, msg string)
	level logging.Level
}

type logLine struct {
	target *logTarget
	level  logging.Level
	msg    string
}

// logPump is a client's logging.Sink. The core logs from any goroutine, maybe
// while holding its own locks, so Log only queues; one goroutine per client
// hands the lines, in order, to the host callback with no lock held.
type logPump struct {
	client uint64

	mu       sync.Mutex
	cond     *sync.Cond
	target   *logTarget // nil: logging off
	queue    []logLine
	dropped  int    // lines refused since the last drop report
	queued   uint64 // lines ever queued
	finished uint64 // lines ever delivered
	running  bool
	stopped  bool
}

func newLogPump(client uint64) *logPump {
	p := &logPump{client: client}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Log implements logging.Sink. It never blocks on the host.
func (p *logPump) Log(level logging.Level, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.target
	if p.stopped || t == nil || level == logging.Off || level > t.level {
		return
	}
	if len(p.queue) >= maxQueuedLogLines {
		p.dropped++
		return
	}
	p.reportDropsLocked()
	p.pushLocked(logLine{target: t, level: level, msg: msg})
}

// reportDropsLocked queues a line saying how many lines were refused.
func (p *logPump) reportDropsLocked() {
	if p.dropped == 0 || p.target == nil {
		return
	}
	p.pushLocked(logLine{target: p.target, level: logging.Warn,
		msg: fmt.Sprintf("libsecucard: %d log lines were dropped because the log callback fell behind", p.dropped)})
	p.dropped = 0
}

func (p *logPump) pushLocked(l logLine) {
	p.queue = append(p.queue, l)
	p.queued++
	if !p.running {
		p.running = true
		go p.run()
	}
	p.cond.Broadcast()
}

// run delivers queued lines until the queue is empty; it exits when idle and
// is restarted by the next line, so an idle client holds no goroutine.
func (p *logPump) run() {
	p.mu.Lock()
	for {
		if len(p.queue) == 0 {
			p.reportDropsLocked()
		}
		if len(p.queue) == 0 {
			break
		}
		l := p.queue[0]
		p.queue[0] = logLine{}
		p.queue = p.queue[1:]
		p.mu.Unlock()
		l.target.fn(l.level, l.msg)
		p.mu.Lock()
		p.finished++
		p.cond.Broadcast()
	}
	p.running = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// set replaces the callback (nil: logging off). Unless wait is false (the
// caller runs inside one of this client's callbacks and would wait for
// itself), it returns only after every line queued for the previous callback
// was delivered, so the host may release that callback's user_data.
func (p *logPump) set(t *logTarget, wait bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reportDropsLocked() // drops belong to the callback they were meant for
	p.target = t
	if wait {
		p.waitLocked(p.queued)
	}
}

func (p *logPump) waitLocked(upTo uint64) {
	for p.finished < upTo {
		p.cond.Wait()
	}
}

// stop delivers what is queued, then refuses every later line.
func (p *logPump) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reportDropsLocked()
	p.target = nil
	p.waitLocked(p.queued)
	p.stopped = true
}
