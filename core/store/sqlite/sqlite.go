// Package sqlite owns the SQLite token store: one key/value table in a file
// created 0600, a rollback journal, a busy timeout so two processes can share
// it. Values are raw bytes; OpenSealed wraps the store in store.Sealed so
// tokens are encrypted before they reach the file.
//
// Nothing of the store is memory-mapped: no WAL (whose -shm index is a shared
// memory map) and mmap_size 0. A mapped file that shrinks or cannot be
// extended under the process raises SIGBUS, which kills the host; a read(2) or
// write(2) that fails is an error the till can live with. A token store writes
// a few hundred bytes a few times an hour, so WAL's speed buys nothing here.
//
// A file that is not a database or is corrupted is moved aside and replaced by
// an empty database: losing tokens costs one authentication, while refusing to
// start would take the till out of service.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/store"
)

const op = "store.sqlite"

// busyTimeoutMS is how long a statement waits for another connection (or
// process) holding the lock before it fails.
const busyTimeoutMS = 5000

// openTimeout bounds the statements run while opening.
const openTimeout = 10 * time.Second

// fileMode is the mode of the database and its journal: tokens are for this
// user only.
const fileMode os.FileMode = 0o600

// Store is a store.Store, store.Lister and store.Closer backed by SQLite.
type Store struct {
	db   *sql.DB
	path string
	log  *logging.Logger
}

var (
	_ store.Store  = (*Store)(nil)
	_ store.Lister = (*Store)(nil)
	_ store.Closer = (*Store)(nil)
)

// errUnreadable marks a database file that opened but failed its integrity check.
var errUnreadable = errors.New("the database failed its integrity check")

// Open opens (creating if needed) the database at path. A corrupted file is
// moved to <path>.corrupt-<unix> and a fresh database takes its place.
func Open(path string, logger *logging.Logger) (*Store, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errs.Invalid("store.path", "is required")
	}
	// go-sqlite3 reads options after the first '?' and treats "file:" as a
	// URI; a plain path must not be mistaken for either.
	if strings.Contains(path, "?") || strings.HasPrefix(path, "file:") {
		return nil, errs.Invalid("store.path", `must be a plain file path (no "?" and no "file:" prefix)`)
	}
	log := logger.With("store: ")
	s, err := open(path, log)
	if err == nil {
		return s, nil
	}
	if !isCorrupt(err) {
		return nil, storageErr(path, err, "cannot open the token store")
	}
	aside, mvErr := moveAside(path)
	if mvErr != nil {
		return nil, storageErr(path, mvErr, "the token store is corrupted and could not be moved aside")
	}
	log.Warnf("token store %s was unreadable (%v); moved it to %s and started an empty one: the device must authenticate again", path, err, aside)
	s, err = open(path, log)
	if err != nil {
		return nil, storageErr(path, err, "cannot create a new token store after moving the corrupted one aside")
	}
	return s, nil
}

// OpenSealed opens the database at path and wraps it so every value is
// sealed with AES-256-GCM under key (store.KeySize bytes).
func OpenSealed(path string, key []byte, logger *logging.Logger) (*store.Sealed, error) {
	if len(key) != store.KeySize {
		return nil, errs.Invalid("store.encryption_key", "must be %d bytes, got %d", store.KeySize, len(key))
	}
	s, err := Open(path, logger)
	if err != nil {
		return nil, err
	}
	sealed, err := store.NewSealed(s, key)
	if err != nil {
		_ = s.Close()
		return nil, errs.Wrap(errs.Internal, op, err, "cannot set up token encryption")
	}
	return sealed, nil
}

// driverName is go-sqlite3 with a connect hook that turns memory mapping off
// on every connection database/sql opens, whatever the SQLite build's default.
const driverName = "secucard-sqlite3"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA mmap_size=0", nil)
		return err
	}})
}

// dsn opens path with a DELETE rollback journal and NORMAL (shared) locking:
// neither maps memory, and NORMAL lets a second process use the file. A
// database left in WAL mode by an older version is converted when opened.
// synchronous=FULL: a token write is rare and must survive a power cut.
func dsn(path string) string {
	return fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=DELETE&_locking_mode=NORMAL&_synchronous=FULL", path, busyTimeoutMS)
}

func open(path string, log *logging.Logger) (*Store, error) {
	if err := prepareFile(path, log); err != nil {
		return nil, err
	}
	db, err := sql.Open(driverName, dsn(path))
	if err != nil {
		return nil, err
	}
	// One connection: the store is tiny, and a single connection means no
	// lock contention inside this process.
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if err := initSchema(ctx, db, log); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Store{db: db, path: path, log: log}, nil
}

