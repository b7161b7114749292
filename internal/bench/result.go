package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"licensehooks/internal/pgschema"
)

// Report is everything a run measured; -json writes it.
type Report struct {
	Command   string    `json:"command"`
	Started   time.Time `json:"started"`
	Machine   Machine   `json:"machine"`
	Store     string    `json:"store"`
	Nodes     int       `json:"nodes"` // serve processes sharing the database
	Bounds    Bounds    `json:"bounds"`
	Scenarios []*Result `json:"scenarios"`
	Method    []string  `json:"method"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryMB  int64  `json:"memoryMB"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	GoVersion string `json:"goVersion"`
}

// Bounds are what the machine allows, measured in the same run.
type Bounds struct {
	// RSASignaturesPerSecPerCore is N-Signatures over a typical envelope
	// with a 2048-bit key by the fastest signer available (RSASigner, the
	// one serve's --signer auto takes), one goroutine on one thread, per
	// second of that thread's CPU time (RSASeconds).
	RSASignaturesPerSecPerCore float64 `json:"rsaSignaturesPerSecPerCore"`
	RSASeconds                 float64 `json:"rsaCpuSeconds"`
	RSASigner                  string  `json:"rsaSigner"`
	// RSAGoSignaturesPerSecPerCore is the same with crypto/rsa.
	RSAGoSignaturesPerSecPerCore float64 `json:"rsaGoSignaturesPerSecPerCore"`
	// POSTsPerSec is the raw loopback POST rate to a receiver process, with
	// the delivery client's settings (egress.New) and POSTConcurrency
	// keep-alive clients.
	POSTsPerSec     float64 `json:"postsPerSec"`
	POSTConcurrency int     `json:"postConcurrency"`
	POSTSeconds     float64 `json:"postSeconds"`
}

// Result is one scenario's figures.
type Result struct {
	Scenario   string  `json:"scenario"`
	Title      string  `json:"title"`
	Nodes      int     `json:"nodes"`            // serve processes sharing the database
	Schema     string  `json:"schema,omitempty"` // the PostgreSQL schema made for the run
	Tenants    int     `json:"tenants"`
	Listeners  int     `json:"listeners"`
	Publishers int     `json:"publishers"`
	Batch      int     `json:"batch"`
	Rate       float64 `json:"rate"` // events per second asked; 0 = as fast as accepted

	PublishSeconds float64 `json:"publishSeconds"`
	EventsAccepted int64   `json:"eventsAccepted"`
	EventsPerSec   float64 `json:"eventsPerSec"`
	PublishErrors  int64   `json:"publishErrors"`
	PublishError   string  `json:"publishError,omitempty"`

	DeliveriesExpected int64   `json:"deliveriesExpected"`
	Deliveries         int64   `json:"deliveries"`       // distinct (event, listener) pairs received
	DeliveriesPerSec   float64 `json:"deliveriesPerSec"` // over WindowSeconds
	WindowSeconds      float64 `json:"windowSeconds"`    // publishing start to the last arrival
	DrainSeconds       float64 `json:"drainSeconds"`     // publishing end to the last arrival
	Latency            Latency `json:"latency"`          // accept (202) to first arrival

	Lost          int64 `json:"lost"`
	Duplicated    int64 `json:"duplicated"`
	Retries       int64 `json:"retries"`       // requests with callAttempt > 1, sick listeners included
	Unconfirmed   int64 `json:"unconfirmed"`   // arrivals of events whose publish answer never came
	Foreign       int64 `json:"foreign"`       // requests of no event of this run, or at the wrong tenant
	CountMismatch int64 `json:"countMismatch"` // events whose delivery count was not the tenant's listener count

	SignaturesChecked int64 `json:"signaturesChecked"`
	SignaturesBad     int64 `json:"signaturesBad"`

	// With several nodes, CPU is every node's added up, and peak RSS is
	// the largest node's (ServerPeakRSSSumMB adds the nodes' peaks up).
	ServerCPUSeconds   float64       `json:"serverCpuSeconds"`
	ServerCores        float64       `json:"serverCores"` // CPU seconds per second of the run
	ServerPeakRSSMB    float64       `json:"serverPeakRssMB"`
	ServerPeakRSSSumMB float64       `json:"serverPeakRssSumMB"`
	PerNode            []NodeFigures `json:"perNode,omitempty"` // with several nodes
	ReceiverCPUSeconds float64       `json:"receiverCpuSeconds"`
	BenchCPUSeconds    float64       `json:"benchCpuSeconds"`

	// SignaturesPerSec is the distinct bodies signed per second that the
	// delivery rate implies (one per event per tenant).
	SignaturesPerSec    float64 `json:"signaturesPerSec"`
	FractionOfRSABound  float64 `json:"fractionOfRsaBound"`
	FractionOfPOSTBound float64 `json:"fractionOfPostBound"`

	// Problems of the harness itself, which make the figures doubtful.
	ReceiverError string `json:"receiverError,omitempty"` // the last failed read of the receiver's records
	ServerExited  string `json:"serverExited,omitempty"`  // serve ended during the run: its log's tail

	Sick    *SickFigures    `json:"sick,omitempty"`
	Backlog *BacklogFigures `json:"backlog,omitempty"`
	// Reminders are the reminders scenario's figures.
	Reminders *ReminderFigures `json:"reminders,omitempty"`
	// Ordered is the order check of a scenario with an ordered listener.
	Ordered *OrderedFigures `json:"ordered,omitempty"`

	expectedPerTenant int
	drainIdle         time.Duration
}

