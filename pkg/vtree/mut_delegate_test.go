package vtree

import (
	"errors"
	"io/fs"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMutDelegateChangeKinds: only changes made without error count as
// changed; notes are notes, changes and skips are not.
func TestMutDelegateChangeKinds(t *testing.T) {
	failed := errors.New("failed")
	for _, tc := range []struct {
		c             DelegateChange
		changed, note bool
	}{
		{DelegateChange{Kind: DelegateCreate}, true, false},
		{DelegateChange{Kind: DelegateChgrp}, true, false},
		{DelegateChange{Kind: DelegateChmod}, true, false},
		{DelegateChange{Kind: DelegateReclaim}, true, false},
		{DelegateChange{Kind: DelegateChmod, Err: failed}, false, false},
		{DelegateChange{Kind: DelegateCreate, Err: failed}, false, false},
		{DelegateChange{Kind: DelegateSkip, Err: failed}, false, false},
		{DelegateChange{Kind: DelegateUnreachable}, false, true},
		{DelegateChange{Kind: DelegateNoDevices}, false, true},
		{DelegateChange{Kind: DelegateStray}, false, true},
	} {
		if got := tc.c.Changed(); got != tc.changed {
			t.Errorf("%+v: Changed() = %v, want %v", tc.c, got, tc.changed)
		}
		if got := tc.c.Note(); got != tc.note {
			t.Errorf("%+v: Note() = %v, want %v", tc.c, got, tc.note)
		}
	}
}

// TestMutDelegTrusted: a file that decides what smctl does is trusted when
// root or the running user owns it and neither group nor others may write
// it.
func TestMutDelegTrusted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		uid, euid int
		mode      uint32
		want      bool
	}{
		{"root's, run by another user", 0, 1000, 0o644, true},
		{"the user's", 1000, 1000, 0o644, true},
		{"root's, run by root", 0, 0, 0o600, true},
		{"another user's", 5, 1000, 0o644, false},
		{"another user's, run by root", 5, 0, 0o644, false},
		{"group-writable", 0, 1000, 0o664, false},
		{"other-writable", 1000, 1000, 0o646, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := unix.Stat_t{Uid: uint32(tc.uid), Mode: unix.S_IFREG | tc.mode}
			if got := delegTrusted(&st, tc.euid); got != tc.want {
				t.Errorf("delegTrusted(uid %d mode %o, euid %d) = %v, want %v", tc.uid, tc.mode, tc.euid, got, tc.want)
			}
		})
	}
}

// TestMutDelegModeOf: the modes Delegate reports carry the file's type and
// its setuid, setgid and sticky bits.
func TestMutDelegModeOf(t *testing.T) {
	for _, tc := range []struct {
		typ, perm uint32
		want      fs.FileMode
	}{
		{unix.S_IFREG, 0o644, 0o644},
		{unix.S_IFDIR, 0o1775, fs.ModeDir | fs.ModeSticky | 0o775},
		{unix.S_IFDIR, 0o2770, fs.ModeDir | fs.ModeSetgid | 0o770},
		{unix.S_IFREG, 0o4755, fs.ModeSetuid | 0o755},
		{unix.S_IFLNK, 0o777, fs.ModeSymlink | 0o777},
		{unix.S_IFIFO, 0o600, fs.ModeNamedPipe | 0o600},
	} {
		if got := delegModeOf(tc.typ, tc.perm); got != tc.want {
			t.Errorf("delegModeOf(%o, %o) = %v, want %v", tc.typ, tc.perm, got, tc.want)
		}
	}
}
