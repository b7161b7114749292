package bench

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stat string
		want time.Duration
		ok   bool
	}{
		{"plain", "1234 (licensehooks) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0", 3 * time.Second, true},
		{"spaces and parens in the name", "77 (a b) c)) R 1 2 3 4 5 6 7 8 9 10 7 3 0 0", 100 * time.Millisecond, true},
		{"no name", "77 R 1 2", 0, false},
		{"too short", "77 (x) R 1 2 3", 0, false},
		{"not numbers", "77 (x) R 1 2 3 4 5 6 7 8 9 10 a b", 0, false},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.stat))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: parseStatCPU = %v, %v; want %v, ok %v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	t.Parallel()
	status := "Name:\tlicensehooks\nVmPeak:\t  999 kB\nVmHWM:\t   2048 kB\nVmRSS:\t    1024 kB\nThreads:\t8\n"
	rss, hwm := parseStatusMemory([]byte(status))
	if rss != 1<<20 || hwm != 2<<20 {
		t.Fatalf("rss %d, hwm %d; want 1 MiB, 2 MiB", rss, hwm)
	}
	if rss, hwm := parseStatusMemory([]byte("VmRSS:\n")); rss != 0 || hwm != 0 {
		t.Fatal("an empty VmRSS parsed")
	}
}

func TestSampleProcSelf(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	s, err := sampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS {
		t.Fatalf("sample = %+v: want RSS > 0 and HWM ≥ RSS", s)
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseStatCPU(b); err == nil && d < 0 && !negativeField(b) {
			t.Fatalf("negative CPU %v from %q", d, b)
		}
	})
}

// negativeField tells whether the input spells a negative number, which
// the parser passes through (the kernel never writes one).
func negativeField(b []byte) bool {
	for _, c := range b {
		if c == '-' {
			return true
		}
	}
	return false
}
