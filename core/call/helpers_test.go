package call

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
)

func intp(n int) *int { return &n }

func asErr(t *testing.T, err error) *errs.Error {
	t.Helper()
	var e *errs.Error
	require.ErrorAs(t, err, &e)
	return e
}
