package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryPlans checks that the hot and large-table queries use their
// indexes: a full scan of deliveries or attempts would grow with the log.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "plan.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases := []struct {
		name, query string
		args        []any
	}{
		{"claim", claimQuery, []any{"o", 1, 1, 1, "[]", 10, 5}},
		{"listeners with pending work", pendingListenersQuery, []any{100}},
		{"claim window", windowQuery, []any{1, 1, 40}},
		{"a listener's due work", listenerDueQuery, []any{"l", 1, 1, 10}},
		{"claim picked rows", claimByRowidQuery, []any{"o", 1, "[1,2]", 1}},
		{"deliveries of a listener", `SELECT ` + deliveryCols + ` FROM deliveries WHERE tenant_id = ? AND listener_id = ?
			ORDER BY created_at DESC, id DESC LIMIT 10`, []any{"t", "l"}},
		{"deliveries of a tenant", `SELECT ` + deliveryCols + ` FROM deliveries WHERE tenant_id = ? AND status = ?
			ORDER BY created_at DESC, id DESC LIMIT 10`, []any{"t", "failed"}},
		{"deliveries of an event", `SELECT id FROM deliveries WHERE event_seq = (SELECT rowid FROM events WHERE tenant_id = ? AND id = ?)
			ORDER BY rowid`, []any{"t", "e"}},
		{"events no delivery refers to", `SELECT e.rowid FROM events e WHERE e.created_at < ? AND NOT EXISTS (
			SELECT 1 FROM deliveries d WHERE d.event_seq = e.rowid) LIMIT 10`, []any{1}},
		{"cancel", `UPDATE deliveries SET status = 'cancelled', updated_at = ? WHERE listener_id = ? AND status = 'pending'`, []any{1, "l"}},
		{"release", releaseQuery, []any{"o"}},
		{"release some", releaseIDsQuery, []any{`["d"]`, "o"}},
		{"purge", `SELECT id FROM deliveries WHERE status IN ('succeeded', 'failed', 'cancelled') AND status <> 'pending' AND updated_at < ? LIMIT ?`, []any{1, 10}},
		{"attempts", `SELECT ` + attemptCols + ` FROM attempts WHERE delivery_id = ? ORDER BY started_at, number`, []any{"d"}},
		{"samples", `SELECT listener_id FROM attempts WHERE tenant_id = ? AND started_at >= ? ORDER BY started_at DESC LIMIT 10`, []any{"t", 1}},
		{"promote scheduled", dueScheduledQuery, []any{1, 10}},
		{"tail of a line", tailQuery, []any{"l", "r"}},
		{"advance a line", advanceQuery, []any{1, 1, "l", "r"}},
		{"cancel scheduled", `UPDATE deliveries SET status = 'cancelled', updated_at = ? WHERE listener_id = ? AND status = 'scheduled'`, []any{1, "l"}},
		{"claim reminders", claimRemindersQuery, []any{"o", 1, 1, 1, 10}},
		{"next due", nextDueQuery, nil},
		{"upcoming reminders", `SELECT ` + reminderCols + ` FROM reminders WHERE tenant_id = ? AND status = 'scheduled' AND resource_id = ?
			ORDER BY due_at, event_id LIMIT 10`, []any{"t", "r"}},
		{"events", `SELECT ` + eventCols + ` FROM events WHERE tenant_id = ? AND code = ? ORDER BY created_at DESC, id DESC LIMIT 10`, []any{"t", "c"}},
	}
	for _, c := range cases {
		rows, err := db.Query(`EXPLAIN QUERY PLAN `+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if (strings.HasPrefix(step, "SCAN deliveries") || strings.HasPrefix(step, "SCAN attempts") ||
				strings.HasPrefix(step, "SCAN events") || strings.HasPrefix(step, "SCAN reminders") ||
				strings.HasPrefix(step, "SCAN r ")) && !strings.Contains(step, "INDEX") {
				t.Errorf("%s: full scan in plan %q", c.name, plan)
			}
		}
		t.Logf("%s: %s", c.name, strings.Join(plan, " | "))
	}
}
