package bmc

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"
)

// Events reads the SEL, oldest first, one line per event, as ipmitool sel
// elist prints it: "ID | time | sensor type and name | event | Asserted",
// and for a threshold sensor's event the reading that triggered it and
// the threshold crossed, in the sensor's units ("| Reading 95 > Threshold
// 90 degrees C").
func (s *Session) Events(ctx context.Context) ([]string, error) {
	info, err := s.c.GetSELInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Entries == 0 {
		return nil, nil
	}
	sels, err := s.c.GetSELEntries(ctx, 0)
	if err != nil {
		return nil, err
	}
	// Without the SDRs, events are still listed, by sensor number.
	sdrs, _ := s.c.GetSDRsMap(ctx)
	out := make([]string, 0, len(sels))
	for _, e := range sels {
		out = append(out, EventLine(e, sdrs))
	}
	return out, nil
}

// EventLine renders one SEL record; sdrs, which may be nil, name the
// sensors and give the factors that convert a threshold event's raw
// reading and threshold.
func EventLine(e *types.SEL, sdrs types.SDRMapBySensorNumber) string {
	switch {
	case e.Standard != nil:
		st := e.Standard
		dir := "Asserted"
		if st.EventDir {
			dir = "Deasserted"
		}
		sdr := findSDR(sdrs, st)
		name := ""
		if sdr != nil {
			name = sdr.SensorName()
		}
		if name == "" {
			name = fmt.Sprintf("#0x%02x", uint8(st.SensorNumber))
		}
		line := fmt.Sprintf("%d | %s | %s %s | %s | %s", e.RecordID, formatTime(st.Timestamp),
			st.SensorType.String(), name, eventText(st.EventString()), dir)
		return line + thresholdDetail(st, sdr)
	case e.OEMTimestamped != nil:
		return fmt.Sprintf("%d | %s | OEM record 0x%02x", e.RecordID, formatTime(e.OEMTimestamped.Timestamp), uint8(e.RecordType))
	}
	return fmt.Sprintf("%d | - | OEM record 0x%02x", e.RecordID, uint8(e.RecordType))
}

// findSDR is the SDR of the sensor that logged st: the one its generator
// owns, else any of the same number and sensor type (as ipmitool looks it
// up), else any of the same number; nil when none is known.
func findSDR(sdrs types.SDRMapBySensorNumber, st *types.SELStandard) *types.SDR {
	if sdr := sdrs[st.GeneratorID][st.SensorNumber]; sdr != nil {
		return sdr
	}
	var fallback *types.SDR
	for _, bySensor := range sdrs {
		sdr := bySensor[st.SensorNumber]
		switch {
		case sdr == nil:
		case sdr.Full != nil && sdr.Full.SensorType == st.SensorType,
			sdr.Compact != nil && sdr.Compact.SensorType == st.SensorType:
			return sdr
		case fallback == nil:
			fallback = sdr
		}
	}
	return fallback
}

// thresholdDetail is what ipmitool sel elist adds to an event of a
// threshold sensor with a full SDR: " | Reading R" when event data 2 holds
// the trigger reading, and " > Threshold T unit" (" < " going low, the
// other way round when deasserted) when event data 3 holds the threshold,
// each converted with the SDR's factors. Unlike ipmitool, which prints
// "Reading 0" then, a reading the event does not hold is left out.
func thresholdDetail(st *types.SELStandard, sdr *types.SDR) string {
	if !st.EventReadingType.IsThreshold() || sdr == nil || sdr.Full == nil || !sdr.Full.SensorUnit.IsAnalog() {
		return ""
	}
	d1 := st.EventData.EventData1
	var parts []string
	if d1>>6&3 == 1 {
		parts = append(parts, "Reading "+number(sdr.Full.ConvertReading(st.EventData.EventData2)))
	}
	if d1>>4&3 == 1 {
		// Odd offsets of the threshold event type are "going high".
		high := st.EventData.EventReadingOffset()%2 == 1
		if st.EventDir {
			high = !high
		}
		if len(parts) > 0 && high {
			parts = append(parts, ">")
		} else if len(parts) > 0 {
			parts = append(parts, "<")
		}
		parts = append(parts, "Threshold "+number(sdr.Full.ConvertReading(st.EventData.EventData3))+" "+sdr.Full.SensorUnit.String())
	}
	if len(parts) == 0 {
		return ""
	}
	return " | " + strings.Join(parts, " ")
}

// number prints v as ipmitool does: no decimals when whole, else two.
func number(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// eventTypos are misspellings in go-ipmi's table of event names, corrected
// as ipmitool prints them.
var eventTypos = map[string]string{
	"Power Off / Power Dow": "Power Off / Power Down",
}

// eventText is an event's description, with the library's known typos
// corrected.
func eventText(s string) string {
	if t, ok := eventTypos[s]; ok {
		return t
	}
	return s
}

// formatTime prints a SEL time; before the BMC's clock was set, SEL times
// count seconds since it started (IPMI's "pre-init" range).
func formatTime(t time.Time) string {
	if t.Unix() < 0x20000000 {
		return fmt.Sprintf("pre-init+%ds", t.Unix())
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
