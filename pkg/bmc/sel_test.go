package bmc

import (
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"
)

// fullSDR is a threshold sensor's full SDR: value = m x raw * 10^rexp.
func fullSDR(name string, typ types.SensorType, unit types.SensorUnitType, m int16, rexp int8) *types.SDR {
	return &types.SDR{
		RecordHeader: &types.SDRHeader{RecordType: types.SDRRecordTypeFullSensor},
		Full: &types.SDRFull{
			GeneratorID: 0x20, SensorNumber: 1, SensorType: typ,
			SensorEventReadingType: types.EventReadingTypeThreshold,
			SensorUnit:             types.SensorUnit{AnalogDataFormat: types.SensorAnalogUnitFormat_Unsigned, BaseUnit: unit},
			ReadingFactors:         types.ReadingFactors{M: m, R_Exp: rexp},
			IDStringBytes:          []byte(name),
		},
	}
}

func TestEventLine(t *testing.T) {
	temp := types.SDRMapBySensorNumber{0x20: {1: fullSDR("CPU Temp", types.SensorTypeTemperature, types.SensorUnitType_DegreesC, 1, 0)}}
	fan := types.SDRMapBySensorNumber{0x20: {1: fullSDR("Fan1", types.SensorTypeFan, types.SensorUnitType_RPM, 100, 0)}}
	tenths := types.SDRMapBySensorNumber{0x20: {1: fullSDR("Volt", types.SensorTypeVoltage, types.SensorUnitType_Volts, 1, -1)}}
	// Another generator's sensor 1 is found by number and type.
	other := types.SDRMapBySensorNumber{0x2c: {1: fullSDR("CPU Temp", types.SensorTypeTemperature, types.SensorUnitType_DegreesC, 1, 0)}}
	ev := func(typ types.SensorType, dir bool, rt types.EventReadingType, d1, d2, d3 uint8) *types.SEL {
		return &types.SEL{RecordID: 4, RecordType: 0x02, Standard: &types.SELStandard{
			Timestamp: time.Unix(18331, 0), GeneratorID: 0x20, SensorNumber: 1, SensorType: typ,
			EventDir: types.EventDir(dir), EventReadingType: rt,
			EventData: types.EventData{EventData1: d1, EventData2: d2, EventData3: d3}}}
	}
	const head = "4 | pre-init+18331s | "
	tests := []struct {
		name string
		e    *types.SEL
		sdrs types.SDRMapBySensorNumber
		want string
	}{
		// ipmi_sim's records, as ipmitool sel elist on the same simulator
		// prints them: "Reading 95 > Threshold 90 degrees C".
		{"upper critical going high", ev(types.SensorTypeTemperature, false, types.EventReadingTypeThreshold, 0x59, 95, 90), temp,
			head + "Temperature CPU Temp | Upper Critical - going high | Asserted | Reading 95 > Threshold 90 degrees C"},
		{"going low, factor 100", ev(types.SensorTypeFan, false, types.EventReadingTypeThreshold, 0x52, 1, 5), fan,
			head + "Fan Fan1 | Lower Critical - going low | Asserted | Reading 100 < Threshold 500 RPM"},
		{"deasserted: the other way round", ev(types.SensorTypeTemperature, true, types.EventReadingTypeThreshold, 0x59, 85, 90), temp,
			head + "Temperature CPU Temp | Upper Critical - going high | Deasserted | Reading 85 < Threshold 90 degrees C"},
		{"not whole: two decimals", ev(types.SensorTypeVoltage, false, types.EventReadingTypeThreshold, 0x57, 123, 120), tenths,
			head + "Voltage Volt | Upper Non-critical - going high | Asserted | Reading 12.30 > Threshold 12 Volts"},
		{"reading only", ev(types.SensorTypeTemperature, false, types.EventReadingTypeThreshold, 0x49, 95, 0xff), temp,
			head + "Temperature CPU Temp | Upper Critical - going high | Asserted | Reading 95"},
		{"threshold only", ev(types.SensorTypeTemperature, false, types.EventReadingTypeThreshold, 0x19, 0xff, 90), temp,
			head + "Temperature CPU Temp | Upper Critical - going high | Asserted | Threshold 90 degrees C"},
		{"neither", ev(types.SensorTypeTemperature, false, types.EventReadingTypeThreshold, 0x09, 0xff, 0xff), temp,
			head + "Temperature CPU Temp | Upper Critical - going high | Asserted"},
		{"another generator's SDR", ev(types.SensorTypeTemperature, false, types.EventReadingTypeThreshold, 0x59, 95, 90), other,
			head + "Temperature CPU Temp | Upper Critical - going high | Asserted | Reading 95 > Threshold 90 degrees C"},
		{"no SDR: the sensor number, no conversion", ev(types.SensorTypeTemperature, false, types.EventReadingTypeThreshold, 0x59, 95, 90), nil,
			head + "Temperature #0x01 | Upper Critical - going high | Asserted"},
		{"discrete event: no reading", ev(types.SensorTypeSystemEvent, false, types.EventReadingTypeSensorSpecific, 0x02, 0xff, 0xff), temp,
			head + "System Event CPU Temp | Undetermined system hardware failure | Asserted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EventLine(tt.e, tt.sdrs); got != tt.want {
				t.Errorf("EventLine =\n%q, want\n%q", got, tt.want)
			}
		})
	}
	oem := &types.SEL{RecordID: 7, RecordType: 0xe0}
	if got := EventLine(oem, nil); got != "7 | - | OEM record 0xe0" {
		t.Errorf("OEM record: %q", got)
	}
}
