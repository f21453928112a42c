package stomp

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// wire writes frames (nil = heart-beat EOL) the way a broker would.
func wire(t *testing.T, fs ...*frame.Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := frame.NewWriter(&buf)
	for _, f := range fs {
		require.NoError(t, w.Write(f))
	}
	return buf.Bytes()
}

func TestFrameGuardPassesFramesUnchanged(t *testing.T) {
	msg := frame.New(frame.MESSAGE, frame.Destination, "/temp-queue/main", frame.ContentLength, "10",
		frame.ContentLength, "999999999999") // the first occurrence counts (STOMP 1.2)
	msg.Body = []byte("nul\x00inside") // a sized body may hold NULs
	open := frame.New(frame.RECEIPT, frame.ReceiptId, "r-1")
	open.Body = []byte(`{"status":"ok"}`)
	empty := frame.New(frame.MESSAGE, frame.ContentLength, "0")
	crlf := []byte("RECEIPT\r\nreceipt-id:r-2\r\n\r\n\x00")
	stream := append(wire(t, nil, msg, nil, nil, open, empty), crlf...)

	for name, r := range map[string]io.Reader{
		"whole":       bytes.NewReader(stream),
		"byte a time": iotest.OneByteReader(bytes.NewReader(stream)),
		"halves":      iotest.HalfReader(bytes.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			rd := frame.NewReader(newFrameGuard(r))
			var got []string
			for {
				f, err := rd.Read()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				if f == nil {
					got = append(got, "heart-beat")
					continue
				}
				got = append(got, f.Command+" "+string(f.Body))
			}
			assert.Equal(t, []string{"heart-beat", "MESSAGE " + string(msg.Body), "heart-beat", "heart-beat",
				`RECEIPT {"status":"ok"}`, "MESSAGE ", "RECEIPT "}, got)
		})
	}
}

func TestFrameGuardLimits(t *testing.T) {
	sized := frame.New(frame.MESSAGE, frame.ContentLength, "17")
	sized.Body = []byte("0123456789abcdefg")
	open := frame.New(frame.MESSAGE)
	open.Body = []byte("0123456789abcdefg")
	long := frame.New(frame.MESSAGE, "x-filler", strings.Repeat("h", 80))
	cases := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"announced body over the limit", wire(t, sized), "announces a body of 17 bytes, more than the limit of 16"},
		{"huge announcement", []byte("MESSAGE\ncontent-length:3221225472\n\nx"), "announces a body of 3221225472 bytes"},
		{"open body over the limit", wire(t, open), "a body of more than 16 bytes"},
		{"open body without its NUL", []byte("MESSAGE\n\n" + strings.Repeat("z", 100)), "a body of more than 16 bytes"},
		{"headers over the limit", wire(t, long), "more than 64 bytes of headers"},
		{"endless command line", []byte(strings.Repeat("M", 100)), "more than 64 bytes of headers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newFrameGuard(iotest.OneByteReader(bytes.NewReader(tc.stream)))
			g.maxBody, g.maxHeader = 16, 64
			_, err := frame.NewReader(g).Read()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, again := g.Read(make([]byte, 8))
			assert.Equal(t, err, again, "the guard stays failed")
		})
	}
	ok := frame.New(frame.MESSAGE, frame.ContentLength, "16")
	ok.Body = []byte("0123456789abcdef")
	g := newFrameGuard(bytes.NewReader(wire(t, ok)))
	g.maxBody, g.maxHeader = 16, 64
	f, err := frame.NewReader(g).Read()
	require.NoError(t, err)
	assert.Equal(t, "0123456789abcdef", string(f.Body), "a body of exactly the limit passes")

	// One read holding a good frame and then a bad one: the good one is
	// delivered, the bad one fails.
	g = newFrameGuard(bytes.NewReader(wire(t, ok, sized)))
	g.maxBody, g.maxHeader = 16, 64
	rd := frame.NewReader(g)
	f, err = rd.Read()
	require.NoError(t, err)
	assert.Equal(t, "0123456789abcdef", string(f.Body))
	_, err = rd.Read()
	assert.ErrorContains(t, err, "announces a body of 17 bytes")
}

// A broker that announces a 3 GiB frame costs the connection, not the
// process: the channel reports the drop with the reason and reconnects.
func TestOversizedFrameDropsTheConnection(t *testing.T) {
	b := newFakeBroker(t)
	var sent bool
	b.handle = func(_ int, f *frame.Frame) []*frame.Frame {
		if f.Command != frame.SEND {
			return nil
		}
		out := []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"result":true}}`)}
		if !sent {
			sent = true
			m := frame.New(frame.MESSAGE, frame.Destination, "/temp-queue/main", frame.MessageId, "huge",
				frame.ContentLength, "3221225472")
			m.Body = []byte(`{"object":"event.pushs"}`)
			out = append(out, m)
		}
		return out
	}
	b.start()
	ev := &events{}
	c := open(t, b.config(staticTokens(fakeToken), ev))
	var reason string
	testkit.WaitFor(t, 10*time.Second, "the drop and the reconnect", func() bool {
		for _, e := range ev.connection() {
			if e.State == event.Disconnected || e.State == event.Reconnecting {
				if strings.Contains(e.Reason, "3221225472") {
					reason = e.Reason
				}
			}
		}
		return reason != "" && c.Connected()
	})
	assert.Contains(t, reason, "more than the limit of 33554432")
	assert.Empty(t, ev.pushes(), "the oversized frame is not delivered")
}
