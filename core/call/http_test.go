package call

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// errReader yields its text, then err instead of io.EOF (a dropped connection).
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func TestReadBodyKeepsTheCapAndReportsTruncation(t *testing.T) {
	resp := func(body string, length int64) *http.Response {
		return &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: length}
	}
	cases := []struct {
		name    string
		resp    *http.Response
		max     int64
		want    string
		wantErr bool
	}{
		{"announced length", resp(`{"id":"smi_1"}`, 14), 100, `{"id":"smi_1"}`, false},
		{"empty", resp("", 0), 100, "", false},
		{"unknown length", resp(`[1,2,3]`, -1), 100, `[1,2,3]`, false},
		{"longer than announced, read up to the cap", resp("0123456789", 4), 6, "0123456", false},
		{"announced over the cap", resp("0123456789", 10), 6, "0123456", false},
		{"shorter than announced", &http.Response{ContentLength: 10,
			Body: io.NopCloser(&errReader{strings.NewReader("0123"), io.ErrUnexpectedEOF})}, 100, "0123", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readBody(c.resp, c.max)
			assert.Equal(t, c.want, string(got))
			if c.wantErr {
				assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
