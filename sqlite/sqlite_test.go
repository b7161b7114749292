package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tempPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "data", "licensehooks.db")
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) licensehooks.Store { return open(t, tempPath(t)) })
}

// TestReopen checks that migrations apply once and that committed data
// (tenant, listener, event, delivery) survives closing the file.
func TestReopen(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	s := open(t, path)
	f := &storetest.Fixture{T: t, S: s, Ctx: t.Context()}
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{"entitlement.created"})
	e, res := f.Publish(tn.ID, "entitlement.created", storetest.Base)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s = open(t, path)
	defer s.Close()
	ctx := t.Context()
	if _, err := s.GetListener(ctx, tn.ID, l.ID); err != nil {
		t.Errorf("listener after reopen: %v", err)
	}
	if got, err := s.GetEvent(ctx, tn.ID, e.ID); err != nil || string(got.Payload) != string(e.Payload) {
		t.Errorf("event after reopen: %v", err)
	}
	if d, err := s.GetDelivery(ctx, tn.ID, res.DeliveryIDs[0]); err != nil || d.Status != licensehooks.StatusPending {
		t.Errorf("delivery after reopen: %+v, %v", d, err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, _ := filepath.Glob("migrations/*.sql")
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Errorf("schema_migrations has %d rows (%v), want one per migration (%d)", n, err, len(files))
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
}

// TestClaimsShareRows checks that claims of one event and one listener share
// their *Event and *Listener, so a worker signs a body once per event.
func TestClaimsShareRows(t *testing.T) {
	t.Parallel()
	s := open(t, tempPath(t))
	defer s.Close()
	f := &storetest.Fixture{T: t, S: s, Ctx: t.Context()}
	tn := f.Tenant()
	f.Listener(tn.ID, []string{"entitlement.created"})
	f.Listener(tn.ID, []string{"entitlement.created"})
	f.Publish(tn.ID, "entitlement.created", storetest.Base)
	f.Publish(tn.ID, "entitlement.created", storetest.Base)
	cs := f.Claim("w", storetest.Base, 10)
	if len(cs) != 4 {
		t.Fatalf("claimed %d, want 4", len(cs))
	}
	events := map[*licensehooks.Event]int{}
	listeners := map[*licensehooks.Listener]int{}
	for _, c := range cs {
		events[c.Event]++
		listeners[c.Listener]++
	}
	if len(events) != 2 || len(listeners) != 2 {
		t.Errorf("%d event and %d listener values for 2 of each", len(events), len(listeners))
	}
}

// TestClosed checks that a closed store refuses writes as unavailable and
// closes its wakeup channels.
func TestClosed(t *testing.T) {
	t.Parallel()
	s := open(t, tempPath(t))
	ch := s.Wakeups(context.Background())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.CreateTenant(t.Context(), &licensehooks.Tenant{ID: "t_x", CreatedAt: time.Now()})
	if licensehooks.ErrorCode(err) != licensehooks.EUNAVAILABLE {
		t.Errorf("write after Close: %v, want unavailable", err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("wakeup after Close")
		}
	case <-time.After(5 * time.Second):
		t.Error("wakeup channel open after Close")
	}
	if _, err := sqlite.Open(""); err == nil {
		t.Error("Open of an empty path succeeded")
	}
}

// TestFanoutSeesOtherWriters checks that the fan-out, which keeps each
// tenant's listeners between transactions, sees listeners another process
// (here another Store on the same file) creates, disables or deletes.
func TestFanoutSeesOtherWriters(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	a, b := open(t, path), open(t, path)
	defer a.Close()
	defer b.Close()
	fa := &storetest.Fixture{T: t, S: a, Ctx: t.Context()}
	fb := &storetest.Fixture{T: t, S: b, Ctx: t.Context()}
	const code = "entitlement.created"
	tn := fa.Tenant()
	first := fa.Listener(tn.ID, []string{code})
	if _, res := fa.Publish(tn.ID, code, storetest.Base); len(res.DeliveryIDs) != 1 {
		t.Fatalf("%d deliveries, want 1", len(res.DeliveryIDs))
	}
	second := fb.Listener(tn.ID, []string{code})
	_, res := fa.Publish(tn.ID, code, storetest.Base)
	if got := listenersOf(t, a, tn.ID, res.DeliveryIDs); len(got) != 2 || !got[first.ID] || !got[second.ID] {
		t.Errorf("after another process added a listener, deliveries went to %v", got)
	}
	if err := b.DisableListener(t.Context(), tn.ID, first.ID, "test", storetest.Base); err != nil {
		t.Fatal(err)
	}
	_, res = fa.Publish(tn.ID, code, storetest.Base)
	if got := listenersOf(t, a, tn.ID, res.DeliveryIDs); len(got) != 1 || !got[second.ID] {
		t.Errorf("after another process disabled a listener, deliveries went to %v", got)
	}
	if err := b.DeleteListener(t.Context(), tn.ID, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, res = fa.Publish(tn.ID, code, storetest.Base); len(res.DeliveryIDs) != 0 {
		t.Errorf("after another process deleted the last listener, %d deliveries were made", len(res.DeliveryIDs))
	}
}

func listenersOf(t *testing.T, s *sqlite.Store, tenantID string, ids []string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for _, id := range ids {
		d, err := s.GetDelivery(t.Context(), tenantID, id)
		if err != nil {
			t.Fatal(err)
		}
		got[d.ListenerID] = true
	}
	return got
}

// TestCheckSchema: Check fails, naming the migration, when the database
// lacks one or holds one this binary does not know.
func TestCheckSchema(t *testing.T) {
	path := tempPath(t)
	s := open(t, path)
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ('9999_future', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "9999_future") {
		t.Fatalf("Check with a migration from a newer binary = %v, want it named", err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version IN ('9999_future', '0001_init')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "0001_init is not applied") {
		t.Fatalf("Check without 0001_init = %v, want it named", err)
	}
}
