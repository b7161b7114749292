package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// monitor collects the receiver's records into the ledger, samples the
// processes from /proc, and keeps the progress line up to date, until
// stopped.
type monitor struct {
	cfg  *Config
	w    *world
	led  *ledger
	name string

	mu            sync.Mutex
	phase         string
	begin         time.Time // publishing started
	offset        int       // records fetched so far
	peakRSS       []int64   // per node: the highest VmRSS or VmHWM seen
	pileupPeak    int64     // the largest node's RSS during the pile-up
	pileupSamples []float64
	base, end     cpuTimes // at the start and at stop
	stopAt        time.Time
	fetchErr      error
	lineLen       int // of the progress line shown
	prev          struct{ accepted, got int64 }

	cancel context.CancelFunc
	done   chan struct{}
}

// cpuTimes is the CPU used so far by each serve node, the receiver and
// the benchmark itself.
type cpuTimes struct {
	nodes           []time.Duration
	receiver, bench time.Duration
}

// server is the CPU of every node together.
func (c cpuTimes) server() time.Duration {
	var sum time.Duration
	for _, d := range c.nodes {
		sum += d
	}
	return sum
}

func (m *monitor) cpuNow() cpuTimes {
	var c cpuTimes
	for _, s := range m.sampleServers() {
		c.nodes = append(c.nodes, s.CPU)
	}
	r, _ := sampleProc(m.w.recv.pid())
	b, _ := sampleProc(os.Getpid())
	c.receiver, c.bench = r.CPU, b.CPU
	return c
}

// sampleServers samples every serve node, in node order.
func (m *monitor) sampleServers() []procSample {
	out := make([]procSample, len(m.w.servers))
	for i, c := range m.w.servers {
		out[i], _ = sampleProc(c.pid())
	}
	return out
}

// largestRSS is the highest current RSS among the nodes.
func largestRSS(samples []procSample) int64 {
	var n int64
	for _, s := range samples {
		n = max(n, s.RSS)
	}
	return n
}

func startMonitor(ctx context.Context, cfg *Config, w *world, led *ledger, name string) *monitor {
	ctx, cancel := context.WithCancel(ctx)
	m := &monitor{cfg: cfg, w: w, led: led, name: name, cancel: cancel, done: make(chan struct{}),
		peakRSS: make([]int64, len(w.servers))}
	m.base = m.cpuNow()
	m.begin = time.Now()
	go m.loop(ctx)
	return m
}

func (m *monitor) started() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.begin
}

func (m *monitor) setPhase(p string) {
	m.mu.Lock()
	m.phase = p
	m.mu.Unlock()
}

func (m *monitor) loop(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	const maxTicks = 4 * 3600 * 6 // six hours: far beyond any scenario
	for n := 1; n <= maxTicks; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m.collect(ctx)
		if n%4 == 0 {
			m.progress(false)
		}
		if n%20 == 0 {
			m.samplePileup()
		}
	}
}

// collect moves new receiver records into the ledger and samples memory.
func (m *monitor) collect(ctx context.Context) {
	m.mu.Lock()
	from := m.offset
	m.mu.Unlock()
	recs, err := m.w.recv.fetch(ctx, from)
	if err == nil {
		m.led.arrive(recs)
	}
	samples := m.sampleServers()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		m.fetchErr = err
	}
	m.offset += len(recs)
	for i, s := range samples {
		m.peakRSS[i] = max(m.peakRSS[i], s.RSS, s.HWM)
	}
	if m.phase == "piling up" {
		m.pileupPeak = max(m.pileupPeak, largestRSS(samples))
	}
}

// samplePileup keeps the server's RSS (the largest node's) every 5 s of
// the backlog's pile-up.
func (m *monitor) samplePileup() {
	rss := largestRSS(m.sampleServers())
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.phase == "piling up" {
		m.pileupSamples = append(m.pileupSamples, mb(rss))
	}
}

// rssDuringPileup returns the peak and the samples of the server's RSS
// (the largest node's) during the pile-up, the last sample taken now.
func (m *monitor) rssDuringPileup() (peak float64, samples []float64) {
	rss := largestRSS(m.sampleServers())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pileupPeak = max(m.pileupPeak, rss)
	return mb(m.pileupPeak), append(m.pileupSamples, mb(rss))
}

// progress rewrites the progress line on stderr (final ends it).
func (m *monitor) progress(final bool) {
	acc, exp, got := m.led.progress()
	var cpu time.Duration
	var rss int64
	for _, s := range m.sampleServers() {
		cpu, rss = cpu+s.CPU, rss+s.RSS
	}
	m.mu.Lock()
	dAcc, dGot := acc-m.prev.accepted, got-m.prev.got
	m.prev.accepted, m.prev.got = acc, got
	phase, elapsed := m.phase, time.Since(m.begin).Truncate(time.Second)
	m.mu.Unlock()
	cores := 0.0
	if el := time.Since(m.begin).Seconds(); el > 0 {
		cores = (cpu - m.base.server()).Seconds() / el
	}
	servers := "server"
	if n := len(m.w.servers); n > 1 {
		servers = fmt.Sprintf("%d servers", n)
	}
	line := fmt.Sprintf("\r[%s] %s %v: accepted %s (%s/s), delivered %s of %s (%s/s), %s %.2f cores %.0f MB ",
		m.name, phase, elapsed, fmtInt(acc), fmtInt(dAcc), fmtInt(got), fmtInt(exp), fmtInt(dGot), servers, cores, mb(rss))
	// Pad over the longer line this one replaces.
	m.mu.Lock()
	if pad := m.lineLen - len(line); pad > 0 {
		line += strings.Repeat(" ", pad)
	}
	m.lineLen = len(line)
	if final {
		line += "\n"
		m.lineLen = 0
	}
	m.mu.Unlock()
	fmt.Fprint(m.cfg.Stderr, line)
}

// waitDrain waits until every expected delivery arrived (true), or none
// arrived for idle, or ctx ended (false).
func (m *monitor) waitDrain(ctx context.Context, idle time.Duration) bool {
	lastGot, lastChange := int64(-1), time.Now()
	deadline := time.Now().Add(2 * time.Hour) // a bound; idle ends it far sooner
	for time.Now().Before(deadline) && ctx.Err() == nil {
		_, exp, got := m.led.progress()
		if got >= exp {
			return true
		}
		if got != lastGot {
			lastGot, lastChange = got, time.Now()
		} else if time.Since(lastChange) > idle {
			return false
		}
		sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
	}
	return false
}

// stop ends the loop, collects what is left and notes the final CPU.
func (m *monitor) stop() {
	m.cancel()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m.collect(ctx)
	end := m.cpuNow()
	m.mu.Lock()
	m.end, m.stopAt = end, time.Now()
	m.mu.Unlock()
	m.progress(true)
}

func mb(b int64) float64 { return round(float64(b)/(1<<20), 1) }
