package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the read of the server's SQLite store after the run
)

// The reminders scenario: schedules created through the batch API, some of
// whose reminders then fall due over a window the benchmark chooses (it
// moves no clock), emitted by the server as events and delivered.
//
// The tenant sends the 1-day and expired notices (reminderOffsets). First
// the schedules that expire in 200 days are created (stored with their
// reminders, none due in the run); then one in reminderEvery, whose
// reminder falls due in the window: the j-th (its resourceId is the
// benchmark's event id of its number, so the receiver maps each reminder
// back to it) is due at the window's start + j/rate, its expires1day for
// even j (expiresAt a day after), its expired for odd j. The window starts
// once those are expected to be created, so emission is measured with
// every schedule stored. Every reminder the PUT answers as due in the
// window is one delivery the receiver must get exactly once.

// reminderEvery is how many schedules there are per reminder due in the
// window; reminderCreateRate is the creation rate the window's start
// allows for.
const (
	reminderEvery      = 20
	reminderCreateRate = 800.0
)

// ReminderFigures are the reminders scenario's own figures.
type ReminderFigures struct {
	Schedules          int64   `json:"schedules"`
	CreateSeconds      float64 `json:"createSeconds"`
	SchedulesPerSec    float64 `json:"schedulesPerSec"`
	CreateErrors       int64   `json:"createErrors"`
	DueRate            float64 `json:"dueRatePerSec"` // reminders falling due per second, as planned
	Due                int64   `json:"due"`           // reminders due in the window
	Skipped            int64   `json:"skipped"`       // due in the window by plan but not answered as such (late)
	Emitted            int64   `json:"emitted"`       // reminder events the store holds
	EmitSeconds        float64 `json:"emitSeconds"`   // first to last emission
	EmittedPerSec      float64 `json:"emittedPerSec"`
	LatenessToEvent    Latency `json:"latenessToEvent"`    // due → stored as an event (the server's createdAt)
	LatenessToDelivery Latency `json:"latenessToDelivery"` // due → received
	SentTwice          int64   `json:"sentTwice"`          // reminders received more than once
	Lost               int64   `json:"lost"`
	StoredRSSPeakMB    float64 `json:"storedRssPeakMB"` // serve's peak RSS while every schedule was stored
}

// reminderLead is the time from the start of the due schedules' creation
// to the first due reminder: their creation at reminderCreateRate, and room.
func reminderLead(small bool, n int64) time.Duration {
	if small {
		return 2 * time.Second
	}
	return 5*time.Second + time.Duration(float64(n)/reminderCreateRate*float64(time.Second))
}

type scheduleItem struct {
	ResourceID   string `json:"resourceId"`
	ResourceType string `json:"resourceType"`
	ExpiresAt    string `json:"expiresAt"`
}

type scheduleBatchAnswer struct {
	Items []struct {
		ResourceID string `json:"resourceId"`
		Reminders  []struct {
			EventCode string    `json:"eventCode"`
			DueAt     time.Time `json:"dueAt"`
		} `json:"reminders"`
		Error *struct {
			Error string `json:"error"`
		} `json:"error"`
	} `json:"items"`
}

// runReminders creates the schedules and waits for their reminders.
func runReminders(ctx context.Context, cfg *Config, sc scenario, w *world, led *ledger, mon *monitor, res *Result) (time.Time, error) {
	n := sc.Events
	rate := sc.Rate
	fig := &ReminderFigures{Schedules: n, DueRate: rate}
	res.Reminders = fig
	res.Rate = 0
	// The benchmark's tenant sends the 1-day and expired notices only.
	if err := w.api.call(ctx, w.tenants[0], "PUT", "/api/v1/account/schedules-settings",
		map[string]any{"expiryOffsets": reminderOffsets}, 200, nil); err != nil {
		return time.Now(), err
	}
	due := n / reminderEvery
	if cfg.Small {
		due = n // a few hundred: each has its reminder in the window
	}
	c := &creation{w: w, led: led, nc: w.nonce(), creators: max(sc.Publishers, 1)}
	start := time.Now()
	// The schedules that expire far ahead first, then those whose
	// reminders fall due, due from once they are expected to be created.
	far := start.Add(200 * 24 * time.Hour).UTC().Truncate(time.Second)
	c.run(ctx, due, n, func(i int64) (time.Time, time.Time) { return far.Add(time.Duration(i) * time.Millisecond), time.Time{} })
	bulkEnd := time.Now()
	// The bulk's writeback (a gigabyte for a million) would otherwise land
	// in the window's commits, as settle keeps one scenario's out of the
	// next: the figure measured is emission, not the disk catching up.
	if !cfg.Small {
		mon.setPhase("syncing the bulk")
		syscall.Sync()
		sleepUntil(ctx, time.Now().Add(5*time.Second))
		syscall.Sync()
	}
	settled := time.Since(bulkEnd)
	first := time.Now().Add(reminderLead(cfg.Small, due))
	dueOf := func(j int64) time.Time {
		return first.Add(time.Duration(float64(j) / rate * float64(time.Second))).UTC().Truncate(time.Microsecond)
	}
	c.run(ctx, 0, due, func(j int64) (time.Time, time.Time) {
		if j%2 == 0 {
			return dueOf(j).Add(24 * time.Hour), dueOf(j) // its expires1day falls due
		}
		return dueOf(j), dueOf(j) // its expired falls due
	})
	createEnd := time.Now()
	fig.CreateSeconds = round((createEnd.Sub(start) - settled).Seconds(), 2)
	fig.SchedulesPerSec = perSecond(n-c.errs.Load(), createEnd.Sub(start)-settled)
	fig.CreateErrors, fig.Skipped, fig.Due = c.errs.Load(), c.skipped.Load(), c.created.Load()
	if e, ok := c.firstErr.Load().(string); ok {
		res.PublishError = e
	}
	res.PublishErrors = fig.CreateErrors
	// Every schedule is stored: the memory figure the issue asks for is
	// serve's peak while the million are stored and the reminders fall due.
	mon.setPhase("reminders falling due")
	sleepUntil(ctx, dueOf(max(due-1, 0)))
	return createEnd, ctx.Err()
}

