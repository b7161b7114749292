package licensehooks_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"licensehooks"
)

func TestAppendEnvelope(t *testing.T) {
	t.Parallel()
	e := &licensehooks.Event{
		ID: "event_NsqUHwSXC0S4f4vuNkegSg", Code: "customer.created", ResourceID: "cust_ILLqMyx3UUy_n5cZqui7NQ",
		OccurredAt: time.Date(2025, 6, 6, 11, 39, 22, 739326123, time.UTC),
		Payload:    json.RawMessage(`{"customerId":"cust_ILLqMyx3UUy_n5cZqui7NQ","name":"Acme"}`),
	}
	got := string(licensehooks.AppendEnvelope(nil, e, 1))
	want := `{"eventId":"event_NsqUHwSXC0S4f4vuNkegSg","eventDate":"2025-06-06T11:39:22.739326Z",` +
		`"eventCode":"customer.created","resourceId":"cust_ILLqMyx3UUy_n5cZqui7NQ",` +
		`"callAttempt":1,"payload":{"customerId":"cust_ILLqMyx3UUy_n5cZqui7NQ","name":"Acme"}}`
	if got != want {
		t.Fatalf("envelope:\n got %s\nwant %s", got, want)
	}
}

func TestAppendEnvelopeNonUTCAndEmptyPayload(t *testing.T) {
	t.Parallel()
	e := &licensehooks.Event{ID: "x", Code: "webhook.test", ResourceID: "whl_1",
		OccurredAt: time.Date(2025, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))}
	got := string(licensehooks.AppendEnvelope(nil, e, 3))
	want := `{"eventId":"x","eventDate":"2025-01-01T00:00:00.000000Z","eventCode":"webhook.test","resourceId":"whl_1","callAttempt":3,"payload":{}}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// FuzzAppendEnvelope checks that any strings give valid JSON that decodes
// back to the same values, exactly as encoding/json would write them.
func FuzzAppendEnvelope(f *testing.F) {
	f.Add("event_1", "customer.created", "cust_1")
	f.Add("a\"b\\c", "<script>&", "\u2028\u2029\x00\x1f\xff")
	f.Fuzz(func(t *testing.T, id, code, resource string) {
		e := &licensehooks.Event{ID: id, Code: code, ResourceID: resource, OccurredAt: time.Unix(1700000000, 123456789), Payload: json.RawMessage(`{"a":1}`)}
		b := licensehooks.AppendEnvelope(nil, e, 7)
		var got struct {
			EventID, EventCode, ResourceID string
			CallAttempt                    int
			Payload                        json.RawMessage
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		want := func(s string) string { // what encoding/json makes of s
			m, _ := json.Marshal(s)
			var back string
			json.Unmarshal(m, &back)
			return back
		}
		if got.EventID != want(id) || got.EventCode != want(code) || got.ResourceID != want(resource) || got.CallAttempt != 7 {
			t.Fatalf("round trip mismatch: %+v", got)
		}
		for _, s := range []string{id, code, resource} {
			m, _ := json.Marshal(s)
			if !bytes.Contains(b, m) {
				t.Fatalf("%q not encoded as encoding/json does (%s) in %s", s, m, b)
			}
		}
	})
}

func BenchmarkAppendEnvelope(b *testing.B) {
	e := &licensehooks.Event{
		ID: "event_NsqUHwSXC0S4f4vuNkegSg", Code: "entitlement.seat.activated", ResourceID: "ent_ILLqMyx3UUy_n5cZqui7NQ",
		OccurredAt: time.Now(),
		Payload:    json.RawMessage(`{"entitlementId":"ent_ILLqMyx3UUy_n5cZqui7NQ","activationId":"act_x","seatId":"user@example.com","seatsUsed":3}`),
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = licensehooks.AppendEnvelope(buf[:0], e, 1)
	}
}
