package stomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// chunked reads r n bytes at a time, as a slow socket delivers.
type chunked struct {
	r io.Reader
	n int
}

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// frames reads every frame from r until the reader fails or the stream
// ends, and describes them (nil frames are heart-beats).
func frames(r io.Reader) (out []*frame.Frame, err error) {
	rd := frame.NewReader(r)
	for {
		f, err := rd.Read()
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

func describe(fs []*frame.Frame, err error) string {
	var b bytes.Buffer
	for _, f := range fs {
		if f == nil {
			b.WriteString("<heart-beat>\n")
			continue
		}
		b.WriteString(f.Command)
		for i := 0; i < f.Header.Len(); i++ {
			k, v := f.Header.GetAt(i)
			b.WriteString("|" + k + ":" + v)
		}
		b.WriteString("|" + strconv.Quote(string(f.Body)) + "\n")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.WriteString("error: " + err.Error())
	}
	return b.String()
}

// headerBytes is a lower bound of the bytes a frame's command and headers
// took on the wire (escapes only shrink when decoded).
func headerBytes(f *frame.Frame) int64 {
	n := int64(len(f.Command) + 1)
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		n += int64(len(k) + len(v) + 2)
	}
	return n
}

var announced = regexp.MustCompile(`content-length:([0-9]{1,20})`)

// FuzzSTOMPFrames feeds any byte stream from the broker through the frame
// guard to go-stomp's reader and the channel's message dispatch, with
// small limits. Properties:
//   - no frame that passes is over the limits (body, headers);
//   - the guard is invisible: chunking does not change what passes, and a
//     stream too short to break a limit passes exactly as without it;
//   - a reply with our correlation-id decodes to a success with a JSON
//     result or to a typed, honest error (answered, so never "not sent";
//     a payment start that may have run is never retryable); a push
//     becomes a push event or an error event, never nothing;
//   - no card number or secret in a body appears in an error.
//
// Seeds: testdata/fuzz/FuzzSTOMPFrames.
func FuzzSTOMPFrames(f *testing.F) {
	f.Add([]byte("MESSAGE\ncorrelation-id:c-fuzz\n\n{\"status\":\"ok\",\"data\":{}}\x00"), uint8(3), uint16(64), uint16(128))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8, bodyLimit, headerLimit uint16) {
		maxBody, maxHeader := int64(bodyLimit%512), int64(headerLimit%1024)+8
		guarded := func(r io.Reader) io.Reader {
			g := newFrameGuard(r)
			g.maxBody, g.maxHeader = maxBody, maxHeader
			return g
		}
		got, err := frames(guarded(bytes.NewReader(stream)))
		whole := describe(got, err)
		if slow := describe(frames(guarded(chunked{bytes.NewReader(stream), int(chunk%7) + 1}))); slow != whole {
			t.Fatalf("%q: chunking changed what passes the guard:\nwhole:\n%s\nchunked:\n%s", stream, whole, slow)
		}
		if slow := describe(frames(guarded(iotest.OneByteReader(bytes.NewReader(stream))))); slow != whole {
			t.Fatalf("%q: one byte at a time changed what passes the guard:\nwhole:\n%s\nbytewise:\n%s", stream, whole, slow)
		}
		for _, fr := range got {
			if fr == nil {
				continue
			}
			if int64(len(fr.Body)) > maxBody || headerBytes(fr) > maxHeader {
				t.Fatalf("%q: a %s frame with %d body and >= %d header bytes passed limits %d/%d", stream, fr.Command, len(fr.Body), headerBytes(fr), maxBody, maxHeader)
			}
		}
		if int64(len(stream)) <= min(maxBody, maxHeader) && !announcesMore(stream) {
			if plain := describe(frames(bytes.NewReader(stream))); plain != whole {
				t.Fatalf("%q: a stream within the limits changed by the guard:\nplain:\n%s\nguarded:\n%s", stream, plain, whole)
			}
		}
		dispatch(t, stream, got)
	})
}

