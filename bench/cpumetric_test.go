package bench

import (
	"testing"
	"time"
)

// cpuMeter reports the process's CPU time per operation as the cpu-ns/op
// metric, beside the wall-clock ns/op. On a machine shared with other work
// ns/op counts the time spent waiting for a CPU too; cpu-ns/op counts only
// the work done, so ratios between contenders stay fair under load.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{processCPU()} }

// report records the metric; call it after the b.Loop loop, when b.N is
// final.
func (m cpuMeter) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-m.start)/float64(b.N), "cpu-ns/op")
	}
}
