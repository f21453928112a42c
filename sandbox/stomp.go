package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// The STOMP endpoint (spec §4, §9.4 item 3) speaks STOMP 1.2 the way the
// secucard broker (RabbitMQ with a backend on exchange connect.api) looks to
// a client:
//
//   - CONNECT (or STOMP) with login = passcode = a valid access token, with
//     or without accept-version; anything else is ERROR message:Bad CONNECT
//     and the connection closes. CONNECTED carries version, session, server
//     and heart-beat. Every ERROR carries a message header.
//   - Heart-beats are honoured as negotiated: the endpoint sends an EOL as
//     often as the client asked, and closes a connection whose client was
//     silent for 2.5x the interval the client offered (lenient, ≥ 2x).
//     Intervals are taken as at least 50ms (the endpoint says so in
//     CONNECTED), so a client cannot make it beat without pause.
//   - Frames are bounded (stomp_frame.go): a frame over the limits, or one
//     that is malformed, is answered with ERROR message:Bad frame naming
//     the problem, and the connection closes.
//   - Every SEND carrying a receipt header is answered with RECEIPT at once,
//     before the request runs; the business reply follows as a MESSAGE with
//     the request's correlation-id and a message-id, body {"status":"ok",
//     "data":...} or the error envelope, compact and ASCII-only (EncodeJSON),
//     exactly once. A SEND without correlation-id runs but gets no reply (it
//     would look like a push to the client).
//   - auth.sessions refresh binds the connection's token for pushes: from
//     then on the connection receives its client's events (and everything
//     Push sends) as MESSAGE frames without correlation-id. A reply is queued
//     behind the events published while its request ran, so the display
//     events of smart.transactions start arrive before the start reply.
//   - SUBSCRIBE, ACK, transactions and friends are accepted and ignored
//     (replies arrive without SUBSCRIBE, as on a RabbitMQ temp-queue).
//
// Faults with channel "stomp" or "any" apply to SENDs (faults.go).
//
// Not reproduced: faults below the request level (broken frames, missed
// heart-beats), per-destination authorisation, and RabbitMQ's rewriting of
// reply-to into /reply-queue/... (replies are addressed to the reply-to the
// client sent).

// stompEndpoints maps a Server to its STOMP endpoint; the endpoint lives in
// these files without new fields on Server.
var stompEndpoints sync.Map // *Server -> *stompEndpoint

const (
	stompConnectWait  = 10 * time.Second // CONNECT (and TLS handshake) must arrive within this
	stompWriteTimeout = 10 * time.Second
	stompMaxQueued    = 50000 // frames waiting for a client that stopped reading
	stompReplyMarker  = "\x00stomp-reply"
	stompMinHeartBeat = 50 * time.Millisecond
	stompMaxHeartBeat = 24 * time.Hour // longer intervals are taken as this (no overflow)
	stompKeepEnded    = 100            // ended sessions STOMPSessions still reports
)

type stompEndpoint struct {
	s     *Server
	ln    net.Listener
	addr  string
	seq   atomic.Int64
	mu    sync.Mutex
	ca    []byte // PEM of the TLS certificate, nil for plain TCP
	conns map[*stompConn]struct{}
	ended []STOMPSession // the last stompKeepEnded, oldest first
	done  bool
}

// STOMPSession is one STOMP connection as the endpoint sees it, for tests
// that wait on the endpoint's state instead of reading its log.
type STOMPSession struct {
	Session    string `json:"session"`
	Open       bool   `json:"open"`
	Bound      bool   `json:"bound"`           // auth.sessions refresh bound it to its token's events
	HeartBeat  string `json:"heart_beat"`      // as in CONNECTED: "<sandbox sends>,<sandbox expects>" in ms
	Frames     int64  `json:"frames"`          // frames read from the client
	HeartBeats int64  `json:"heart_beats"`     // heart-beat EOLs read from the client
	Ended      string `json:"ended,omitempty"` // why it ended: DISCONNECT, closed by the client, dropped, ...
}

// STOMPSessions lists the open STOMP connections and the last ended ones
// (ended first, oldest first).
func (s *Server) STOMPSessions() []STOMPSession {
	v, ok := stompEndpoints.Load(s)
	if !ok {
		return nil
	}
	ep := v.(*stompEndpoint)
	ep.mu.Lock()
	defer ep.mu.Unlock()
	out := append([]STOMPSession(nil), ep.ended...)
	var open []STOMPSession
	for c := range ep.conns {
		open = append(open, c.info())
	}
	sort.Slice(open, func(i, j int) bool { return open[i].Session < open[j].Session })
	return append(out, open...)
}

