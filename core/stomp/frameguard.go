package stomp

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// Limits on what the broker may send. go-stomp's frame.Reader allocates a
// body from its content-length header before reading it and reads header
// lines without bound; a broken or hostile peer could make it allocate
// gigabytes, and running out of memory kills the host process, not just the
// connection. No secucard answer comes near these sizes (the largest are
// list pages of a few hundred kB).
const (
	maxFrameBody   = 32 << 20 // bytes in one frame's body
	maxFrameHeader = 64 << 10 // bytes of command plus headers of one frame
)

// frameGuard sits between the socket and go-stomp's frame.Reader and follows
// the STOMP 1.2 frame grammar just far enough to measure each frame: it ends
// the read with an error as soon as a frame declares, or turns out to have, a
// body above maxBody, or its headers grow above maxHeader. The frame.Reader
// parses only bytes the guard has already passed, so it never sees the
// oversized header. Everything else passes through unchanged.
type frameGuard struct {
	r                  io.Reader
	maxBody, maxHeader int64

	state     guardState
	line      []byte // the header line being read (bounded by maxHeader)
	headerLen int64  // bytes of command and headers so far
	declared  bool   // the frame's first content-length header was seen
	remaining int64  // body bytes still due under a content-length
	bodyLen   int64  // body bytes so far when no content-length was given
	err       error
}

type guardState int

const (
	betweenFrames guardState = iota // heart-beat EOLs, or the next command
	inHeaders                       // the command line and the header lines
	inSizedBody                     // a body announced by content-length
	atTerminator                    // the NUL after a sized body
	inOpenBody                      // a body that ends at the first NUL
)

func newFrameGuard(r io.Reader) *frameGuard {
	return &frameGuard{r: r, maxBody: maxFrameBody, maxHeader: maxFrameHeader}
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if n > 0 {
		// Frames before the offending one are whole and pass; the error
		// comes with the next Read, before frame.Reader can finish the
		// offending frame's header.
		if ok, bad := g.scan(p[:n]); bad != nil {
			g.err = bad
			return ok, nil
		}
	}
	return n, err
}

// scan advances the frame state over b. On a violation it returns how many
// bytes of b precede it.
func (g *frameGuard) scan(b []byte) (int, error) {
	at := 0 // bytes of b consumed
	for at < len(b) {
		rest := b[at:]
		switch g.state {
		case betweenFrames:
			if rest[0] == '\n' || rest[0] == '\r' {
				at++
				continue
			}
			g.state, g.line, g.headerLen = inHeaders, g.line[:0], 0
			g.declared, g.remaining, g.bodyLen = false, 0, 0
		case inHeaders:
			i := bytes.IndexByte(rest, '\n')
			chunk := rest
			if i >= 0 {
				chunk = rest[:i]
			}
			if g.headerLen+int64(len(chunk)) > g.maxHeader {
				return at, fmt.Errorf("a frame from the broker has more than %d bytes of headers", g.maxHeader)
			}
			g.headerLen += int64(len(chunk))
			g.line = append(g.line, chunk...)
			if i < 0 {
				return len(b), nil
			}
			g.headerLen++ // the LF
			if err := g.endLine(); err != nil {
				return at + i, err // withhold the line's LF: frame.Reader never completes it
			}
			at += i + 1
		case inSizedBody:
			k := int(min(int64(len(rest)), g.remaining))
			g.remaining -= int64(k)
			at += k
			if g.remaining == 0 {
				g.state = atTerminator
			}
		case atTerminator:
			// frame.Reader checks it is a NUL and fails the frame if not.
			at++
			g.state = betweenFrames
		case inOpenBody:
			i := bytes.IndexByte(rest, 0)
			k := len(rest)
			if i >= 0 {
				k = i
			}
			if g.bodyLen+int64(k) > g.maxBody {
				return at, fmt.Errorf("a frame from the broker has a body of more than %d bytes", g.maxBody)
			}
			g.bodyLen += int64(k)
			if i < 0 {
				return len(b), nil
			}
			at += i + 1
			g.state = betweenFrames
		}
	}
	return len(b), nil
}

// endLine handles one complete command or header line in g.line.
func (g *frameGuard) endLine() error {
	line := bytes.TrimSuffix(g.line, []byte{'\r'})
	g.line = g.line[:0]
	if len(line) == 0 { // the blank line: the body follows
		switch {
		case g.declared && g.remaining == 0:
			g.state = atTerminator
		case g.declared:
			g.state = inSizedBody
		default:
			g.state = inOpenBody
		}
		return nil
	}
	// STOMP 1.2: the first occurrence of a repeated header counts, and
	// go-stomp reads the first. The command line has no colon, so it never
	// matches.
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || g.declared || string(name) != "content-length" {
		return nil
	}
	g.declared = true
	n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
	if err != nil || n < 0 {
		return nil // frame.Reader rejects a malformed length itself
	}
	if n > g.maxBody {
		return fmt.Errorf("a frame from the broker announces a body of %d bytes, more than the limit of %d", n, g.maxBody)
	}
	g.remaining = n
	return nil
}
