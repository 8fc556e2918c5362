package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkVerify/RS256/floor-2         	   100	     30000 ns/op	     28000 cpu-ns/op	    4520 B/op	      78 allocs/op
BenchmarkVerify/RS256/apiguard-cold-2 	   100	     31000 ns/op	     29000 cpu-ns/op	    5209 B/op	      42 allocs/op
BenchmarkVerify/RS256/apiguard-cached-2 	 100	       500 ns/op	       480 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkVerify/RS256/golang-jwt-2    	   100	     32000 ns/op	     30000 cpu-ns/op	    5696 B/op	      96 allocs/op
BenchmarkVerify/RS256/floor-2         	   100	     50000 ns/op	     30000 cpu-ns/op	    4520 B/op	      78 allocs/op
BenchmarkVerify/RS256/floor-2         	   100	     40000 ns/op	     26000 cpu-ns/op	    4520 B/op	      78 allocs/op
BenchmarkHTTP/public-2                	   100	     20000 ns/op	     40000 cpu-ns/op	    6000 B/op	      69 allocs/op
BenchmarkHTTP/apiguard-2              	   100	     25000 ns/op	     44000 cpu-ns/op	    8000 B/op	      78 allocs/op
PASS
`

func TestParseBench(t *testing.T) {
	res, err := parseBench(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, unit string
		want       float64
	}{
		{"BenchmarkVerify/RS256/floor", "ns/op", 40000},     // median of 30000, 50000, 40000
		{"BenchmarkVerify/RS256/floor", "cpu-ns/op", 28000}, // median of 28000, 30000, 26000
		{"BenchmarkVerify/RS256/apiguard-cold", "allocs/op", 42},
		{"BenchmarkHTTP/apiguard", "B/op", 8000},
		{"BenchmarkVerify/RS256/missing", "ns/op", math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.unit, func(t *testing.T) {
			got := res.med(tt.name, tt.unit)
			if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMedianEven(t *testing.T) {
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("got %v, want 2.5", got)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"bench.txt":   sample,
		"machine.txt": "nproc: 2\n",
		"root.txt": "BenchmarkIssuersVerify/alg=RS256/token=cached/issuers=1-2 \t1000\t 200.0 ns/op\t 0 B/op\t 0 allocs/op\n" +
			"BenchmarkIssuersVerify/alg=RS256/token=cached/issuers=3-2 \t1000\t 210.0 ns/op\t 0 B/op\t 0 allocs/op\n",
		"load.tsv": "loadserver /\t1\t20000\t60000\t0\t\t30\n" +
			"loadserver /secure-data (one token)\t1\t19000\t57000\t0\tloadserver /\t40\n" +
			"loadserver /golang-jwt/secure-data (fresh tokens)\t1\t5000\t10000\t-12000\tloadserver /\t90\n" +
			"serve /secure-data (fresh tokens)\t1\t6000\t15000\t12000\tloadserver /golang-jwt/secure-data (fresh tokens)\t60\n",
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := write(&buf, dir); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"apiguard cold ≤ 1.10× floor for RS256: **met** (1.04× on CPU time",
		"RS256: apiguard cold faster than every peer: **met**",
		"RS256: cache hit under 1 µs with 0 allocs: **met**",
		"| apiguard-cold | 29.0 µs | 1.04× |",
		"| loadserver /secure-data (one token) | 19000 | 40.0 µs | 1 | loadserver / | 0.95× | 0.75× | – |",
		"| serve /secure-data (fresh tokens) | 6000 | 60.0 µs | 1 | loadserver /golang-jwt/secure-data (fresh tokens) | 1.20× | 1.50× | 20.0% |", // 3000 of 15000 requests beyond 12000 tokens
		"| loadserver /golang-jwt/secure-data (fresh tokens) | 5000 | 90.0 µs | 1 | loadserver / | 0.25× | 0.33× | cycle of 12000, no hit possible |",
		"same handler in process (loadserver): apiguard with a reused token ≥ 0.85× public: **met** on req/s, **not met** by server CPU per request (0.95× req/s, 0.75× by CPU)",
		"serve /secure-data with fresh tokens ≥ the golang-jwt middleware with fresh tokens: **met** on req/s, **met** by server CPU per request (1.20× req/s, 1.50× by CPU)",
		"| apiguard | 25.0 µs | 40000 | 0.80× |",
		"| RS256 cached | 200 ns | 210 ns | 1.05× | 0 / 0 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
