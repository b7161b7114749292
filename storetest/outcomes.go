package storetest

import (
	"slices"
	"testing"
	"time"

	"licensehooks"
)

var outcomeTests = map[string]func(t *testing.T, f *Fixture){
	"RetryThenSucceed": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		_, res := f.Publish(tn.ID, codeA, Base)
		cs := f.Claim("w", Base, 10)
		if len(cs) != 1 {
			t.Fatalf("claimed %d, want 1", len(cs))
		}
		a1 := f.Attempt(cs[0].Delivery, Base.Add(time.Second), 503)
		next := Base.Add(5 * time.Second)
		must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{
			Attempt: a1, Owner: "w", Status: licensehooks.StatusPending, NextAttemptAt: next, CountsAsTry: true,
		}}), "RecordOutcomes")
		d := f.Delivery(tn.ID, res.DeliveryIDs[0])
		if d.Status != licensehooks.StatusPending || d.Attempts != 1 || d.Tries != 1 || !d.NextAttemptAt.Equal(next) ||
			d.LeaseOwner != "" || d.LeaseExpiresAt != nil || d.LastStatusCode != 503 ||
			d.LastErrorKind != licensehooks.KindHTTPStatus || d.LastError != "HTTP 503" ||
			!timePtrEq(d.LastAttemptAt, &a1.StartedAt) || d.UpdatedAt.Before(a1.StartedAt) {
			t.Errorf("after a retry outcome: %+v", d)
		}
		if cs := f.Claim("w", next.Add(-time.Microsecond), 10); len(cs) != 0 {
			t.Errorf("claimed before the retry is due")
		}
		cs = f.Claim("w", next, 10)
		if len(cs) != 1 || cs[0].Delivery.Attempts != 1 {
			t.Fatalf("retry not claimable when due: %v", claimIDs(cs))
		}
		a2 := f.Attempt(cs[0].Delivery, next.Add(time.Second), 204)
		if a2.Number != 2 {
			t.Fatalf("second attempt numbered %d", a2.Number)
		}
		must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{
			Attempt: a2, Owner: "w", Status: licensehooks.StatusSucceeded, CountsAsTry: true,
		}}), "RecordOutcomes")
		d = f.Delivery(tn.ID, d.ID)
		if d.Status != licensehooks.StatusSucceeded || d.Attempts != 2 || d.Tries != 2 || d.LastStatusCode != 204 ||
			d.LastErrorKind != "" || d.LastError != "" || !timePtrEq(d.LastAttemptAt, &a2.StartedAt) {
			t.Errorf("after success: %+v", d)
		}
		got, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
		must(t, err, "GetListener")
		if !timePtrEq(got.LastSuccessAt, &a2.StartedAt) {
			t.Errorf("listener LastSuccessAt %v, want %v", got.LastSuccessAt, a2.StartedAt)
		}
		atts, err := f.S.ListAttempts(f.Ctx, tn.ID, d.ID)
		must(t, err, "ListAttempts")
		if len(atts) != 2 {
			t.Fatalf("%d attempts stored, want 2", len(atts))
		}
		checkAttempt(t, atts[0], a1)
		checkAttempt(t, atts[1], a2)
	},
	"Failed": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		_, res := f.Publish(tn.ID, codeA, Base)
		f.Finish(tn.ID, res.DeliveryIDs[0], licensehooks.StatusFailed, Base.Add(time.Minute))
		if d := f.Delivery(tn.ID, res.DeliveryIDs[0]); d.Status != licensehooks.StatusFailed || d.Attempts != 1 || d.LastStatusCode != 500 {
			t.Errorf("after a final failure: %+v", d)
		}
		got, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
		must(t, err, "GetListener")
		if got.LastSuccessAt != nil {
			t.Errorf("a failure set LastSuccessAt %v", got.LastSuccessAt)
		}
	},
	"ManualKeepsStatus": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		_, res := f.Publish(tn.ID, codeA, Base)
		id := res.DeliveryIDs[0]
		f.Finish(tn.ID, id, licensehooks.StatusPending, Base) // one try; next due an hour later
		before := f.Delivery(tn.ID, id)
		c, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
			TenantID: tn.ID, DeliveryID: id, Owner: "manual", Now: Base.Add(time.Minute), Lease: time.Minute,
		})
		must(t, err, "ClaimDelivery")
		a := f.Attempt(c.Delivery, Base.Add(time.Minute), 500)
		a.Manual = true
		must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{Attempt: a, Owner: "manual"}}), "RecordOutcomes")
		d := f.Delivery(tn.ID, id)
		if d.Status != licensehooks.StatusPending || !d.NextAttemptAt.Equal(before.NextAttemptAt) ||
			d.Attempts != 2 || d.Tries != 1 || d.LeaseOwner != "" || d.LastStatusCode != 500 {
			t.Errorf("after a failed manual attempt: %+v (before %+v)", d, before)
		}
		atts, err := f.S.ListAttempts(f.Ctx, tn.ID, id)
		must(t, err, "ListAttempts")
		if len(atts) != 2 || !atts[1].Manual || atts[0].Manual {
			t.Errorf("attempts' Manual flags wrong: %d attempts", len(atts))
		}
	},
	"LostLeaseDropped": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		f.Publish(tn.ID, codeA, Base)
		f.Publish(tn.ID, codeA, Base.Add(time.Second))
		cs := f.Claim("slow", Base.Add(time.Second), 10) // leased until Base+61s
		if len(cs) != 2 {
			t.Fatalf("claimed %d, want 2", len(cs))
		}
		lost, kept := cs[0].Delivery, cs[1].Delivery
		// The slow worker's lease on the first expires; another takes it.
		_, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
			TenantID: tn.ID, DeliveryID: lost.ID, Owner: "fast", Now: Base.Add(2 * time.Minute), Lease: time.Minute,
		})
		must(t, err, "ClaimDelivery after lease expiry")
		at := Base.Add(3 * time.Minute)
		must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{
			{Attempt: f.Attempt(lost, at, 200), Owner: "slow", Status: licensehooks.StatusSucceeded, CountsAsTry: true},
			{Attempt: f.Attempt(kept, at, 200), Owner: "slow", Status: licensehooks.StatusSucceeded, CountsAsTry: true},
		}), "RecordOutcomes with one lost lease")
		d := f.Delivery(tn.ID, lost.ID)
		if d.Status != licensehooks.StatusPending || d.Attempts != 0 || d.LeaseOwner != "fast" {
			t.Errorf("the lost-lease outcome was applied: %+v", d)
		}
		if atts, err := f.S.ListAttempts(f.Ctx, tn.ID, lost.ID); err != nil || len(atts) != 0 {
			t.Errorf("the lost-lease attempt was stored (%d, %v)", len(atts), err)
		}
		if d := f.Delivery(tn.ID, kept.ID); d.Status != licensehooks.StatusSucceeded || d.Attempts != 1 {
			t.Errorf("the other outcome of the batch: %+v", d)
		}
	},
	"CancelledInFlightStaysCancelled": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		_, res := f.Publish(tn.ID, codeA, Base)
		cs := f.Claim("w", Base, 10)
		must(t, f.S.DeleteListener(f.Ctx, tn.ID, l.ID), "DeleteListener")
		// The attempt was in flight: the receiver got it, so it is kept in
		// the log, but the delivery must not come back to life.
		err := f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{
			Attempt: f.Attempt(cs[0].Delivery, Base.Add(time.Second), 500), Owner: "w",
			Status: licensehooks.StatusPending, NextAttemptAt: Base.Add(time.Minute), CountsAsTry: true,
		}})
		must(t, err, "RecordOutcomes")
		if d := f.Delivery(tn.ID, res.DeliveryIDs[0]); d.Status != licensehooks.StatusCancelled {
			t.Errorf("status %q after an in-flight outcome, want cancelled", d.Status)
		}
		if cs := f.Claim("w", Base.Add(time.Hour), 10); len(cs) != 0 {
			t.Errorf("a cancelled delivery was claimed")
		}
		if atts, err := f.S.ListAttempts(f.Ctx, tn.ID, res.DeliveryIDs[0]); err != nil || len(atts) != 1 {
			t.Errorf("the in-flight attempt of a cancelled delivery: %d stored, %v; want 1", len(atts), err)
		}
	},
	"ReleaseClaims": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		for i := range 3 {
			f.Publish(tn.ID, codeA, Base.Add(time.Duration(i)*time.Second))
		}
		now := Base.Add(time.Minute)
		ids := claimIDs(f.Claim("a", now, 10))
		if len(ids) != 3 {
			t.Fatalf("claimed %d, want 3", len(ids))
		}
		must(t, f.S.ReleaseClaims(f.Ctx, "someone-else", nil), "ReleaseClaims of another owner")
		must(t, f.S.ReleaseClaims(f.Ctx, "a", ids[:1]), "ReleaseClaims")
		d := f.Delivery(tn.ID, ids[0])
		if d.LeaseOwner != "" || d.LeaseExpiresAt != nil || d.Status != licensehooks.StatusPending || d.Attempts != 0 {
			t.Errorf("released delivery: %+v", d)
		}
		if got := claimIDs(f.Claim("b", now, 10)); !slices.Equal(got, ids[:1]) {
			t.Errorf("after releasing one, b claimed %v, want %v", got, ids[:1])
		}
		must(t, f.S.ReleaseClaims(f.Ctx, "a", nil), "ReleaseClaims(all)")
		if got := claimIDs(f.Claim("c", now, 10)); !slices.Equal(got, ids[1:]) {
			t.Errorf("after releasing all of a's, c claimed %v, want %v", got, ids[1:])
		}

		// A manual attempt leases a finished delivery; released by id, it
		// can be leased again at once.
		_, res := f.Publish(tn.ID, codeA, Base)
		done := f.Finish(tn.ID, res.DeliveryIDs[0], licensehooks.StatusFailed, now)
		_, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: done.DeliveryID, Owner: "m", Now: now, Lease: time.Minute})
		must(t, err, "ClaimDelivery of a failed delivery")
		must(t, f.S.ReleaseClaims(f.Ctx, "m", []string{done.DeliveryID}), "ReleaseClaims of a failed delivery")
		if d := f.Delivery(tn.ID, done.DeliveryID); d.LeaseOwner != "" || d.Status != licensehooks.StatusFailed {
			t.Errorf("released failed delivery: %+v", d)
		}
		_, err = f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: done.DeliveryID, Owner: "n", Now: now, Lease: time.Minute})
		must(t, err, "ClaimDelivery after the release")
	},
}
