//go:build !unix

package devissuer

import "io/fs"

// checkPrivate has no mode bits or owners to check outside Unix: there the
// state file is as private as the user's profile directory holding it.
func checkPrivate(string, fs.FileInfo) error { return nil }
