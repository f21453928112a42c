package core_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCoreBuildsWithoutCgo (issue 10.7): core imported store/sqlite
// unconditionally, so a Go program using core could not be built (or
// cross-compiled) without a C toolchain. Only store/sqlite and capi may need
// cgo (DESIGN §1); every other package of core builds with CGO_ENABLED=0.
func TestCoreBuildsWithoutCgo(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	list := exec.Command(goTool, "list", "github.com/libsecucard/libsecucard/core/...")
	out, err := list.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasSuffix(p, "/core/store/sqlite") {
			pkgs = append(pkgs, p)
		}
	}
	require.Contains(t, pkgs, "github.com/libsecucard/libsecucard/core")

	build := exec.Command(goTool, append([]string{"build"}, pkgs...)...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err = build.CombinedOutput()
	require.NoError(t, err, "CGO_ENABLED=0 go build: %s", out)
}
