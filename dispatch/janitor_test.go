package dispatch

import (
	"testing"
	"time"

	"licensehooks"
)

func TestJanitorPurgesFinishedInBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	_, done := b.publish(5, licensehooks.PublishParams{})
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
	if n != len(done) {
		t.Errorf("purged %d deliveries, want %d", n, len(done))
	}
	for _, id := range done {
		if _, err := b.store.GetDelivery(b.ctx, b.tenant.ID, id); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("finished delivery %s still there: %v", id, err)
		}
	}
	if dl := b.delivery(waiting[0]); dl.Status != licensehooks.StatusPending {
		t.Errorf("pending delivery touched: %+v", dl)
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
	eventually(t, 5*time.Second, func() string {
		if _, err := b.store.GetDelivery(b.ctx, b.tenant.ID, ids[0]); err == nil {
			return "delivery not purged yet"
		}
		return ""
	})
	j.Stop()
	j.Stop() // idempotent
}