func initSchema(ctx context.Context, db *sql.DB, log *logging.Logger) error {
	// The first statement reads the header: garbage fails here with "file is
	// not a database".
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "delete") {
		// Another process still holds the file in WAL mode (an older
		// version): it cannot be converted while shared.
		return fmt.Errorf("the database is in %q journal mode and could not be switched to a rollback journal (is another process using it?)", mode)
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		return err
	}
	if check != "ok" {
		return fmt.Errorf("%w: %s", errUnreadable, check)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS kv (
		key        TEXT PRIMARY KEY,
		value      BLOB NOT NULL,
		updated_at INTEGER NOT NULL
	)`); err != nil {
		return err
	}
	// A database of another program at this path is a configuration mistake,
	// not corruption: fail loudly instead of moving someone's data aside.
	if _, err := db.ExecContext(ctx, `SELECT key, value, updated_at FROM kv LIMIT 0`); err != nil {
		return fmt.Errorf("the file holds a database that is not a libsecucard token store: %w", err)
	}
	return nil
}

// prepareFile creates the database file 0600 before SQLite opens it (SQLite
// would create it with the umask's default) and narrows a wider mode.
func prepareFile(path string, log *logging.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	_ = f.Close()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("the path is a directory")
	}
	restrictMode(path, log)
	return nil
}

// restrictMode sets a file that exists to 0600 if others could read it.
// Windows has no such modes (ACLs govern access), so it is skipped there.
func restrictMode(path string, log *logging.Logger) {
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	if fi.Mode().Perm()&^fileMode == 0 {
		return
	}
	if err := os.Chmod(path, fileMode); err != nil {
		log.Warnf("%s has mode %04o and could not be restricted to 0600: %v", path, fi.Mode().Perm(), err)
		return
	}
	log.Warnf("%s had mode %04o; restricted it to 0600", path, fi.Mode().Perm())
}

// isCorrupt reports whether err means the file cannot be used as a database.
func isCorrupt(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return true
	}
	if errors.Is(err, errUnreadable) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "file is not a database") || strings.Contains(msg, "malformed")
}

// moveAside renames a corrupted database (and its WAL, which belongs to it)
// to <path>.corrupt-<unix>; the rename keeps the mode. The -shm index is
// removed: SQLite rebuilds it.
func moveAside(path string) (string, error) {
	base := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
	target := base
	for i := 1; exists(target); i++ {
		target = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, target); err != nil {
		return "", err
	}
	if exists(path + "-wal") {
		if err := os.Rename(path+"-wal", target+"-wal"); err != nil {
			return "", err
		}
	}
	if err := os.Remove(path + "-shm"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return target, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func storageErr(path string, cause error, what string) *errs.Error {
	return errs.Wrap(errs.Storage, op, cause, "%s (%s): %v", what, path, cause)
}

// Get implements store.Store. An absent key returns an error matching
// store.ErrNotFound; a damaged database one matching store.ErrCorrupt.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errs.Wrap(errs.Storage, op, store.ErrNotFound, "no value stored under %q", key)
	case err != nil && isCorrupt(err):
		return nil, storageErr(s.path, errors.Join(store.ErrCorrupt, err), "cannot read the token store")
	case err != nil:
		return nil, s.failed(ctx, err, "cannot read the token store")
	}
	return v, nil
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{} // the column is NOT NULL; an empty value is still a value
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, time.Now().Unix())
	if err != nil {
		return s.writeFailed(ctx, err, "cannot write the token store")
	}
	return nil
}

// Delete implements store.Store. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM kv WHERE key = ?`, key); err != nil {
		return s.writeFailed(ctx, err, "cannot delete from the token store")
	}
	return nil
}

// Keys implements store.Lister.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	// instr rather than LIKE: a prefix may contain % or _.
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM kv WHERE instr(key, ?) = 1 ORDER BY key`, prefix)
	if err != nil {
		return nil, s.failed(ctx, err, "cannot list the token store")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, s.failed(ctx, err, "cannot list the token store")
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.failed(ctx, err, "cannot list the token store")
	}
	return out, nil
}

// failed maps a statement error: the caller's context ending keeps its own
// kind (Canceled/Timeout), anything else is Storage.
func (s *Store) failed(ctx context.Context, err error, what string) *errs.Error {
	if ctx.Err() != nil {
		return errs.Classify(op, ctx.Err())
	}
	return storageErr(s.path, err, what)
}

// writeFailed is failed for a write, with the reason SQLite often hides: when
// the journal cannot be created, SQLite reports a stale errno ("no such file
// or directory"), so the file and its directory are probed to tell the host
// what really stands in the way (a read-only file system, a full disk, an
// immutable file).
func (s *Store) writeFailed(ctx context.Context, err error, what string) *errs.Error {
	e := s.failed(ctx, err, what)
	if e.Kind == errs.Storage {
		if why := probeWritable(s.path); why != "" {
			e.Message += "; " + why
		}
	}
	return e
}

// probeWritable returns why path or its directory cannot be written, or "".
func probeWritable(path string) string {
	for _, f := range []string{path, path + "-journal"} {
		h, err := os.OpenFile(f, os.O_WRONLY, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Sprintf("%s cannot be written: %v", filepath.Base(f), unwrapPath(err))
		}
		_ = h.Close()
	}
	h, err := os.CreateTemp(filepath.Dir(path), ".secucard-probe-*")
	if err != nil {
		return fmt.Sprintf("its directory does not accept new files (the journal): %v", unwrapPath(err))
	}
	name := h.Name()
	_, werr := h.Write(make([]byte, 4096))
	_ = h.Close()
	_ = os.Remove(name)
	if werr != nil {
		return fmt.Sprintf("its directory cannot grow: %v", unwrapPath(werr))
	}
	return ""
}

// unwrapPath drops the *PathError's operation and path: the message names
// the store already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Close implements store.Closer.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return storageErr(s.path, err, "cannot close the token store")
	}
	return nil
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }
