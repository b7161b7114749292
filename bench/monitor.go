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
	peakRSS       int64
	pileupPeak    int64
	pileupSamples []float64
	base, end     cpuTimes // at the start and at stop
	stopAt        time.Time
	fetchErr      error
	lineLen       int // of the progress line shown
	prev          struct{ accepted, got int64 }

	cancel context.CancelFunc
	done   chan struct{}
}

// cpuTimes is the CPU used so far by the server, the receiver and the
// benchmark itself.
type cpuTimes struct{ server, receiver, bench time.Duration }

func (m *monitor) cpuNow() cpuTimes {
	s, _ := sampleProc(m.w.server.pid())
	r, _ := sampleProc(m.w.recv.pid())
	b, _ := sampleProc(os.Getpid())
	return cpuTimes{s.CPU, r.CPU, b.CPU}
}

func startMonitor(ctx context.Context, cfg *Config, w *world, led *ledger, name string) *monitor {
	ctx, cancel := context.WithCancel(ctx)
	m := &monitor{cfg: cfg, w: w, led: led, name: name, cancel: cancel, done: make(chan struct{})}
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
	s, _ := sampleProc(m.w.server.pid())
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		m.fetchErr = err
	}
	m.offset += len(recs)
	m.peakRSS = max(m.peakRSS, s.RSS, s.HWM)
	if m.phase == "piling up" {
		m.pileupPeak = max(m.pileupPeak, s.RSS)
	}
}

// samplePileup keeps the server's RSS every 5 s of the backlog's pile-up.
func (m *monitor) samplePileup() {
	s, _ := sampleProc(m.w.server.pid())
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.phase == "piling up" {
		m.pileupSamples = append(m.pileupSamples, mb(s.RSS))
	}
}

// rssDuringPileup returns the peak and the samples of the server's RSS
// during the pile-up, the last sample taken now.
func (m *monitor) rssDuringPileup() (peak float64, samples []float64) {
	s, _ := sampleProc(m.w.server.pid())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pileupPeak = max(m.pileupPeak, s.RSS)
	return mb(m.pileupPeak), append(m.pileupSamples, mb(s.RSS))
}

// progress rewrites the progress line on stderr (final ends it).
func (m *monitor) progress(final bool) {
	acc, exp, got := m.led.progress()
	s, _ := sampleProc(m.w.server.pid())
	m.mu.Lock()
	dAcc, dGot := acc-m.prev.accepted, got-m.prev.got
	m.prev.accepted, m.prev.got = acc, got
	phase, elapsed := m.phase, time.Since(m.begin).Truncate(time.Second)
	m.mu.Unlock()
	cores := 0.0
	if el := time.Since(m.begin).Seconds(); el > 0 {
		cores = (s.CPU - m.base.server).Seconds() / el
	}
	line := fmt.Sprintf("\r[%s] %s %v: accepted %s (%s/s), delivered %s of %s (%s/s), server %.2f cores %.0f MB ",
		m.name, phase, elapsed, fmtInt(acc), fmtInt(dAcc), fmtInt(got), fmtInt(exp), fmtInt(dGot), cores, mb(s.RSS))
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
