//go:build linux && roottests

// These tests make the token store's file system, directory, database file or
// journal read-only while a client holds it open, with the means that work for
// root: a read-only bind mount, the immutable attribute, and an ext4 image on
// a loop device forced into emergency read-only mode (what the kernel does to
// a POS SD card after an I/O error). They need root and the mount, losetup,
// mkfs.ext4 and chattr tools, so plain `go test` does not build them:
// `make test-store-readonly` runs them as root in a private mount namespace.
//
// The promise under test (issue 10.2): a store that turns read-only yields
// errs.Storage (SECUCARD_ERR_STORAGE) from the store, and the token manager
// keeps a fresh token in memory and says so once in the log; the host process
// never gets a signal.

package sqlite_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/store/sqlite"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

func unmountAtCleanup(t *testing.T, target string) {
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// tmpfsDir is a fresh tmpfs, so bind mounts and attributes stay inside it.
func tmpfsDir(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0700"))
	unmountAtCleanup(t, dir)
	return dir
}

// bindReadOnly lays a read-only view of path over path. Descriptors opened
// before keep writing through the old mount; every open from now on fails
// with EROFS, as for a directory (or file) made read-only by its owner.
func bindReadOnly(t *testing.T, path string) {
	require.NoError(t, syscall.Mount(path, path, "", syscall.MS_BIND, ""))
	unmountAtCleanup(t, path)
	require.NoError(t, syscall.Mount("", path, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""))
}

// immutable sets the immutable attribute, which stops root too.
func immutable(t *testing.T, path string) {
	run(t, "chattr", "+i", path)
	t.Cleanup(func() { _, _ = exec.Command("chattr", "-i", path).CombinedOutput() })
}

// ext4Dir mounts a small ext4 image that remounts itself read-only on error,
// and returns a function that raises such an error: every descriptor of the
// file system, open or not, is read-only from then on.
func ext4Dir(t *testing.T) (dir string, fail func()) {
	img := filepath.Join(t.TempDir(), "fs.img")
	require.NoError(t, os.WriteFile(img, nil, 0o600))
	require.NoError(t, os.Truncate(img, 8<<20))
	run(t, "mkfs.ext4", "-q", "-F", img)
	dev := run(t, "losetup", "--find", "--show", img)
	t.Cleanup(func() { _, _ = exec.Command("losetup", "-d", dev).CombinedOutput() })
	dir = t.TempDir()
	require.NoError(t, syscall.Mount(dev, dir, "ext4", 0, "errors=remount-ro"))
	unmountAtCleanup(t, dir)
	return dir, func() {
		trigger := filepath.Join("/sys/fs/ext4", filepath.Base(dev), "trigger_fs_error")
		require.NoError(t, os.WriteFile(trigger, []byte("test: read-only store\n"), 0o200))
		err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600)
		require.ErrorIs(t, err, syscall.EROFS, "the file system went read-only")
	}
}

func TestStoreTurnsReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run `make test-store-readonly`")
	}
	cases := []struct {
		name string
		// setup returns the store directory and a function that makes the
		// store read-only once it is open and holds a token.
		setup func(t *testing.T) (dir string, readOnly func(path string))
		// why is the reason the write error must give.
		why string
	}{
		{"file system", func(t *testing.T) (string, func(string)) {
			dir, fail := ext4Dir(t)
			return dir, func(string) { fail() }
		}, "read-only file system"},
		{"directory", func(t *testing.T) (string, func(string)) {
			dir := tmpfsDir(t)
			return dir, func(string) { bindReadOnly(t, dir) }
		}, "read-only file system"},
		{"directory immutable", func(t *testing.T) (string, func(string)) {
			dir := tmpfsDir(t)
			return dir, func(string) { immutable(t, dir) }
		}, "operation not permitted"},
		{"journal", func(t *testing.T) (string, func(string)) {
			return tmpfsDir(t), func(path string) {
				// An empty journal is no hot journal; read-only it stops
				// every write transaction from starting.
				require.NoError(t, os.WriteFile(path+"-journal", nil, 0o600))
				bindReadOnly(t, path+"-journal")
			}
		}, "read-only file system"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := testkit.Sandbox(t, sandbox.Options{TokenTTL: time.Minute})
			dir, readOnly := tc.setup(t)
			path := filepath.Join(dir, "tokens.db")
			s, err := sqlite.OpenSealed(path, keyA, nil)
			require.NoError(t, err)
			defer s.Close()
			var lg lineLog
			m := newManager(t, srv, s, func(c *auth.Config) { c.Logger = lg.logger() })
			first, err := m.Token(testkit.Context(t, 30*time.Second), false)
			require.NoError(t, err)
			require.NoError(t, s.Put(ctx, "probe", []byte("before")))

			readOnly(path)

			err = s.Put(ctx, "probe", []byte("after"))
			require.Error(t, err, "a write to a read-only store cannot succeed")
			e := errs.As(err)
			assert.Equal(t, errs.Storage, e.Kind, "%v", err)
			assert.Contains(t, e.Message, path, "the error names the store")
			assert.Contains(t, e.Message, tc.why, "the error says why")
			if got, err := s.Get(ctx, "probe"); err == nil {
				assert.Equal(t, []byte("before"), got, "a read sees the last committed value")
			} else {
				assert.Equal(t, errs.Storage, errs.KindOf(err), "%v", err)
			}

			// Clearing the token cannot delete it: SECUCARD_ERR_STORAGE.
			err = m.Clear(ctx)
			require.Error(t, err)
			assert.Equal(t, errs.Storage, errs.KindOf(err), "%v", err)

			// The next token is fetched and kept in memory, and the loss is
			// logged once.
			second, err := m.Token(testkit.Context(t, 30*time.Second), false)
			require.NoError(t, err, "a read-only store never takes the till out of service")
			assert.NotEqual(t, first.AccessToken, second.AccessToken)
			assert.Equal(t, errs.Storage, errs.KindOf(m.Clear(ctx)))
			_, err = m.Token(testkit.Context(t, 30*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, 1, lg.count("error", "kept in memory only"), "logged once")
		})
	}
}

// TestReadOnlyDatabaseFile: a descriptor opened before the file turned
// immutable keeps writing (POSIX checks at open), so the open store works on;
// the till's next start cannot open the file for writing and gets a storage
// error naming it, rather than a store that silently drops every token.
func TestReadOnlyDatabaseFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run `make test-store-readonly`")
	}
	ctx := context.Background()
	path := filepath.Join(tmpfsDir(t), "tokens.db")
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "probe", []byte("before")))
	immutable(t, path)
	if err := s.Put(ctx, "probe", []byte("after")); err != nil {
		assert.Equal(t, errs.Storage, errs.KindOf(err), "%v", err)
	}
	require.NoError(t, s.Close())

	_, err = sqlite.Open(path, nil)
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.Storage, e.Kind)
	assert.Contains(t, e.Message, path)
	assert.Contains(t, e.Message, "operation not permitted")
}

// TestBindReadOnlyStopsRoot guards the helper: a bind mount that did not take
// would make the cases above pass for the wrong reason.
func TestBindReadOnlyStopsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run `make test-store-readonly`")
	}
	dir := tmpfsDir(t)
	bindReadOnly(t, dir)
	err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.EROFS), "%v", err)
}