// info describes c; the caller holds ep.mu or c has ended.
func (c *stompConn) info() STOMPSession {
	c.bmu.Lock()
	bound := c.sub != nil
	c.bmu.Unlock()
	return STOMPSession{Session: c.session, Open: true, Bound: bound, HeartBeat: c.heartBeat,
		Frames: c.frames.Load(), HeartBeats: c.beats.Load()}
}

// StartSTOMP listens on addr (e.g. "127.0.0.1:0") and serves STOMP in the
// background, over TLS when tlsConf is set (TLS 1.2 at least), plain TCP
// otherwise. It returns the address ("127.0.0.1:PORT"). The endpoint stops
// with Close.
func (s *Server) StartSTOMP(addr string, tlsConf *tls.Config) (string, error) {
	s.lifeMu.Lock()
	closed := s.closed
	s.lifeMu.Unlock()
	if closed {
		return "", ErrClosed
	}
	ep := &stompEndpoint{s: s, conns: map[*stompConn]struct{}{}}
	if tlsConf != nil {
		ep.ca = certPEM(tlsConf)
	}
	if prev, loaded := stompEndpoints.LoadOrStore(s, ep); loaded {
		return "", &Error{Message: "the STOMP endpoint already listens at " + prev.(*stompEndpoint).addr}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		stompEndpoints.Delete(s)
		return "", failed(err, "cannot listen on %s: %v", addr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ep.addr = net.JoinHostPort(host, port)
	if tlsConf != nil {
		ln = tls.NewListener(ln, serverTLS(tlsConf))
	}
	ep.ln = ln
	go ep.serve()
	context.AfterFunc(s.ctx, ep.shutdown)
	return ep.addr, nil
}

// STOMPAddr is the STOMP endpoint's address, "" when it was not started.
func (s *Server) STOMPAddr() string {
	if v, ok := stompEndpoints.Load(s); ok {
		return v.(*stompEndpoint).addr
	}
	return ""
}

// DropSTOMPConnections closes every STOMP connection abruptly (no ERROR, no
// RECEIPT), as a broker restart or a network failure would, and returns how
// many there were. Requests running on them still finish inside the sandbox.
func (s *Server) DropSTOMPConnections() int {
	v, ok := stompEndpoints.Load(s)
	if !ok {
		return 0
	}
	return v.(*stompEndpoint).dropAll()
}

func (ep *stompEndpoint) serve() {
	for {
		nc, err := ep.ln.Accept()
		if err != nil {
			ep.mu.Lock()
			done := ep.done
			ep.mu.Unlock()
			if !done {
				ep.s.log.Errorf("STOMP accept failed, endpoint stopped: %v", err)
			}
			return
		}
		go ep.handle(nc)
	}
}

func (ep *stompEndpoint) shutdown() {
	ep.mu.Lock()
	ep.done = true
	ep.mu.Unlock()
	_ = ep.ln.Close()
	ep.dropAll()
	stompEndpoints.Delete(ep.s)
}

func (ep *stompEndpoint) dropAll() int {
	ep.mu.Lock()
	conns := make([]*stompConn, 0, len(ep.conns))
	for c := range ep.conns {
		conns = append(conns, c)
	}
	ep.mu.Unlock()
	for _, c := range conns {
		c.end("dropped")
	}
	return len(conns)
}

// stompConn is one client connection.
type stompConn struct {
	ep      *stompEndpoint
	nc      net.Conn
	session string
	token   string

	sendEvery time.Duration // heart-beats we send; 0 = none
	readLimit time.Duration // client silence we tolerate; 0 = unlimited
	heartBeat string        // the CONNECTED heart-beat header
	lastRead  atomic.Int64  // when the client was last heard, UnixNano of Server.now
	frames    atomic.Int64
	beats     atomic.Int64

	omu        sync.Mutex
	out        []*frame.Frame
	closeAfter string // a terminal frame is queued: close once it is written, for this reason
	wake       chan struct{}

	bmu     sync.Mutex
	sub     *subscriber
	unsub   func()
	replyTo string
	replies map[string]*frame.Frame // replies queued behind events (see sendReply)

	ctx     context.Context // ends with the connection
	cancel  context.CancelFunc
	endOnce sync.Once
}

func (ep *stompEndpoint) handle(nc net.Conn) {
	s := ep.s
	_ = nc.SetDeadline(time.Now().Add(stompConnectWait))
	if tc, ok := nc.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			s.log.Infof("STOMP TLS handshake from %s failed: %v", nc.RemoteAddr(), err)
			_ = nc.Close()
			return
		}
	}
	rd := newFrameReader(nc)
	w := frame.NewWriter(nc)
	refuse := func(command, message, body string) {
		e := frame.New(frame.ERROR, frame.Message, message, frame.ContentType, "text/plain")
		e.Body = []byte(body)
		e.Header.Add(frame.ContentLength, strconv.Itoa(len(e.Body)))
		_ = w.Write(e)
		_ = nc.Close()
		s.log.Infof("STOMP %s refused: %s: %s", command, message, body)
	}
	var f *frame.Frame
	for f == nil {
		var err error
		if f, err = rd.Read(); err != nil {
			if bad, ok := err.(*errBadFrame); ok {
				refuse("frame", "Bad frame", bad.why)
				return
			}
			_ = nc.Close()
			return
		}
	}
	if f.Command != frame.CONNECT && f.Command != frame.STOMP {
		refuse(f.Command, "Bad frame", "the first frame must be CONNECT")
		return
	}
	if av, ok := f.Header.Contains(frame.AcceptVersion); ok && !containsVersion(av, "1.2") {
		refuse(f.Command, "Unsupported version", "Supported protocol versions are 1.2")
		return
	}
	login, passcode := f.Header.Get(frame.Login), f.Header.Get(frame.Passcode)
	if login == "" || login != passcode || !s.ValidToken(login) {
		// RabbitMQ's text; the Java and JS SDKs test for it (spec §4.2). The
		// body never echoes the login: it is the token.
		refuse(f.Command, "Bad CONNECT", "Access refused: the access token is missing, invalid or expired")
		return
	}
	var cx, cy time.Duration
	if hb := f.Header.Get(frame.HeartBeat); hb != "" {
		var err error
		if cx, cy, err = frame.ParseHeartBeat(hb); err != nil {
			refuse(f.Command, "Bad CONNECT", "malformed heart-beat header; want <ms>,<ms>")
			return
		}
	}
	cx, cy = heartBeatInterval(cx), heartBeatInterval(cy)
	c := &stompConn{
		ep:        ep,
		nc:        nc,
		session:   "session-" + randomHex(12),
		token:     login,
		sendEvery: cy,
		heartBeat: fmt.Sprintf("%d,%d", cy.Milliseconds(), cx.Milliseconds()),
		wake:      make(chan struct{}, 1),
		replies:   map[string]*frame.Frame{},
	}
	if cx > 0 {
		c.readLimit = 2*cx + cx/2
	}
	c.lastRead.Store(s.now().UnixNano())
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	connected := frame.New(frame.CONNECTED,
		frame.Version, "1.2",
		frame.Session, c.session,
		frame.Server, "secucard-sandbox",
		frame.HeartBeat, c.heartBeat)
	// Registered before CONNECTED goes out, so a client that has its
	// CONNECTED is always reached by DropSTOMPConnections.
	ep.mu.Lock()
	if ep.done {
		ep.mu.Unlock()
		_ = nc.Close()
		return
	}
	ep.conns[c] = struct{}{}
	ep.mu.Unlock()
	if err := w.Write(connected); err != nil {
		c.end("write failed")
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s.log.Infof("STOMP CONNECT -> CONNECTED session %s", c.session)
	go c.writeLoop(w)
	if c.readLimit > 0 {
		go c.watch()
	}
	c.readLoop(rd)
}

// heartBeatInterval is the interval the endpoint uses for one the client
// asked for: 0 stays 0 (none), others within [stompMinHeartBeat,
// stompMaxHeartBeat].
func heartBeatInterval(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return min(max(d, stompMinHeartBeat), stompMaxHeartBeat)
}

// heard notes that the client was heard from now. It reports false when
// the client had been silent for longer than the heart-beats allow; the
// decision uses the sandbox clock, as the watchdog does.
func (c *stompConn) heard() bool {
	now := c.ep.s.now().UnixNano()
	last := c.lastRead.Swap(now)
	return c.readLimit <= 0 || time.Duration(now-last) <= c.readLimit
}

// silence is how long the client has not been heard, on the sandbox clock.
func (c *stompConn) silence() time.Duration {
	return time.Duration(c.ep.s.now().UnixNano() - c.lastRead.Load())
}

// watch closes the connection once the client has been silent for longer
// than readLimit. It looks a few times per interval.
func (c *stompConn) watch() {
	t := time.NewTicker(max(min(c.readLimit/4, time.Second), time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			if c.silence() > c.readLimit {
				c.end(c.silentWhy())
				return
			}
		}
	}
}

func (c *stompConn) silentWhy() string {
	return fmt.Sprintf("the client was silent for more than %s (heart-beats)", c.readLimit)
}

func containsVersion(list, v string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.TrimSpace(x) == v {
			return true
		}
	}
	return false
}

