package sandbox

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// encodeFrame writes f the way a STOMP 1.2 client does: headers escaped,
// the body after a blank line, a NUL at the end.
func encodeFrame(f *frame.Frame) []byte {
	esc := strings.NewReplacer(`\`, `\\`, "\r", `\r`, "\n", `\n`, ":", `\c`)
	var b bytes.Buffer
	b.WriteString(f.Command + "\n")
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		b.WriteString(esc.Replace(k) + ":" + esc.Replace(v) + "\n")
	}
	b.WriteString("\n")
	b.Write(f.Body)
	b.WriteByte(0)
	return b.Bytes()
}

// FuzzFrameReader checks the bounded frame reader on any byte stream: it
// never panics, always ends (every Read consumes input or fails), never
// returns a body over the limit, and every frame it returns reads back the
// same after being written out again.
// Seeds: testdata/fuzz/FuzzFrameReader.
func FuzzFrameReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := newFrameReader(bytes.NewReader(data))
		for reads := 0; ; reads++ {
			if reads > len(data)+1 {
				t.Fatalf("%d reads of %d bytes: the reader does not advance", reads, len(data))
			}
			fr, err := rd.Read()
			if err != nil {
				var bad *errBadFrame
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &bad) {
					t.Fatalf("unexpected error %T: %v", err, err)
				}
				return
			}
			if fr == nil {
				continue // heart-beat
			}
			if len(fr.Body) > stompMaxBody {
				t.Fatalf("a body of %d bytes", len(fr.Body))
			}
			if !isCommand([]byte(fr.Command)) || fr.Command == "" {
				t.Fatalf("command %q", fr.Command)
			}
			again, err := newFrameReader(bytes.NewReader(encodeFrame(fr))).Read()
			if err != nil {
				t.Fatalf("frame %q %v %q does not read back: %v", fr.Command, fr.Header, fr.Body, err)
			}
			if again == nil || again.Command != fr.Command || !bytes.Equal(again.Body, fr.Body) || again.Header.Len() != fr.Header.Len() {
				t.Fatalf("frame %q %v %q reads back as %v", fr.Command, fr.Header, fr.Body, again)
			}
			for i := 0; i < fr.Header.Len(); i++ {
				k1, v1 := fr.Header.GetAt(i)
				k2, v2 := again.Header.GetAt(i)
				if k1 != k2 || v1 != v2 {
					t.Fatalf("header %q:%q reads back as %q:%q", k1, v1, k2, v2)
				}
			}
		}
	})
}

// FuzzSTOMPConnection sends any bytes to a running STOMP endpoint, after a
// valid CONNECT when the first byte is even, and checks what a client
// would: the sandbox stays up and keeps serving; everything it sends back
// is a well-formed CONNECTED, RECEIPT, MESSAGE or ERROR frame; every ERROR
// says why (a message header); it acknowledges only receipts that were
// asked for, and replies to a correlation-id no more often than it was
// sent; once the client has closed its side, the endpoint closes the
// connection and counts it as ended.
// Seeds: testdata/fuzz/FuzzSTOMPConnection.
func FuzzSTOMPConnection(f *testing.F) {
	s, err := New(Options{StartDelay: -1, DeviceInterval: -1, TokenTTL: 24 * time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	addr, err := s.StartSTOMP("127.0.0.1:0", nil)
	if err != nil {
		f.Fatal(err)
	}
	token := s.issue(tokenInfo{clientID: s.clientID}).AccessToken

	f.Fuzz(func(t *testing.T, data []byte) {
		var in bytes.Buffer
		if len(data) > 0 && data[0]%2 == 0 {
			in.Write(encodeFrame(frame.New(frame.CONNECT, frame.AcceptVersion, "1.2", frame.Login, token, frame.Passcode, token)))
			data = data[1:]
		}
		in.Write(data)

		// What the client asked for, as the endpoint's own reader sees it.
		receipts, correlations := map[string]bool{}, map[string]int{}
		rd := newFrameReader(bytes.NewReader(in.Bytes()))
		for {
			fr, err := rd.Read()
			if err != nil {
				break
			}
			if fr == nil {
				continue
			}
			if id, ok := fr.Header.Contains(frame.Receipt); ok {
				receipts[id] = true
			}
			if fr.Command == frame.SEND {
				if id, ok := fr.Header.Contains("correlation-id"); ok {
					correlations[id]++
				}
			}
		}

		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("the endpoint no longer accepts: %v", err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = nc.Write(in.Bytes()) // the endpoint may close early
			_ = nc.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(nc)
		wg.Wait()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the endpoint did not close the connection within 5s of the client's close")
		}

		replies := map[string]int{}
		back := frame.NewReader(bytes.NewReader(out))
		for {
			fr, err := back.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("the endpoint sent a malformed frame (%v) in %q", err, out)
			}
			if fr == nil {
				continue
			}
			switch fr.Command {
			case frame.CONNECTED, frame.MESSAGE:
			case frame.RECEIPT:
				if id := fr.Header.Get(frame.ReceiptId); !receipts[id] {
					t.Fatalf("RECEIPT for %q, which was never asked for", id)
				}
			case frame.ERROR:
				if fr.Header.Get(frame.Message) == "" {
					t.Fatalf("ERROR without a message header: %q", fr.Body)
				}
			default:
				t.Fatalf("the endpoint sent a %s frame", fr.Command)
			}
			if corr, ok := fr.Header.Contains("correlation-id"); ok {
				replies[corr]++
				if replies[corr] > correlations[corr] {
					t.Fatalf("%d replies to correlation-id %q, sent %d times", replies[corr], corr, correlations[corr])
				}
			}
		}
		for _, x := range s.STOMPSessions() {
			if x.Open {
				t.Fatalf("session %s is still open after its client closed", x.Session)
			}
			if x.Ended == stompPanicked {
				t.Fatalf("a request of session %s panicked", x.Session)
			}
		}
		if n := s.panics.Load(); n > 0 {
			t.Fatalf("%d STOMP requests panicked", n)
		}
		if !s.ValidToken(token) {
			t.Fatalf("the sandbox lost its state")
		}
	})
}
