package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"
)

// What one STOMP frame from a client may hold. go-stomp's frame.Reader
// allocates a body as large as its content-length header says before
// reading it and reads header lines without bound, so one hostile frame
// could take all the sandbox's memory; the sandbox reads frames itself.
const (
	stompMaxHeader = 64 << 10 // bytes of the command line and header lines
	stompMaxBody   = maxBody  // bytes of the body, as for REST
)

// errBadFrame is a frame the endpoint refuses (ERROR message:Bad frame).
type errBadFrame struct{ why string }

func (e *errBadFrame) Error() string { return e.why }

func badFrame(format string, args ...any) error {
	return &errBadFrame{why: fmt.Sprintf(format, args...)}
}

// frameReader reads STOMP 1.2 frames from a client, bounded.
type frameReader struct {
	br *bufio.Reader
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, 4096)}
}

// Read returns the next frame, or nil for a heart-beat (an EOL between
// frames). Errors are io errors of the connection or *errBadFrame.
func (r *frameReader) Read() (*frame.Frame, error) {
	budget := stompMaxHeader
	cmd, err := r.line(&budget)
	if err != nil {
		return nil, err
	}
	if len(cmd) == 0 {
		return nil, nil // heart-beat
	}
	if !isCommand(cmd) {
		return nil, badFrame("malformed command %q", truncate(string(cmd), 40))
	}
	f := frame.New(string(cmd))
	for {
		line, err := r.line(&budget)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 {
			return nil, badFrame("malformed header line in a %s frame: want name:value", f.Command)
		}
		f.Header.Add(unescapeHeader(name), unescapeHeader(value))
	}
	if v, ok := f.Header.Contains(frame.ContentLength); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil || n < 0:
			return nil, badFrame("content-length %q is not a byte count", v)
		case n > stompMaxBody:
			return nil, badFrame("content-length %d is more than the limit of %d bytes", n, stompMaxBody)
		}
		f.Body = make([]byte, n)
		if _, err := io.ReadFull(r.br, f.Body); err != nil {
			return nil, err
		}
		if b, err := r.br.ReadByte(); err != nil {
			return nil, err
		} else if b != 0 {
			return nil, badFrame("the body of a %s frame is longer than its content-length %d", f.Command, n)
		}
		return f, nil
	}
	body, err := r.until(0, stompMaxBody)
	if err == errTooLong {
		return nil, badFrame("the body of a %s frame is larger than the limit of %d bytes", f.Command, stompMaxBody)
	}
	if err != nil {
		return nil, err
	}
	f.Body = body
	return f, nil
}

// line reads one line without its EOL (LF or CR LF), charging budget.
func (r *frameReader) line(budget *int) ([]byte, error) {
	line, err := r.until('\n', *budget-1)
	if err == errTooLong {
		return nil, badFrame("a frame has more than the limit of %d bytes of command and headers", stompMaxHeader)
	}
	if err != nil {
		return nil, err
	}
	*budget -= len(line) + 1
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

var errTooLong = errors.New("too long")

// until reads up to delim and consumes it, returning what came before; it
// fails with errTooLong as soon as more than limit bytes came without
// delim, not only once a buffer is full.
func (r *frameReader) until(delim byte, limit int) ([]byte, error) {
	var out []byte
	for {
		if _, err := r.br.Peek(1); err != nil {
			return nil, err
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		i := bytes.IndexByte(buf, delim)
		n := len(buf)
		if i >= 0 {
			n = i
		}
		if len(out)+n > limit {
			return nil, errTooLong
		}
		out = append(out, buf[:n]...)
		if i >= 0 {
			_, _ = r.br.Discard(n + 1)
			return out, nil
		}
		_, _ = r.br.Discard(n)
	}
}

// headerUnescaper undoes STOMP 1.2 header escaping. Unknown sequences stay
// as they are: the Java SDK sends headers unescaped (spec §4.14), and its
// values (tokens, UUIDs, paths) never hold a backslash anyway.
var headerUnescaper = strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\c`, ":", `\\`, `\`)

func unescapeHeader(b []byte) string { return headerUnescaper.Replace(string(b)) }

// isCommand reports whether b looks like a STOMP command (upper-case
// letters); which commands the endpoint serves is the connection's business.
func isCommand(b []byte) bool {
	if len(b) > 32 {
		return false
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
