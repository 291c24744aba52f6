package store

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
)

// StatusLine is the content of NAME.status: "<rc> [message]", the message
// on one line with control characters escaped.
func StatusLine(rc int, msg string) []byte {
	msg = agent.Escape(strings.ReplaceAll(strings.TrimSpace(msg), "\n", " "))
	line := strconv.Itoa(rc)
	if msg != "" {
		line += " " + msg
	}
	return []byte(line + "\n")
}

// ReadStatus returns the status recorded for the file rel: its code and
// message, and false if there is none (or it is not a status line).
func (s *Store) ReadStatus(rel string) (int, string, bool) {
	b, err := s.ReadFile(rel+StatusSuffix, 4096)
	if err != nil {
		return 0, "", false
	}
	code, msg, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	rc, err := strconv.Atoi(code)
	if err != nil {
		return 0, "", false
	}
	return rc, msg, true
}

// statusIncomplete is the status of a file whose content is being
// replaced together with a new status: a kill between the two leaves it,
// so that no status ever vouches for content of another run.
var statusIncomplete = StatusLine(int(status.Interrupted), "the last run was interrupted while its result was stored")

// StoreResult stores a run's content and its status together, under a
// lock of the directory, so that both always come from the same run. When
// the status does not change (thousands of nodes that succeed), only the
// content is replaced; otherwise the status first says the result is being
// stored, then the content and the new status follow, so a kill part-way
// leaves a status that says the run did not complete.
func (s *Store) StoreResult(rel string, content []byte, rc int, msg string) error {
	dir, name := SplitRel(rel)
	line := StatusLine(rc, msg)
	unlock, err := s.LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	var names []string
	var data [][]byte
	if old, err := s.ReadFile(rel+StatusSuffix, int64(len(line))+1); err == nil && bytes.Equal(old, line) {
		names, data = []string{name}, [][]byte{content}
	} else {
		names = []string{name + StatusSuffix, name, name + StatusSuffix}
		data = [][]byte{statusIncomplete, content, line}
		if errors.Is(err, fs.ErrNotExist) {
			names, data = names[1:], data[1:] // no status yet: none to contradict
		}
	}
	return s.WriteFiles(dir, names, data)
}
