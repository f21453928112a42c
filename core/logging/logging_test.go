package logging

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

type capture struct {
	mu    sync.Mutex
	lines []string
	lvls  []Level
}

func (c *capture) Log(l Level, m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, m)
	c.lvls = append(c.lvls, l)
}

func TestLevelsAndRedaction(t *testing.T) {
	c := &capture{}
	l := New(c, Info)
	l.Debugf("hidden %d", 1)
	l.Infof("token refresh with refresh_token=%s", "abcdef123456")
	l.With("auth: ").Warnf("card %s", "4111111111111111")
	assert.Equal(t, []Level{Info, Warn}, c.lvls)
	assert.NotContains(t, c.lines[0], "abcdef123456")
	assert.Equal(t, "auth: card ************1111", c.lines[1])

	l.SetLevel(Debug)
	l.With("x: ").Debugf("now visible")
	assert.Equal(t, "x: now visible", c.lines[2])
}

func TestNilAndDiscard(t *testing.T) {
	var l *Logger
	l.Infof("no panic")
	assert.False(t, l.Enabled(Error))
	Discard().Errorf("dropped")
	assert.Nil(t, l.With("p"))
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"DEBUG": Debug, "warning": Warn, "off": Off, "trace": Trace, "": Info} {
		got, ok := ParseLevel(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	_, ok := ParseLevel("verbose")
	assert.False(t, ok)
}
