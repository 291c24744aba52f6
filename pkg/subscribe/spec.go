// Package subscribe is smctl serve's subscriptions: seed 003's
// subscription to service data with an expiration time, made durable. A
// subscription is a file of the tree, /subscriptions/NAME, whose first
// lines say what to watch and whom to tell:
//
//	paths=/systems/servers/*/power every=30s for=2 exec=logger "$SMCTL_PATH: $SMCTL_NEW"
//	paths=@web/proc/loadavg webhook=http://127.0.0.1:8080/hook until=2026-12-31T00:00
//
// smctl serve runs every subscription it finds there until it expires,
// delivers each change at least once (retried with backoff, recorded in
// /subscriptions/NAME.log, kept across a restart), and writes the
// subscription's state below its spec as "# " lines, so that cat shows
// it. Writing an empty value removes it.
//
// A subscription decides what serve runs and where it connects, with
// serve's owner's credentials: serve runs only those the trust check
// passes (owned by serve's user or root, writable by nobody else, in
// directories nobody else may change), as OpenSSH's StrictModes does.
package subscribe

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Spec is what a subscription asks for.
type Spec struct {
	Paths   []string      // files, patterns, groups or directories to watch
	Every   time.Duration // read them every Every; 0: follow their writes
	For     int           // a change must hold this many reads (at least 1)
	Until   time.Time     // the subscription expires then; zero: never
	Exec    string        // sh command run for each change
	Webhook string        // http(s) URL each change is posted to as JSON
}

// untilLayouts are the forms until= accepts, in the local time zone
// unless they carry one.
var untilLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// SpecText returns the lines of a subscription file that are its spec:
// those not blank and not "#" lines (its state, written by serve), each
// trimmed, joined by newlines.
func SpecText(content string) string {
	var lines []string
	for l := range strings.SplitSeq(content, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// Parse reads a subscription's spec (SpecText): KEY=VALUE words, where
// exec= takes the rest of its line. paths= may be given more than once;
// exec= or webhook= (or both) is needed.
func Parse(text string) (Spec, error) {
	s := Spec{For: 1}
	for line := range strings.SplitSeq(text, "\n") {
		for rest := strings.TrimSpace(line); rest != ""; {
			word, after, _ := strings.Cut(rest, " ")
			rest = strings.TrimSpace(after)
			key, v, ok := strings.Cut(word, "=")
			if !ok || v == "" && key != "exec" {
				return Spec{}, fmt.Errorf("%q: want KEY=VALUE (paths, every, for, until, exec, webhook)", word)
			}
			var err error
			switch key {
			case "paths":
				s.Paths = append(s.Paths, v)
			case "every":
				s.Every, err = time.ParseDuration(v)
				if err == nil && s.Every < 100*time.Millisecond {
					err = fmt.Errorf("want 100ms or more")
				}
			case "for":
				s.For, err = strconv.Atoi(v)
				if err == nil && (s.For < 1 || s.For > 1000) {
					err = fmt.Errorf("want 1 to 1000")
				}
			case "until":
				s.Until, err = parseUntil(v)
			case "webhook":
				u, perr := url.Parse(v)
				if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					err = fmt.Errorf("want an http:// or https:// URL")
				}
				s.Webhook = v
			case "exec":
				s.Exec = strings.TrimSpace(strings.TrimPrefix(word, "exec=") + " " + rest)
				rest = ""
				if s.Exec == "" {
					err = fmt.Errorf("want a command")
				}
			default:
				return Spec{}, fmt.Errorf("unknown key %q (paths, every, for, until, exec, webhook)", key)
			}
			if err != nil {
				return Spec{}, fmt.Errorf("%s=%s: %v", key, v, err)
			}
		}
	}
	switch {
	case len(s.Paths) == 0:
		return Spec{}, fmt.Errorf("no paths=: say which files to watch")
	case s.Exec == "" && s.Webhook == "":
		return Spec{}, fmt.Errorf("no exec= or webhook=: say whom to tell")
	}
	return s, nil
}

func parseUntil(v string) (time.Time, error) {
	for _, l := range untilLayouts {
		if t, err := time.ParseInLocation(l, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want a time such as 2026-12-31T00:00 or %s", time.RFC3339)
}

// ValidName reports whether name can be a subscription: a plain file name
// of letters, digits, '.', '_' and '-', not starting with '.', and not a
// name the tree keeps beside another (NAME.log, NAME.status, NAME.stderr).
func ValidName(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 200 {
		return false
	}
	for _, suf := range []string{".log", ".status", ".stderr"} {
		if strings.HasSuffix(name, suf) {
			return false
		}
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
