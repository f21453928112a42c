package main

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// expect makes the proxy pass the push of event id (and no other).
func (p *stompProxy) expect(id string) { p.want.Store(&id) }

// stompProxy sits between one push worker and the sandbox's STOMP endpoint.
// It stamps the moment it writes a pushed event's MESSAGE frame to the
// worker's socket (CLOCK_MONOTONIC): the start of the push latency, so the
// figure is the client's alone (frame on its socket -> host callback), not
// the sandbox's scheduling. It passes only the pushed event the
// orchestrator waits for and swallows every other push (the sandbox pushes
// to every connection, and a late one must not reach the next measurement),
// so workers never disturb each other.
type stompProxy struct {
	ln       net.Listener
	upstream string
	want     atomic.Pointer[string] // the event id to pass; nil: none

	mu   sync.Mutex
	sent map[string]int64 // event id -> written at (ns)
}

func newSTOMPProxy(upstream string) (*stompProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &stompProxy{ln: ln, upstream: upstream, sent: map[string]int64{}}
	go p.accept()
	return p, nil
}

func (p *stompProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *stompProxy) close() { _ = p.ln.Close() }

// sentAt returns when the frame of event id was written, and forgets it.
func (p *stompProxy) sentAt(id string) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.sent[id]
	delete(p.sent, id)
	return t, ok
}

func (p *stompProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { p.downstream(up, c); _ = c.Close() }()
	}
}

// downstream forwards server -> client frame by frame. Frames end with NUL
// (after content-length bytes of body when that header is present); bare
// EOLs between frames are heart-beats and pass as they are.
func (p *stompProxy) downstream(up, c net.Conn) {
	var buf []byte
	chunk := make([]byte, 64<<10)
	for {
		n, err := up.Read(chunk)
		if n > 0 {
			buf = append(buf, chunk[:n]...)
			var werr error
			buf, werr = p.forward(c, buf)
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// forward writes every complete frame of buf and returns the rest.
func (p *stompProxy) forward(c net.Conn, buf []byte) ([]byte, error) {
	for len(buf) > 0 {
		if buf[0] == '\n' || buf[0] == '\r' { // heart-beat
			i := 0
			for i < len(buf) && (buf[i] == '\n' || buf[i] == '\r') {
				i++
			}
			if _, err := c.Write(buf[:i]); err != nil {
				return nil, err
			}
			buf = buf[i:]
			continue
		}
		end := frameEnd(buf)
		if end < 0 {
			return buf, nil // incomplete
		}
		frame := buf[:end]
		if id, push := pushID(frame); push {
			if w := p.want.Load(); w == nil || *w != id {
				buf = buf[end:]
				continue
			}
			t := monoNow()
			p.mu.Lock()
			p.sent[id] = t
			p.mu.Unlock()
		}
		if _, err := c.Write(frame); err != nil {
			return nil, err
		}
		buf = buf[end:]
	}
	return buf, nil
}

// frameEnd is the length of the first frame in buf including its NUL, or -1.
func frameEnd(buf []byte) int {
	hdrEnd := bytes.Index(buf, []byte("\n\n"))
	skip := 2
	if crlf := bytes.Index(buf, []byte("\r\n\r\n")); crlf >= 0 && (hdrEnd < 0 || crlf < hdrEnd) {
		hdrEnd, skip = crlf, 4
	}
	if hdrEnd < 0 {
		return -1
	}
	body := hdrEnd + skip
	if cl := header(buf[:hdrEnd], "content-length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err == nil {
			if len(buf) < body+n+1 {
				return -1
			}
			return body + n + 1
		}
	}
	i := bytes.IndexByte(buf[body:], 0)
	if i < 0 {
		return -1
	}
	return body + i + 1
}

func header(head []byte, name string) string {
	for _, line := range bytes.Split(head, []byte("\n")) {
		k, v, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(":"))
		if ok && string(k) == name {
			return string(v)
		}
	}
	return ""
}

// pushID reports whether frame is a pushed event (a MESSAGE without
// correlation-id) and its event id.
func pushID(frame []byte) (string, bool) {
	if !bytes.HasPrefix(frame, []byte("MESSAGE")) {
		return "", false
	}
	hdrEnd := bytes.Index(frame, []byte("\n\n"))
	if hdrEnd < 0 || header(frame[:hdrEnd], "correlation-id") != "" {
		return "", false
	}
	body := frame[hdrEnd:]
	i := bytes.Index(body, []byte(`"id":"`))
	if i < 0 {
		return "", false
	}
	rest := body[i+len(`"id":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}
