//go:build unix

package devissuer

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a state file that other users may read or write, or
// that belongs to another user.
func checkPrivate(path string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: it holds private keys and secrets, so it must be readable by you alone (chmod 600 %s, or delete it to start afresh)", path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s belongs to user id %d, not to you (%d): refusing keys and secrets another user could have written", path, st.Uid, os.Geteuid())
	}
	return nil
}