// readLoop reads the client's frames. After a frame that ends the session
// (DISCONNECT, or one answered with ERROR) it stops reading and leaves the
// close to the writer, which sends the RECEIPT or ERROR first.
func (c *stompConn) readLoop(rd *frameReader) {
	for {
		f, err := rd.Read()
		if err != nil {
			if bad, ok := err.(*errBadFrame); ok {
				c.fail("", "Bad frame", bad.why)
				return
			}
			c.end("closed by the client")
			return
		}
		if !c.heard() {
			c.end(c.silentWhy())
			return
		}
		if f == nil {
			c.beats.Add(1)
			continue
		}
		c.frames.Add(1)
		switch f.Command {
		case frame.SEND:
			if !c.onSend(f) {
				return
			}
		case frame.DISCONNECT:
			if id := f.Header.Get(frame.Receipt); id != "" {
				c.enqueue(frame.New(frame.RECEIPT, frame.ReceiptId, id), "DISCONNECT")
			} else {
				c.end("DISCONNECT")
			}
			return
		case frame.SUBSCRIBE, frame.UNSUBSCRIBE, frame.ACK, frame.NACK, frame.BEGIN, frame.COMMIT, frame.ABORT:
			c.receipt(f)
		default:
			c.fail(f.Header.Get(frame.Receipt), "Bad frame", "unexpected "+f.Command+" frame")
			return
		}
	}
}

