package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/store"
)

// logs captures what the store logs.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logger() *logging.Logger {
	return logging.New(logging.SinkFunc(func(lv logging.Level, msg string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, lv.String()+" "+msg)
	}), logging.Trace)
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)

	_, err := s.Get(ctx, "token/absent")
	require.Error(t, err)
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, errs.Storage, errs.KindOf(err))

	require.NoError(t, s.Put(ctx, "token/a", []byte("first")))
	require.NoError(t, s.Put(ctx, "token/a", []byte("second")))
	got, err := s.Get(ctx, "token/a")
	require.NoError(t, err)
	assert.Equal(t, []byte("second"), got, "Put overwrites")

	binary := []byte{0, 1, 2, 0xff, 0}
	require.NoError(t, s.Put(ctx, "token/bin", binary))
	got, err = s.Get(ctx, "token/bin")
	require.NoError(t, err)
	assert.Equal(t, binary, got)

	require.NoError(t, s.Put(ctx, "token/empty", nil))
	got, err = s.Get(ctx, "token/empty")
	require.NoError(t, err)
	assert.Empty(t, got)

	require.NoError(t, s.Delete(ctx, "token/a"))
	_, err = s.Get(ctx, "token/a")
	assert.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.Delete(ctx, "token/a"), "deleting an absent key is fine")
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	for _, k := range []string{"token/b", "token/a", "tokenX", "queue/1", "to%en/1", "to_en/2"} {
		require.NoError(t, s.Put(ctx, k, []byte("v")))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{prefix: "token/", want: []string{"token/a", "token/b"}},
		{prefix: "queue/", want: []string{"queue/1"}},
		{prefix: "to%", want: []string{"to%en/1"}},
		{prefix: "to_", want: []string{"to_en/2"}},
		{prefix: "nothing", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got, err := s.Keys(ctx, tt.prefix)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPersistsAcrossOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "token/a", []byte("kept")))
	require.NoError(t, s.Close())

	s, err = Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Get(ctx, "token/a")
	require.NoError(t, err)
	assert.Equal(t, []byte("kept"), got)
}

// TestNothingIsMemoryMapped: a memory-mapped file that shrinks under the
// process raises SIGBUS in the host (issue 10.2). WAL's -shm index is such a
// map; the store must run without one and without mmap of the database.
func TestNothingIsMemoryMapped(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	require.NoError(t, s.Put(ctx, "token/a", []byte("v")))

	var journal, locking string
	var mmap int64
	require.NoError(t, s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal))
	require.NoError(t, s.db.QueryRowContext(ctx, "PRAGMA locking_mode").Scan(&locking))
	require.NoError(t, s.db.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&mmap))
	assert.Equal(t, "delete", journal)
	assert.Equal(t, "normal", locking, "a second process may still open the store")
	assert.Zero(t, mmap)

	assert.Equal(t, os.FileMode(0o600), mode(t, path))
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		assert.NoFileExists(t, path+side, "the store is open and idle: only the database file exists")
	}
}

// TestLegacyWALDatabaseIsConverted: a store written by an older version in WAL
// mode opens with a rollback journal and keeps its values.
func TestLegacyWALDatabaseIsConverted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.db")
	old, err := sql.Open("sqlite3", path+"?_journal_mode=WAL")
	require.NoError(t, err)
	_, err = old.Exec(`CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, updated_at INTEGER NOT NULL);
		INSERT INTO kv VALUES ('token/a', 'kept', 0)`)
	require.NoError(t, err)
	var journal string
	require.NoError(t, old.QueryRow("PRAGMA journal_mode").Scan(&journal))
	require.Equal(t, "wal", journal)
	require.NoError(t, old.Close())

	s, err := Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Get(ctx, "token/a")
	require.NoError(t, err)
	assert.Equal(t, []byte("kept"), got)
	require.NoError(t, s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal))
	assert.Equal(t, "delete", journal)
	assert.NoFileExists(t, path+"-shm")
}

// TestFilesShrinkingUnderTheStore truncates the store's files while it is
// open, as a cleanup job or a full disk would, in a child process: the child
// must report errors (or carry on), never die of a signal. With WAL the
// truncated -shm map killed it with SIGBUS.
func TestFilesShrinkingUnderTheStore(t *testing.T) {
	if os.Getenv("SQLITE_SHRINK_CHILD") != "" {
		shrinkChild(os.Getenv("SQLITE_SHRINK_CHILD"))
		return
	}
	path := filepath.Join(t.TempDir(), "tokens.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFilesShrinkingUnderTheStore$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SQLITE_SHRINK_CHILD="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		ws, _ := exit.Sys().(syscall.WaitStatus)
		require.False(t, ws.Signaled(), "the child died of signal %v:\n%s", ws.Signal(), out)
	}
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "child survived")
}

func shrinkChild(path string) {
	ctx := context.Background()
	s, err := Open(path, nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for i := 0; i < 20; i++ {
		_ = s.Put(ctx, fmt.Sprintf("token/%d", i), bytes.Repeat([]byte{'x'}, 300))
	}
	for _, side := range []string{"-shm", "-wal", ""} {
		if err := os.Truncate(path+side, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Println("truncate:", err)
			os.Exit(2)
		}
		for i := 0; i < 5; i++ {
			putErr := s.Put(ctx, "token/after", []byte("v"))
			_, getErr := s.Get(ctx, "token/after")
			fmt.Printf("after truncating %q: put=%v get=%v\n", path+side, putErr, getErr)
		}
	}
	_ = s.Close()
	fmt.Println("child survived")
}

func TestWideModeIsRestricted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, os.Chmod(path, 0o644))

	var lg logs
	s, err = Open(path, lg.logger())
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, os.FileMode(0o600), mode(t, path))
	lines := lg.all()
	require.NotEmpty(t, lines)
	assert.True(t, strings.HasPrefix(lines[0], "warn "), "a warning says so: %v", lines)
	assert.Contains(t, lines[0], "0644")
}

