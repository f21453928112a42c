// Package logging owns the library's pluggable, levelled logger. Every line is
// passed whole through the client's redactor and then clipped (redact first,
// so a cut never leaves half a secret), before it reaches the sink, so no
// caller has to remember to redact.
package logging

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/libsecucard/libsecucard/core/redact"
)

// Level orders log lines by importance. The numeric values are part of the C ABI
// (SECUCARD_LOG_*): do not renumber.
type Level int

const (
	Off   Level = 0
	Error Level = 1
	Warn  Level = 2
	Info  Level = 3
	Debug Level = 4
	Trace Level = 5
)

func (l Level) String() string {
	switch l {
	case Off:
		return "off"
	case Error:
		return "error"
	case Warn:
		return "warn"
	case Info:
		return "info"
	case Debug:
		return "debug"
	case Trace:
		return "trace"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// ParseLevel accepts the names above (case-insensitive) and "warning".
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "off", "none":
		return Off, true
	case "error":
		return Error, true
	case "warn", "warning":
		return Warn, true
	case "info", "":
		return Info, true
	case "debug":
		return Debug, true
	case "trace":
		return Trace, true
	}
	return Info, false
}

// Sink receives finished, redacted lines. Implementations must be safe for
// concurrent use and must not call back into the client that logs.
type Sink interface {
	Log(level Level, msg string)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(level Level, msg string)

// Log implements Sink.
func (f SinkFunc) Log(level Level, msg string) { f(level, msg) }

// Logger filters by level, formats, redacts and forwards to a Sink. The zero
// value and a nil *Logger discard everything, so packages can log unconditionally.
type Logger struct {
	sink   atomic.Pointer[sinkBox]
	level  atomic.Int32
	red    *redact.Redactor // root only: the client's secrets
	prefix string
	parent *Logger // loggers made by With share the root's sink, level and redactor
}

// MaxLine bounds one log line in bytes (after redaction): a trace of a large
// body stays readable and never costs the host megabytes per line.
const MaxLine = 64 << 10

type sinkBox struct{ s Sink }

func (l *Logger) root() *Logger {
	for l.parent != nil {
		l = l.parent
	}
	return l
}

// New returns a logger writing lines at or above level to sink, with a fresh
// redactor (see Redactor).
func New(sink Sink, level Level) *Logger {
	l := &Logger{red: redact.New()}
	l.SetSink(sink)
	l.SetLevel(level)
	return l
}

// Discard returns a logger that drops everything.
func Discard() *Logger { return New(nil, Off) }

// With returns a logger sharing the sink and level but prefixing every line
// (e.g. "auth: ").
func (l *Logger) With(prefix string) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{prefix: l.prefix + prefix, parent: l}
}

// Redactor is the redactor of this logger's root: the one per client. Every
// package that learns a secret registers it here (Set), and the client passes
// its errors and events through it too. A nil Logger has a nil Redactor, which
// masks the patterns only and ignores Set.
func (l *Logger) Redactor() *redact.Redactor {
	if l == nil {
		return nil
	}
	return l.root().red
}

// SetSink replaces the sink (nil discards). Safe while other goroutines log.
func (l *Logger) SetSink(s Sink) {
	if l == nil {
		return
	}
	root := l.root()
	if s == nil {
		root.sink.Store(nil)
		return
	}
	root.sink.Store(&sinkBox{s})
}

// SetLevel sets the most verbose level that is forwarded.
func (l *Logger) SetLevel(level Level) {
	if l == nil {
		return
	}
	l.root().level.Store(int32(level))
}

// Enabled reports whether a line at level would be forwarded. Use it to avoid
// building expensive debug output.
func (l *Logger) Enabled(level Level) bool {
	if l == nil {
		return false
	}
	r := l.root()
	return level != Off && int32(level) <= r.level.Load() && r.sink.Load() != nil
}

// Logf formats, redacts and forwards one line.
func (l *Logger) Logf(level Level, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	box := l.root().sink.Load()
	if box == nil {
		return
	}
	box.s.Log(level, l.Redactor().Clip(l.prefix+fmt.Sprintf(format, args...), MaxLine))
}

func (l *Logger) Errorf(format string, args ...any) { l.Logf(Error, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.Logf(Warn, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.Logf(Info, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.Logf(Debug, format, args...) }
func (l *Logger) Tracef(format string, args ...any) { l.Logf(Trace, format, args...) }
