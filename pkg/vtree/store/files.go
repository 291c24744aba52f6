package store

import (
	"io/fs"
	"strings"
)

// HasFile reports whether the directory dir holds a regular file name
// (not through a symlink), asked once per command: the lock and ids files
// of every directory above a device are looked for by each of its
// devices. ForgetFile drops an answer after a change, ForgetDirs those at
// and below a directory.
func (s *Store) HasFile(dir, name string) bool {
	rel := JoinRel(dir, name)
	s.mu.Lock()
	v, ok := s.files[rel]
	s.mu.Unlock()
	if ok {
		return v
	}
	st, err := s.Lstat(rel)
	v = err == nil && st.Mode().IsRegular()
	s.mu.Lock()
	if s.files == nil {
		s.files = map[string]bool{}
	}
	s.files[rel] = v
	s.mu.Unlock()
	return v
}

// ForgetFile drops HasFile's answer for the file rel.
func (s *Store) ForgetFile(rel string) {
	s.mu.Lock()
	delete(s.files, rel)
	s.mu.Unlock()
}

// noteFiles records HasFile's answers for the names of the directory dir
// from its listing present, where none is known yet.
func (s *Store) noteFiles(dir string, present []fs.DirEntry, names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string]bool{}
	}
	for _, n := range names {
		rel := JoinRel(dir, n)
		if _, ok := s.files[rel]; ok {
			continue
		}
		s.files[rel] = false
		for _, e := range present {
			if e.Name() == n {
				s.files[rel] = e.Type() == 0 // regular: no type bits
			}
		}
	}
}

// Hold keeps the directory of the file rel open until the returned
// function is called, however many others are opened meanwhile: a run on
// a device uses it before its agent runs and after, to store the result,
// and a fan-out opens as many others meanwhile as it runs at once.
func (s *Store) Hold(rel string) func() {
	dir, _ := SplitRel(rel)
	_, release, err := s.openDir(dir)
	if err != nil {
		return func() {}
	}
	return release
}

// QuietStderr reports whether name, missing in the directory rel, is the
// stderr file of a run that printed none: NAME.stderr exists only when
// the last run wrote to stderr (an empty file per node would cost an inode
// each), and reads as empty once NAME has a status.
func (s *Store) QuietStderr(rel, name string) bool {
	base, ok := strings.CutSuffix(name, StderrSuffix)
	if !ok || base == "" {
		return false
	}
	_, err := s.Lstat(JoinRel(rel, base+StatusSuffix))
	return err == nil
}