// NodeFigures are one serve node's share of the server figures.
type NodeFigures struct {
	Node       int     `json:"node"` // 1, 2…
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSSMB  float64 `json:"peakRssMB"`
}

// SickFigures compares the healthy listeners of sick with fanout.
type SickFigures struct {
	Listeners                []sickTally `json:"sickListeners"`
	HealthyPerListenerPerSec float64     `json:"healthyPerListenerPerSec"`
	FanoutPerListenerPerSec  float64     `json:"fanoutPerListenerPerSec,omitempty"`
	RateVsFanout             float64     `json:"rateVsFanout,omitempty"` // target ≥ 0.8
	FanoutP99Ms              float64     `json:"fanoutP99Ms,omitempty"`
	P99VsFanout              float64     `json:"p99VsFanout,omitempty"` // target ≤ 2
}

// BacklogFigures are the backlog's pile-up and drain.
type BacklogFigures struct {
	Queued          int64     `json:"queued"` // deliveries made while the listeners were down
	PileupSeconds   float64   `json:"pileupSeconds"`
	PileupPeakRSSMB float64   `json:"pileupPeakRssMB"`
	PileupRSSMB     []float64 `json:"pileupRssMB"` // every 5 s
	Drained         int64     `json:"drained"`     // deliveries that first arrived after the listeners came up
	DrainSeconds    float64   `json:"drainSeconds"`
	DrainPerSec     float64   `json:"drainPerSec"`
	upAt            time.Time
}

func newResult(cfg *Config, sc scenario) *Result {
	n := 0
	for i := range sc.PerTenant {
		if _, expect := sc.ModeOf(i); expect {
			n++
		}
	}
	return &Result{Scenario: sc.Name, Title: sc.Title, Nodes: cfg.nodes(), Tenants: sc.Tenants, Listeners: sc.Tenants * sc.PerTenant,
		Publishers: sc.Publishers, Batch: sc.Batch, Rate: sc.Rate, expectedPerTenant: n, drainIdle: cfg.DrainIdle}
}

// fill sets the figures from the monitor and the ledger.
func (r *Result) fill(m *monitor, f deliveryFigures, start, pubEnd time.Time) {
	r.PublishSeconds = round(pubEnd.Sub(start).Seconds(), 2)
	r.EventsAccepted, r.EventsPerSec = f.Accepted, perSecond(f.Accepted, pubEnd.Sub(start))
	r.DeliveriesExpected, r.Deliveries = f.Expected, f.Delivered
	last := f.LastArrival
	if last.IsZero() {
		last = pubEnd
	}
	r.WindowSeconds = round(last.Sub(start).Seconds(), 2)
	r.DeliveriesPerSec = perSecond(f.Delivered, last.Sub(start))
	r.DrainSeconds = round(max(last.Sub(pubEnd), 0).Seconds(), 2)
	r.Latency = f.Latency
	r.Lost, r.Duplicated, r.Retries = f.Lost, f.Duplicated, f.Retries
	r.Unconfirmed, r.Foreign, r.CountMismatch = f.Unconfirmed, f.Foreign, f.WrongCount
	r.SignaturesChecked = f.Checked
	r.SignaturesBad = f.BadN + f.BadStandard + f.BadBody
	r.Schema = m.w.schema
	m.mu.Lock()
	r.fillServer(m)
	r.ReceiverCPUSeconds = round((m.end.receiver - m.base.receiver).Seconds(), 2)
	r.BenchCPUSeconds = round((m.end.bench - m.base.bench).Seconds(), 2)
	if m.fetchErr != nil {
		r.ReceiverError = m.fetchErr.Error()
	}
	m.mu.Unlock()
	var exited []string
	for _, c := range m.w.servers {
		if c.exited() {
			exited = append(exited, fmt.Sprintf("%s: %v: %s", c.name, c.err, c.logTail()))
		}
	}
	r.ServerExited = strings.Join(exited, "\n")
	if len(f.Sick) > 0 {
		r.Sick = &SickFigures{Listeners: f.Sick}
	}
	r.Ordered = f.Ordered
	if b := r.Backlog; b != nil {
		b.Queued = f.Expected
		b.Drained = f.AfterSplit
		b.DrainSeconds = round(max(last.Sub(b.upAt), 0).Seconds(), 2)
		b.DrainPerSec = perSecond(f.AfterSplit, last.Sub(b.upAt))
		// The backlog's throughput is its drain: the pile-up is held back
		// on purpose, and its latency counts the time held.
		r.DeliveriesPerSec = b.DrainPerSec
	}
}