// receipt answers a receipt header at once (spec §4.6).
func (c *stompConn) receipt(f *frame.Frame) {
	if id := f.Header.Get(frame.Receipt); id != "" {
		c.enqueue(frame.New(frame.RECEIPT, frame.ReceiptId, id), "")
	}
}

// fail sends ERROR (naming receipt, the failed frame's receipt header, if
// any) and closes.
func (c *stompConn) fail(receipt, message, body string) {
	e := frame.New(frame.ERROR, frame.Message, message, frame.ContentType, "text/plain")
	if receipt != "" {
		e.Header.Add(frame.ReceiptId, receipt)
	}
	e.Body = []byte(body)
	e.Header.Add(frame.ContentLength, strconv.Itoa(len(e.Body)))
	c.enqueue(e, "ERROR "+message)
}

// onSend acknowledges and starts one request; false ends the connection.
func (c *stompConn) onSend(f *frame.Frame) bool {
	if uid := f.Header.Get("user-id"); uid != "" && uid != c.token {
		// RabbitMQ refuses a user-id that is not the login (spec §4.4).
		c.fail(f.Header.Get(frame.Receipt), "Access refused", "user-id header does not match the authenticated user")
		return false
	}
	s := c.ep.s
	dest := f.Header.Get(frame.Destination)
	xAction := f.Header.Get("x-action")
	rec := s.record("STOMP", dest, xAction) // in Requests() with the destination as path
	req, bad := s.stompRequest(dest, f.Header.Get("app-id"), xAction, c.token, f.Body)
	var fault *Fault
	path := ""
	if bad == nil {
		path = req.restPath()
		fault = s.takeFault(ChannelSTOMP, req.httpMethod(), path)
	}
	if fault != nil && fault.Drop == DropBeforeRead {
		s.setFault(rec, "drop "+DropBeforeRead)
		s.finishSTOMP(rec, 0)
		c.end("injected fault: drop " + DropBeforeRead)
		return false
	}
	c.receipt(f)
	corr, replyTo := f.Header.Get("correlation-id"), f.Header.Get("reply-to")
	s.active.Add(1)
	go func() {
		defer s.active.Add(-1)
		// As net/http does for a handler: a bug costs the connection, not
		// the sandbox and all its state. The fuzz test looks for this reason.
		defer func() {
			if p := recover(); p != nil {
				s.panics.Add(1)
				s.log.Errorf("STOMP %s: panic: %v", rec.Path, p)
				c.end(stompPanicked)
			}
		}()
		c.serve(rec, req, bad, fault, path, corr, replyTo)
	}()
	return true
}