// reminderOffsets are the benchmark tenant's expiry offsets.
var reminderOffsets = []string{"1d", "0d"}

// creation puts schedules through the batch API, creators at a time.
type creation struct {
	w                      *world
	led                    *ledger
	nc                     nonce
	creators               int
	errs, skipped, created atomic.Int64
	firstErr               atomic.Value
}

// run creates schedules lo to hi-1 in batches of 1,000: spec gives
// schedule i's expiresAt and, for one whose reminder must fall due in the
// window, that reminder's due time (zero for none), which the ledger then
// expects once.
func (c *creation) run(ctx context.Context, lo, hi int64, spec func(i int64) (expires, due time.Time)) {
	const batch = 1000
	var next atomic.Int64
	next.Store(lo)
	var wg sync.WaitGroup
	for k := range c.creators {
		api := c.w.apis[k%len(c.w.apis)]
		wg.Go(func() {
			for ctx.Err() == nil {
				from := next.Add(batch) - batch
				if from >= hi {
					return
				}
				to := min(from+batch, hi)
				items := make([]scheduleItem, 0, to-from)
				dues := make([]time.Time, 0, to-from)
				for i := from; i < to; i++ {
					exp, due := spec(i)
					dues = append(dues, due)
					items = append(items, scheduleItem{ResourceID: eventID(c.nc, uint64(i)), ResourceType: "entitlement", ExpiresAt: exp.Format(time.RFC3339Nano)})
				}
				var ans scheduleBatchAnswer
				if err := api.call(ctx, c.w.tenants[0], "POST", "/api/v1/account/schedules/batch", map[string]any{"schedules": items}, 200, &ans); err != nil {
					c.errs.Add(to - from)
					c.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				for m, it := range ans.Items {
					i, due := from+int64(m), dues[m]
					if it.Error != nil {
						c.errs.Add(1)
						c.firstErr.CompareAndSwap(nil, it.Error.Error)
						continue
					}
					if due.IsZero() {
						continue
					}
					found := false
					for _, r := range it.Reminders {
						found = found || r.DueAt.Equal(due)
					}
					if !found {
						c.skipped.Add(1)
						continue
					}
					c.created.Add(1)
					c.led.accept(uint64(i), 0, due.UnixNano(), -1)
				}
			}
		})
	}
	wg.Wait()
}

// finishReminders reads the server's store after the drain: how many
// reminder events it holds, when they were stored against when they fell
// due. The store is read directly (SQLite file or PostgreSQL schema): the
// API pages 100 events at a time, and the figure needs every one.
func finishReminders(ctx context.Context, w *world, led *ledger, res *Result) error {
	fig := res.Reminders
	f := led.figures()
	fig.LatenessToDelivery, fig.SentTwice, fig.Lost = f.Latency, f.Duplicated, f.Lost
	fig.StoredRSSPeakMB = res.ServerPeakRSSMB
	lateness, firstAt, lastAt, err := reminderEvents(ctx, w)
	if err != nil {
		return fmt.Errorf("read the reminder events: %w", err)
	}
	fig.Emitted = int64(len(lateness))
	fig.LatenessToEvent = latencyOf(lateness)
	if fig.Emitted > 0 {
		fig.EmitSeconds = round(lastAt.Sub(firstAt).Seconds(), 2)
		fig.EmittedPerSec = perSecond(fig.Emitted, lastAt.Sub(firstAt))
	}
	return nil
}

// reminderEvents returns each reminder event's lateness (µs from due to
// stored) and the first and last store times.
func reminderEvents(ctx context.Context, w *world) ([]int32, time.Time, time.Time, error) {
	var out []int32
	var first, last time.Time
	add := func(created, due time.Time) {
		us := max(created.Sub(due), 0) / time.Microsecond
		out = append(out, int32(min(us, 1<<31-1)))
		if first.IsZero() || created.Before(first) {
			first = created
		}
		if created.After(last) {
			last = created
		}
	}
	if isPostgresURL(w.db) {
		conn, err := pgx.Connect(ctx, w.db)
		if err != nil {
			return nil, first, last, err
		}
		defer conn.Close(ctx)
		rows, _ := conn.Query(ctx, `SELECT created_at, occurred_at FROM events WHERE id LIKE 'rem\_%'`)
		var c, d time.Time
		_, err = pgx.ForEachRow(rows, []any{&c, &d}, func() error { add(c, d); return nil })
		return out, first, last, err
	}
	path := filepath.Join(w.nodePath("data", 0), "licensehooks.db")
	db, err := sql.Open("sqlite", path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, first, last, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT created_at, occurred_at FROM events WHERE id LIKE 'rem\_%' ESCAPE '\'`)
	if err != nil {
		return nil, first, last, err
	}
	defer rows.Close()
	for rows.Next() {
		var c, d int64
		if err := rows.Scan(&c, &d); err != nil {
			return nil, first, last, err
		}
		add(time.UnixMicro(c), time.UnixMicro(d))
	}
	return out, first, last, rows.Err()
}