// fillServer sets the server figures from the monitor (locked): CPU added
// up over the nodes, RSS both as the largest node's peak and added up.
func (r *Result) fillServer(m *monitor) {
	cpu := m.end.server() - m.base.server()
	r.ServerCPUSeconds = round(cpu.Seconds(), 2)
	r.ServerCores = round(cpu.Seconds()/m.stopAt.Sub(m.begin).Seconds(), 2)
	var largest, sum int64
	for _, p := range m.peakRSS {
		largest, sum = max(largest, p), sum+p
	}
	r.ServerPeakRSSMB, r.ServerPeakRSSSumMB = mb(largest), mb(sum)
	if len(m.peakRSS) < 2 {
		return
	}
	r.PerNode = make([]NodeFigures, len(m.peakRSS))
	for i, p := range m.peakRSS {
		var d time.Duration
		if i < len(m.end.nodes) && i < len(m.base.nodes) {
			d = m.end.nodes[i] - m.base.nodes[i]
		}
		r.PerNode[i] = NodeFigures{Node: i + 1, CPUSeconds: round(d.Seconds(), 2), PeakRSSMB: mb(p)}
	}
}

// rates sets the fractions of the bounds.
func (r *Result) rates(b Bounds) {
	if r.expectedPerTenant > 0 {
		r.SignaturesPerSec = round(r.DeliveriesPerSec/float64(r.expectedPerTenant), 1)
	}
	r.FractionOfRSABound = ratio(r.SignaturesPerSec, b.RSASignaturesPerSecPerCore)
	r.FractionOfPOSTBound = ratio(r.DeliveriesPerSec, b.POSTsPerSec)
	if r.Sick != nil {
		r.Sick.HealthyPerListenerPerSec = round(r.DeliveriesPerSec/float64(max(r.expectedPerTenant, 1)), 1)
	}
}

func newReport(cfg *Config) *Report {
	store := "SQLite in a temporary directory (WAL, fsync on commit)"
	switch {
	case isPostgresURL(cfg.DB):
		store = "PostgreSQL " + pgschema.Redact(cfg.DB) + ", a fresh schema per scenario"
	case cfg.DB != "":
		store = pgschema.Redact(cfg.DB)
	}
	return &Report{
		Command: "licensehooks bench " + strings.Join(os.Args[min(2, len(os.Args)):], " "),
		Started: time.Now().UTC().Truncate(time.Second), Machine: machine(), Store: store, Nodes: cfg.nodes(),
		Method: methodNotes(cfg),
	}
}

func (rep *Report) add(r *Result) {
	r.rates(rep.Bounds)
	rep.Scenarios = append(rep.Scenarios, r)
}

// finish sets the figures that compare scenarios.
func (rep *Report) finish() { rep.compare() }

// compare sets sick's figures against fanout's, and ordered's against
// one's, when both ran.
func (rep *Report) compare() {
	var fanout, sick, one, ordered *Result
	for _, r := range rep.Scenarios {
		switch r.Scenario {
		case "fanout":
			fanout = r
		case "sick":
			sick = r
		case "one":
			one = r
		case "ordered":
			ordered = r
		}
	}
	if one != nil && ordered != nil && ordered.Ordered != nil {
		ordered.Ordered.OneDeliveriesPerSec = one.DeliveriesPerSec
		ordered.Ordered.VsOne = ratio(ordered.DeliveriesPerSec, one.DeliveriesPerSec)
	}
	if fanout == nil || sick == nil || sick.Sick == nil || fanout.Listeners == 0 {
		return
	}
	s := sick.Sick
	s.FanoutPerListenerPerSec = round(fanout.DeliveriesPerSec/float64(fanout.Listeners), 1)
	s.RateVsFanout = ratio(s.HealthyPerListenerPerSec, s.FanoutPerListenerPerSec)
	s.FanoutP99Ms = fanout.Latency.P99
	s.P99VsFanout = ratio(sick.Latency.P99, fanout.Latency.P99)
}

// machine reads what the machine is.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
				m.MemoryMB = kb >> 10
			}
		}
	}
	return m
}