// stompPanicked is why a connection ended whose request panicked.
const stompPanicked = "internal error: the request panicked"

// serve runs one request (bad: it was refused while parsing; fault: one
// was injected) and sends its reply.
func (c *stompConn) serve(rec *RequestRecord, req DispatchRequest, bad *DispatchResponse, fault *Fault, path, corr, replyTo string) {
	s := c.ep.s
	var resp DispatchResponse
	switch {
	case bad != nil:
		resp = *bad
	default:
		outcome, body := faultPass, []byte(nil)
		if fault != nil { // drop before_read was handled by onSend
			// A delay goes on when the connection ends: the request was
			// received (its receipt sent) and runs after the delay.
			outcome, body = s.runFault(c.ctx, rec, fault, path)
		}
		switch outcome {
		case faultAborted, faultDrop, faultLoseReply:
			if outcome == faultLoseReply {
				s.noteLostAnswer(rec, s.Dispatch(c.ctx, req).Status)
			}
			if outcome != faultAborted {
				// Closed behind what is queued (the receipt at least); the
				// nil frame goes out as a heart-beat EOL, which clients ignore.
				c.enqueue(nil, "injected fault: drop "+fault.Drop)
			}
			s.finishSTOMP(rec, 0)
			return
		case faultAnswer:
			resp = DispatchResponse{Status: fault.Status, Body: body}
		default:
			resp = s.Dispatch(c.ctx, req)
		}
	}
	s.finishSTOMP(rec, resp.Status)
	if bad == nil && resp.Status < http.StatusBadRequest && strings.EqualFold(req.Product, "auth") &&
		strings.EqualFold(req.Resource, "sessions") && strings.EqualFold(req.Action, "refresh") {
		c.bind(replyTo)
	}
	if corr == "" {
		s.log.Warnf("STOMP %s without correlation-id: executed, no reply sent", rec.Path)
		return
	}
	var payload []byte
	if resp.Status < http.StatusBadRequest {
		data := bytes.TrimSpace(resp.Body)
		if len(data) == 0 {
			data = []byte("null")
		}
		payload = make([]byte, 0, len(data)+24)
		payload = append(payload, `{"status":"ok","data":`...)
		payload = append(payload, data...)
		payload = append(payload, '}')
	} else {
		payload = resp.Body // the error envelope, status "error"
	}
	if replyTo == "" {
		replyTo = "/temp-queue/main"
	}
	m := c.message(replyTo, payload)
	m.Header.Add("correlation-id", corr)
	c.sendReply(m)
}

// message builds a MESSAGE frame. Bodies are ASCII (EncodeJSON), so the
// content-length in bytes is also the character count the Java reader
// uses (spec §4.14).
func (c *stompConn) message(dest string, body []byte) *frame.Frame {
	m := frame.New(frame.MESSAGE,
		frame.Destination, dest,
		frame.MessageId, fmt.Sprintf("T_%s@@%d", c.session, c.ep.seq.Add(1)),
		frame.ContentType, "application/json",
		frame.ContentLength, strconv.Itoa(len(body)))
	m.Body = body
	return m
}

// bind subscribes the connection to its token's events (once).
func (c *stompConn) bind(replyTo string) {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if replyTo != "" {
		c.replyTo = replyTo
	}
	if c.sub != nil || c.ctx.Err() != nil {
		return
	}
	c.sub, c.unsub = c.ep.s.subscribeConn(c.token, c.onEvent)
}

// sendReply queues a reply behind every event published to this connection
// before it: it rides the subscription's own queue, so the hub delivers it
// in order. Without a subscription it goes out directly.
func (c *stompConn) sendReply(m *frame.Frame) {
	c.bmu.Lock()
	sub := c.sub
	id := ""
	if sub != nil {
		id = strconv.FormatInt(c.ep.seq.Add(1), 10)
		c.replies[id] = m
	}
	c.bmu.Unlock()
	if sub != nil && c.ep.s.hub.inject(sub, Event{Object: stompReplyMarker, ID: id}) {
		return
	}
	if sub != nil {
		c.bmu.Lock()
		delete(c.replies, id)
		c.bmu.Unlock()
	}
	c.enqueue(m, "")
}

