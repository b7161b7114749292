package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the read of the server's SQLite store after the run
)

// The reminders scenario: schedules created through the batch API, whose
// reminders fall due over a window the benchmark chooses (it moves no
// clock), then emitted by the server as events and delivered.
//
// Schedule i (its resourceId is the benchmark's event id of i, so the
// receiver maps each reminder back to i) has one reminder in the window,
// due at start + lead + i/rate: for even i, expiresAt is a day after that
// (its expires1day falls due; its expired notice a day later is stored,
// never due in the run); for odd i, expiresAt is then (its expired falls
// due). Schedules are created in due order, faster than they fall due, so
// none is late. Every reminder the PUT answers as due in the window is one
// delivery the receiver must get exactly once.

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

// reminderLead is the time from the start of creation to the first due
// reminder: room for the first batches.
func reminderLead(small bool) time.Duration {
	if small {
		return 2 * time.Second
	}
	return 15 * time.Second
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
	nc := w.nonce()
	start := time.Now()
	first := start.Add(reminderLead(cfg.Small))
	dueOf := func(i int64) time.Time {
		return first.Add(time.Duration(float64(i) / rate * float64(time.Second))).UTC().Truncate(time.Microsecond)
	}
	const batch = 1000
	var next atomic.Int64
	var errs, skipped, created atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	creators := max(sc.Publishers, 1)
	for c := range creators {
		api := w.apis[c%len(w.apis)]
		wg.Go(func() {
			for ctx.Err() == nil {
				lo := next.Add(batch) - batch
				if lo >= n {
					return
				}
				hi := min(lo+batch, n)
				items := make([]scheduleItem, 0, hi-lo)
				for i := lo; i < hi; i++ {
					exp := dueOf(i)
					if i%2 == 0 {
						exp = exp.Add(24 * time.Hour)
					}
					items = append(items, scheduleItem{ResourceID: eventID(nc, uint64(i)), ResourceType: "entitlement", ExpiresAt: exp.Format(time.RFC3339Nano)})
				}
				var ans scheduleBatchAnswer
				if err := api.call(ctx, w.tenants[0], "POST", "/api/v1/account/schedules/batch", map[string]any{"schedules": items}, 200, &ans); err != nil {
					errs.Add(hi - lo)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				for k, it := range ans.Items {
					i := lo + int64(k)
					if it.Error != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, it.Error.Error)
						continue
					}
					due, found := dueOf(i), false
					for _, r := range it.Reminders {
						if r.DueAt.Equal(due) {
							found = true
						}
					}
					if !found {
						skipped.Add(1)
						continue
					}
					created.Add(1)
					led.accept(uint64(i), 0, due.UnixNano(), -1)
				}
			}
		})
	}
	wg.Wait()
	createEnd := time.Now()
	fig.CreateSeconds = round(createEnd.Sub(start).Seconds(), 2)
	fig.SchedulesPerSec = perSecond(n-errs.Load(), createEnd.Sub(start))
	fig.CreateErrors, fig.Skipped, fig.Due = errs.Load(), skipped.Load(), created.Load()
	if e, ok := firstErr.Load().(string); ok {
		res.PublishError = e
	}
	res.PublishErrors = fig.CreateErrors
	// Every schedule is stored: the memory figure the issue asks for is
	// serve's peak from here on (RSS while the million are stored and
	// their reminders fall due).
	mon.setPhase("reminders falling due")
	sleepUntil(ctx, dueOf(n-1))
	return createEnd, ctx.Err()
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
