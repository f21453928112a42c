package reliability

import (
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// Linux ioctl numbers of the inode flags (linux/fs.h).
const (
	fsIocGetFlags = 0x80086601
	fsIocSetFlags = 0x40086602
	fsImmutableFl = 0x00000010
)

// readOnly makes path unwritable for this process until the test ends: by
// its mode for an ordinary user, by the immutable flag for root (whom no
// mode stops). A file system without that flag fails the test, never
// skips it.
func readOnly(t testing.TB, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(path, 0o600) })
		return
	}
	setImmutable := func(on bool) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var flags int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocGetFlags, uintptr(unsafe.Pointer(&flags))); e != 0 {
			return e
		}
		if on {
			flags |= fsImmutableFl
		} else {
			flags &^= fsImmutableFl
		}
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocSetFlags, uintptr(unsafe.Pointer(&flags))); e != 0 {
			return e
		}
		return nil
	}
	if err := setImmutable(true); err != nil {
		t.Fatalf("cannot make %s read-only for root (immutable flag): %v", path, err)
	}
	t.Cleanup(func() {
		if err := setImmutable(false); err != nil {
			t.Errorf("cannot clear the immutable flag of %s: %v", path, err)
		}
	})
}
