package dispatch

import (
	"context"
	"testing"
	"time"

	"licensehooks"
)

func TestJanitorPurgesFinishedInBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	events, done := b.publish(5, licensehooks.PublishParams{})
	b.dispatcher(Config{})
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, done...)
	_, waiting := b.publish(1, licensehooks.PublishParams{NotBefore: time.Now().Add(time.Hour)})

	j := NewJanitor(b.store, 0, nil)
	j.BatchSize = 2
	n, err := j.Purge(b.ctx)
	must(t, err)
	if n != 0 {
		t.Errorf("purged %d deliveries younger than the retention", n)
	}

	j.Now = func() time.Time { return time.Now().Add(DefaultRetention + time.Hour) }
	n, err = j.Purge(b.ctx)
	must(t, err)
	if n != len(done)+len(events) { // batch after batch of 2, until none is left
		t.Errorf("purged %d deliveries and events, want %d", n, len(done)+len(events))
	}
	for _, id := range done {
		if _, err := b.store.GetDelivery(b.ctx, b.tenant.ID, id); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("finished delivery %s still there: %v", id, err)
		}
	}
	for _, ev := range events {
		if _, err := b.store.GetEvent(b.ctx, b.tenant.ID, ev.ID); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("event %s of purged deliveries still there: %v", ev.ID, err)
		}
	}
	if dl := b.delivery(waiting[0]); dl.Status != licensehooks.StatusPending {
		t.Errorf("pending delivery touched: %+v", dl)
	}
}

// endlessPurge is a store whose purge always finds one more row.
type endlessPurge struct {
	licensehooks.Store
	calls int
}

func (s *endlessPurge) PurgeFinished(context.Context, licensehooks.PurgeParams) (int, error) {
	s.calls++
	return 1, nil
}

func TestJanitorBoundsARun(t *testing.T) {
	t.Parallel()
	st := &endlessPurge{}
	j := NewJanitor(st, 0, nil)
	n, more, err := j.purge(t.Context())
	if err != nil || !more || n != janitorMaxBatches || st.calls != janitorMaxBatches {
		t.Errorf("purge of an endless store: %d rows, more %v, %d calls, %v", n, more, st.calls, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	st.calls = 0
	if _, err := j.Purge(ctx); err == nil || st.calls != 0 {
		t.Errorf("purge with an ended context: %d calls, %v", st.calls, err)
	}
}

func TestJanitorRunsInBackground(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(3, licensehooks.PublishParams{})
	b.dispatcher(Config{})
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, ids...)

	j := NewJanitor(b.store, time.Hour, nil)
	j.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	must(t, j.Start(b.ctx))
	if err := j.Start(b.ctx); err == nil {
		t.Errorf("a second Start did not fail")
	}
	b.eventually(5*time.Second, func() string {
		if _, err := b.store.GetDelivery(b.ctx, b.tenant.ID, ids[0]); err == nil {
			return "delivery not purged yet"
		}
		return ""
	})
	j.Stop()
	j.Stop() // idempotent
}