// onEvent runs on the subscription's goroutine.
func (c *stompConn) onEvent(ev Event) {
	if ev.Object == stompReplyMarker {
		c.bmu.Lock()
		m := c.replies[ev.ID]
		delete(c.replies, ev.ID)
		c.bmu.Unlock()
		if m != nil {
			c.enqueue(m, "")
		}
		return
	}
	body, err := ev.MarshalJSON() // the server's style, not re-escaped by json.Marshal
	if err != nil {
		c.ep.s.log.Errorf("cannot encode event %s/%s: %v", ev.Target, ev.Type, err)
		return
	}
	c.bmu.Lock()
	dest := c.replyTo
	c.bmu.Unlock()
	if dest == "" {
		dest = "/temp-queue/main"
	}
	c.enqueue(c.message(dest, body), "")
}

// enqueue hands a frame to the writer; a non-empty last closes the
// connection after it, for that reason.
func (c *stompConn) enqueue(f *frame.Frame, last string) {
	c.omu.Lock()
	if c.closeAfter != "" || c.ctx.Err() != nil {
		c.omu.Unlock()
		return
	}
	if len(c.out) >= stompMaxQueued {
		c.omu.Unlock()
		c.ep.s.log.Warnf("STOMP session %s: the client stopped reading (%d frames queued), closing", c.session, stompMaxQueued)
		c.end("slow consumer")
		return
	}
	c.out = append(c.out, f)
	c.closeAfter = last
	c.omu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *stompConn) writeLoop(w *frame.Writer) {
	var beat <-chan time.Time
	if c.sendEvery > 0 {
		t := time.NewTicker(c.sendEvery / 2)
		defer t.Stop()
		beat = t.C
	}
	lastWrite := time.Now()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		case <-beat:
			if time.Since(lastWrite) >= c.sendEvery/2 {
				_ = c.nc.SetWriteDeadline(time.Now().Add(stompWriteTimeout))
				if w.Write(nil) != nil {
					c.end("write failed")
					return
				}
				lastWrite = time.Now()
			}
			continue
		}
		for {
			c.omu.Lock()
			batch := c.out
			c.out = nil
			last := c.closeAfter
			c.omu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, f := range batch {
				_ = c.nc.SetWriteDeadline(time.Now().Add(stompWriteTimeout))
				if err := w.Write(f); err != nil {
					c.end("write failed")
					return
				}
			}
			lastWrite = time.Now()
			if last != "" {
				c.end(last)
				return
			}
		}
	}
}

// end closes the connection once.
func (c *stompConn) end(why string) {
	c.endOnce.Do(func() {
		// Leave the endpoint's set, and record why, before the socket
		// closes: a peer that sees the close never finds this connection
		// still counted or its reason missing.
		info := c.info()
		info.Open, info.Ended = false, why
		c.ep.mu.Lock()
		delete(c.ep.conns, c)
		c.ep.ended = append(c.ep.ended, info)
		if len(c.ep.ended) > stompKeepEnded {
			c.ep.ended = append([]STOMPSession(nil), c.ep.ended[len(c.ep.ended)-stompKeepEnded:]...)
		}
		c.ep.mu.Unlock()
		c.cancel()
		_ = c.nc.Close()
		c.bmu.Lock()
		unsub := c.unsub
		c.replies = map[string]*frame.Frame{}
		c.bmu.Unlock()
		if unsub != nil {
			unsub()
		}
		c.ep.s.log.Infof("STOMP session %s ended: %s", c.session, why)
	})
}

func (s *Server) finishSTOMP(rec *RequestRecord, status int) {
	s.reqMu.Lock()
	rec.Status = status
	s.reqMu.Unlock()
	s.logRequest(rec)
}

// subscribeConn is Subscribe for a STOMP connection. It also returns the
// subscriber, so that replies can be queued behind its events (inject),
// which Subscribe's cancel-only API cannot offer.
func (s *Server) subscribeConn(token string, fn func(Event)) (*subscriber, func()) {
	client := s.clientOf(token)
	if client == "" {
		client = "\x00unknown"
	}
	return s.hub.subscribe(client, false, fn)
}

// inject appends ev to one subscriber's queue, behind what was published to
// it before; false when the subscription has ended.
func (h *hub) inject(sub *subscriber, ev Event) bool {
	sub.mu.Lock()
	if sub.closed || h.ctx.Err() != nil {
		sub.mu.Unlock()
		return false
	}
	sub.queue = append(sub.queue, ev)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
	return true
}
