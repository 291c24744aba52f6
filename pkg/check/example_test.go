package check_test

import (
	"fmt"
	"time"

	"github.com/smctl/smctl/pkg/check"
)

func ExampleParse() {
	// What a caller got from running a plugin: exit status 1 and this.
	out := "DISK WARNING - free space: / 3326 MB (56%); | /=2643MB;2600;5958;0;5968\n" +
		"/boot 68 MB (69%); | /boot=68MB;88;93;0;98 'swap space'=0,5GB\n"
	r := check.Parse(1, []byte(out))
	fmt.Println(r.State, "-", r.Message)
	fmt.Println("long:", r.Long)
	for _, p := range r.Perf {
		fmt.Printf("%s = %v %s (warn %s, crit %s)\n", p.Label, p.Value, p.Unit, p.Warn, p.Crit)
	}
	fmt.Println("bad:", r.Bad)
	// Output:
	// WARNING - DISK WARNING - free space: / 3326 MB (56%);
	// long: /boot 68 MB (69%);
	// / = 2643 MB (warn 2600, crit 5958)
	// /boot = 68 MB (warn 88, crit 93)
	// bad: ["'swap space'=0,5GB": unknown unit ",5GB" (want s, ms, us, %, B, KB, MB, TB, c or none)]
}

func ExampleStatus_Next() {
	var st check.Status // a check never run; a caller reads it with UnmarshalText
	p := check.Policy{MaxAttempts: 3}
	start := time.Date(2026, 11, 22, 21, 40, 1, 0, time.UTC)
	for i, r := range []check.State{check.OK, check.Critical, check.Critical, check.Critical, check.OK} {
		var c check.Change
		st, c = st.Next(r, start.Add(time.Duration(i)*time.Minute), p)
		run := ""
		if c.Hard() && !st.Flapping {
			run = " -> run recovery actions"
		}
		fmt.Printf("%v: %v%s\n", st, c, run)
	}
	line, _ := st.MarshalText()
	fmt.Println(string(line))
	// Output:
	// OK HARD 1/3 since 2026-11-22T21:40:01Z: no change
	// CRITICAL SOFT 1/3 since 2026-11-22T21:41:01Z: soft problem
	// CRITICAL SOFT 2/3 since 2026-11-22T21:41:01Z: soft problem
	// CRITICAL HARD 3/3 since 2026-11-22T21:41:01Z: hard problem -> run recovery actions
	// OK HARD 1/3 since 2026-11-22T21:44:01Z: hard recovery -> run recovery actions
	// check-status/1 state=OK type=HARD attempt=1/3 since=2026-11-22T21:44:01Z last=2026-11-22T21:44:01Z history=02220 flapping=false percent=11.684210526315791
}