// announcesMore: a content-length larger than the stream, which the
// unguarded reader would allocate.
func announcesMore(stream []byte) bool {
	for _, m := range announced.FindAllSubmatch(stream, -1) {
		if n, err := strconv.ParseUint(string(m[1]), 10, 64); err != nil || n > uint64(len(stream)) {
			return true
		}
	}
	return false
}

// dispatch hands the MESSAGE frames to the channel's dispatch with one
// request waiting, and checks what becomes of them.
func dispatch(t *testing.T, stream []byte, fs []*frame.Frame) {
	t.Helper()
	var mu sync.Mutex
	var events []event.Event
	c, err := New(Config{Host: "127.0.0.1", Port: 61613, Tokens: staticTokens("tok-FUZZ-a1b2c3"),
		Heartbeat: -1, ConnectTimeout: time.Second, MessageTimeout: time.Second, SessionRefreshTimeout: time.Second,
		ReceiptTimeout: time.Second, DisconnectTimeout: time.Second, Backoff: retry.Backoff{Initial: time.Millisecond, Max: time.Millisecond},
		Destination: "/exchange/connect.api/", ReplyQueue: "/temp-queue/main",
		OnEvent: func(e event.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	waiting := &pending{reply: make(chan []byte, 1)}
	c.pending["c-fuzz"] = waiting
	pushes := 0
	for _, fr := range fs {
		if fr == nil || fr.Command != frame.MESSAGE {
			continue
		}
		if fr.Header.Get("correlation-id") == "" {
			pushes++
		}
		c.onMessage(nil, fr)
	}
	if len(events) != pushes {
		t.Fatalf("%q: %d pushes became %d events", stream, pushes, len(events))
	}
	for _, e := range events {
		switch e.Kind {
		case event.KindPush:
			if e.Target == "" || e.Type == "" || !json.Valid(e.Data) || !json.Valid(e.JSON()) {
				t.Fatalf("%q: push event %s", stream, e.JSON())
			}
		case event.KindError:
			if e.Error == nil {
				t.Fatalf("%q: an error event without an error", stream)
			}
			if leak := testkit.Leak(string(e.JSON()), string(stream), testkit.SecretValues(stream)...); leak != "" {
				t.Fatalf("%q: the error event repeats %q: %s", stream, leak, e.JSON())
			}
		default:
			t.Fatalf("%q: a push became a %s event", stream, e.Kind)
		}
	}
	select {
	case body := <-waiting.reply:
		for _, req := range fuzzOps {
			checkReply(t, req, body)
		}
	default:
	}
}

// fuzzOps: a read, a list, a keyed create, a payment start.
var fuzzOps = []api.Request{
	{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"},
	{Resource: "smart.transactions", Op: api.List},
	{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)},
	{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"},
}

func checkReply(t *testing.T, req api.Request, body []byte) {
	t.Helper()
	p, err := (&call.Settings{Idempotency: true, Policy: call.Policy{MaxAttempts: 3}}).Resolve(&req)
	if err != nil {
		t.Fatal(err)
	}
	o := call.Decode(p, call.Reply{Body: body, Framed: true}, "tok-FUZZ-a1b2c3")
	if o.Answer == call.Success {
		if o.Err != nil || !json.Valid(o.Result) {
			t.Fatalf("%s reply %q: success with %v, result %q", p.Name, body, o.Err, o.Result)
		}
		return
	}
	if o.Err == nil || o.Err.Kind == errs.Internal || !o.Written {
		t.Fatalf("%s reply %q: %s with error %v (written %v)", p.Name, body, o.Answer, o.Err, o.Written)
	}
	e := call.Finish(p, o, call.Decide(p, o, 1))
	switch {
	case e.Outcome == errs.OutcomeNotSent:
		t.Fatalf("%s reply %q: an answered request reported as not sent", p.Name, body)
	case e.Outcome == errs.OutcomeUnknown && p.LookUp && e.Retryable:
		t.Fatalf("%s reply %q: a payment start that may have run is retryable", p.Name, body)
	}
	if leak := testkit.Leak(testkit.ErrorText(e), string(body), testkit.SecretValues(body)...); leak != "" {
		t.Fatalf("%s reply %q: the error repeats %q: %s", p.Name, body, leak, testkit.ErrorText(e))
	}
}

// FuzzRequestSTOMP feeds host request JSON through ParseRequest, Resolve
// and the STOMP translation, and writes the SEND frame the channel would
// send. Properties: the body is JSON carrying the request's data
// unchanged; the frame reads back as exactly one SEND whose destination is
// the configured prefix plus the routing key for the request's own
// resource: no value can add a header, a frame or another destination.
//
// Seeds: testdata/fuzz/FuzzRequestSTOMP.
func FuzzRequestSTOMP(f *testing.F) {
	f.Add([]byte(`{"resource":"smart.transactions","op":"execute","id":"STX_1","action":"start","arg":"demo"}`))
	c, err := New(Config{Host: "127.0.0.1", Port: 61613, Tokens: staticTokens("tok"), Heartbeat: -1,
		ConnectTimeout: time.Second, MessageTimeout: time.Second, SessionRefreshTimeout: time.Second,
		ReceiptTimeout: time.Second, DisconnectTimeout: time.Second, Backoff: retry.Backoff{Initial: time.Millisecond, Max: time.Millisecond},
		Destination: "/exchange/connect.api/", ReplyQueue: "/temp-queue/main"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		req, err := api.ParseRequest(doc)
		if err != nil {
			return // FuzzRequestURL holds refusals to their properties
		}
		p, err := (&call.Settings{AllowUnknown: true, Idempotency: true}).Resolve(req)
		if err != nil {
			return
		}
		out, err := c.translate(p)
		if err != nil {
			if e := errs.As(err); e.Kind != errs.InvalidArgument || e.Field == "" {
				t.Fatalf("%q: refused with %v", doc, err)
			}
			return
		}
		var msg struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(out.body, &msg); err != nil {
			t.Fatalf("%q: the body %q is not JSON: %v", doc, out.body, err)
		}
		if len(p.Request.Data) > 0 && !jsonEqual(msg.Data, p.Request.Data) {
			t.Fatalf("%q: data %s sent as %s", doc, p.Request.Data, msg.Data)
		}
		r := p.Request
		want := "api:" + verb(r.Op) + ":" + r.Resource
		if r.AppID != "" {
			want = "app:" + r.Action
		} else if r.Action != "" {
			want += "." + r.Action
		}
		if out.routingKey != want {
			t.Fatalf("%q: routing key %q, want %q", doc, out.routingKey, want)
		}
		send := frame.New(frame.SEND, frame.Destination, c.cfg.Destination+out.routingKey, "correlation-id", out.correlation,
			frame.ContentLength, strconv.Itoa(len(out.body)))
		if out.actionID != "" {
			send.Header.Add("x-action", out.actionID)
		}
		if out.appID != "" {
			send.Header.Add("app-id", out.appID)
		}
		send.Body = out.body
		var wire bytes.Buffer
		if err := frame.NewWriter(&wire).Write(send); err != nil {
			t.Fatalf("%q: the SEND cannot be written: %v", doc, err)
		}
		back, err := frames(bytes.NewReader(wire.Bytes()))
		if !errors.Is(err, io.EOF) || len(back) != 1 || back[0] == nil {
			t.Fatalf("%q: the SEND reads back as %s", doc, describe(back, err))
		}
		if got := back[0].Header.Get(frame.Destination); got != send.Header.Get(frame.Destination) || back[0].Header.Len() != send.Header.Len() {
			t.Fatalf("%q: the SEND's headers changed on the wire: %s", doc, describe(back, nil))
		}
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