func TestCorruptedFileIsMovedAside(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{name: "garbage", corrupt: func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("this is not sqlite "), 500), 0o600))
		}},
		{name: "damaged pages", corrupt: func(t *testing.T, path string) {
			s, err := Open(path, nil)
			require.NoError(t, err)
			for i := 0; i < 200; i++ {
				require.NoError(t, s.Put(context.Background(), fmt.Sprintf("token/%03d", i), bytes.Repeat([]byte{'x'}, 200)))
			}
			require.NoError(t, s.Close())
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Greater(t, len(raw), 3*4096)
			for i := 4096; i < len(raw); i++ { // keep the header page, wreck the rest
				raw[i] = byte(i * 7)
			}
			require.NoError(t, os.WriteFile(path, raw, 0o600))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "tokens.db")
			tt.corrupt(t, path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)

			var lg logs
			s, err := Open(path, lg.logger())
			require.NoError(t, err, "a corrupted file never stops the till")
			defer s.Close()

			ctx := context.Background()
			_, err = s.Get(ctx, "token/000")
			assert.ErrorIs(t, err, store.ErrNotFound, "the new database starts empty")
			require.NoError(t, s.Put(ctx, "token/new", []byte("fresh")))

			aside, err := filepath.Glob(path + ".corrupt-*")
			require.NoError(t, err)
			var moved []string
			for _, a := range aside {
				if !strings.HasSuffix(a, "-wal") {
					moved = append(moved, a)
				}
			}
			require.Len(t, moved, 1)
			kept, err := os.ReadFile(moved[0])
			require.NoError(t, err)
			assert.Equal(t, before, kept, "the broken file is kept for inspection")
			assert.Equal(t, os.FileMode(0o600), mode(t, moved[0]))

			warns := 0
			for _, l := range lg.all() {
				if strings.HasPrefix(l, "warn ") && strings.Contains(l, "moved it to") {
					warns++
				}
			}
			assert.Equal(t, 1, warns, "logged once: %v", lg.all())
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		path  string
		kind  errs.Kind
		field string
	}{
		{name: "empty", path: "", kind: errs.InvalidArgument, field: "store.path"},
		{name: "query in path", path: filepath.Join(dir, "a?mode=ro"), kind: errs.InvalidArgument, field: "store.path"},
		{name: "uri", path: "file:tokens.db", kind: errs.InvalidArgument, field: "store.path"},
		{name: "missing directory", path: filepath.Join(dir, "no", "such", "tokens.db"), kind: errs.Storage},
		{name: "a directory", path: dir, kind: errs.Storage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, nil)
			require.Error(t, err)
			assert.Nil(t, s)
			e := errs.As(err)
			assert.Equal(t, tt.kind, e.Kind)
			assert.Equal(t, tt.field, e.Field)
			if tt.kind == errs.Storage {
				assert.Contains(t, e.Message, tt.path, "the error names the path")
			}
		})
	}
}

func TestForeignDatabaseIsNotMovedAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	_, err = s.db.Exec(`DROP TABLE kv; CREATE TABLE kv (a INTEGER)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(path, nil)
	require.Error(t, err)
	assert.Equal(t, errs.Storage, errs.KindOf(err))
	aside, _ := filepath.Glob(path + ".corrupt-*")
	assert.Empty(t, aside, "another program's database is left alone")
}

func TestTwoHandlesShareTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.db")
	a, err := Open(path, nil)
	require.NoError(t, err)
	defer a.Close()
	b, err := Open(path, nil)
	require.NoError(t, err)
	defer b.Close()

	var wg sync.WaitGroup
	errCh := make(chan error, 200)
	for i := 0; i < 100; i++ {
		wg.Add(2)
		go func(i int) { defer wg.Done(); errCh <- a.Put(ctx, fmt.Sprintf("token/a%d", i), []byte("a")) }(i)
		go func(i int) { defer wg.Done(); errCh <- b.Put(ctx, fmt.Sprintf("token/b%d", i), []byte("b")) }(i)
	}
	wg.Wait()
	close(errCh)
	for err := range errCh {
		require.NoError(t, err, "busy_timeout lets writers wait instead of failing")
	}
	keys, err := a.Keys(ctx, "token/")
	require.NoError(t, err)
	assert.Len(t, keys, 200)
}

func TestCanceledContext(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Put(ctx, "token/a", []byte("v"))
	require.Error(t, err)
	assert.Equal(t, errs.Canceled, errs.KindOf(err))
}

func TestSealed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.db")
	key := bytes.Repeat([]byte{7}, store.KeySize)
	secret := []byte(`{"access_token":"at-plaintext-must-not-appear-0001","refresh_token":"rt-plaintext-must-not-appear-0002"}`)

	s, err := OpenSealed(path, key, nil)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "token/a", secret))
	got, err := s.Get(ctx, "token/a")
	require.NoError(t, err)
	assert.Equal(t, secret, got)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "at-plaintext-must-not-appear-0001")
	assert.NotContains(t, string(raw), "rt-plaintext-must-not-appear-0002")
	require.NoError(t, s.Close())

	other, err := OpenSealed(path, bytes.Repeat([]byte{8}, store.KeySize), nil)
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Get(ctx, "token/a")
	assert.ErrorIs(t, err, store.ErrCorrupt, "another key cannot open the value")

	_, err = OpenSealed(filepath.Join(dir, "x.db"), []byte("short"), nil)
	require.Error(t, err)
	assert.Equal(t, "store.encryption_key", errs.As(err).Field)
}
