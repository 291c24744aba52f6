// Package check reads the results of Nagios-compatible monitoring plugins
// and tracks the state they describe over time, as Nagios Core does. It
// backs the checks/NAME files of the tree (reading one runs a plugin) and
// high availability (recovery actions on HARD states).
//
// It is a pure library: it never runs a plugin, reads a file or prints.
// The caller runs the plugin, hands its exit status and standard output to
// [Parse], applies the resulting [State] to the [Status] it keeps with
// [Status.Next], and persists that Status as one line of text
// ([Status.MarshalText], [Status.UnmarshalText]). Nothing here is safe for
// concurrent mutation, and nothing needs to be: every value is copied.
//
// # Plugin results
//
// [Parse] follows the Nagios plugin API and the Monitoring Plugins
// development guidelines:
//
//   - the exit status is the state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN;
//     any other status, or death by a signal, is UNKNOWN with a message that
//     says so;
//   - the first line of output is the message; text after a "|" on it is
//     performance data;
//   - later lines are long output, up to the first "|" in them; everything
//     after that "|", on its line and on every later line, is more
//     performance data;
//   - performance data is a space-separated list of
//     'label'=value[UOM];[warn];[crit];[min];[max], where the quotes are
//     needed when the label has spaces and two single quotes stand for one,
//     value, min and max are in the class [-0-9.] (so no decimal comma),
//     value may be a literal U (the value could not be determined), UOM is
//     empty, s, ms, us, %, B, KB, MB, TB or c, warn and crit are ranges
//     [@]start:end, and trailing empty fields may be dropped. An item that
//     breaks these rules is left out of [Result.Perf] and described in
//     [Result.Bad]; Parse never fails.
//
// # State types
//
// [Status.Next] applies one result per the "State Types" rules of Nagios
// Core: a non-OK result is a SOFT state, retried, until max_check_attempts
// results in a row were non-OK, when it becomes HARD; a change from one
// HARD non-OK state to another stays HARD (and is a HARD state change); OK
// after a HARD non-OK state is a hard recovery, OK after a SOFT one a soft
// recovery (the next OK result makes the state HARD again). The [Change]
// it returns says which of these happened, so that a caller runs recovery
// actions on HARD changes only ([Change.Hard]) and holds them while the
// check is flapping.
//
// # Flapping
//
// Every result is kept in a window of the last 21 ([HistoryLen]). Of the at
// most 20 changes between neighbours in it, each found counts with a weight
// that grows linearly from 0.8 for the oldest possible change to 1.2 for
// the newest, so that, as the documentation puts it, "the newest possible
// state change carry 50% more weight than the oldest possible state
// change" (and 20 changes are exactly 100%). The percent state change is
// the weighted sum over 20, times 100. A check starts flapping when it is
// equal to or greater than the high threshold, and stops when it is less
// than the low one; in between nothing changes. The thresholds are
// parameters ([Policy]) whose defaults are Nagios Core's compiled-in
// service (and host) defaults, 20% and 30%.
//
// Where Nagios Core's code departs from its documentation, this package
// follows the documentation: Nagios Core weighs changes from 0.75 to 1.25
// (the newest 67% more than the oldest), and for services records only
// HARD states and soft recoveries in the window, where the documentation
// says 50% and every result.
//
// Sources:
//
//   - Nagios Plugin API:
//     https://assets.nagios.com/downloads/nagioscore/docs/nagioscore/4/en/pluginapi.html
//   - Monitoring Plugins Development Guidelines (return codes, output,
//     performance data, threshold ranges):
//     https://www.monitoring-plugins.org/doc/guidelines.html
//   - Nagios Core, State Types:
//     https://assets.nagios.com/downloads/nagioscore/docs/nagioscore/4/en/statetypes.html
//   - Nagios Core, Detection and Handling of State Flapping:
//     https://assets.nagios.com/downloads/nagioscore/docs/nagioscore/4/en/flapping.html
//   - the default thresholds, which the documentation leaves out (its
//     examples use 25 and 50): Nagios Core's include/defaults.h,
//     DEFAULT_LOW_SERVICE_FLAP_THRESHOLD and its siblings,
//     https://github.com/NagiosEnterprises/nagioscore/blob/master/include/defaults.h
package check
