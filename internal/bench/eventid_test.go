package bench

import (
	"strings"
	"testing"
)

func TestEventIDRoundTrip(t *testing.T) {
	t.Parallel()
	n, other := newNonce(), newNonce()
	for _, seq := range []uint64{0, 1, 255, 1 << 40, ^uint64(0)} {
		id := eventID(n, seq)
		if !strings.HasPrefix(id, "event_") || len(id) != len("event_")+22 {
			t.Fatalf("eventID(%d) = %q: want event_ and 22 characters", seq, id)
		}
		got, ok := parseEventID(n, id)
		if !ok || got != seq {
			t.Fatalf("parseEventID(%q) = %d, %v; want %d, true", id, got, ok, seq)
		}
		if _, ok := parseEventID(other, id); ok {
			t.Fatalf("an id of another run parsed as this run's")
		}
	}
}

func TestParseEventIDRejects(t *testing.T) {
	t.Parallel()
	n := newNonce()
	good := eventID(n, 7)
	for _, id := range []string{"", "event_", "evt_" + good[6:], good + "A", good[:len(good)-1], "event_!!!!!!!!!!!!!!!!!!!!!!", strings.ToUpper(good)} {
		if _, ok := parseEventID(n, id); ok {
			t.Errorf("parseEventID(%q) accepted", id)
		}
	}
}

func TestBodyScans(t *testing.T) {
	t.Parallel()
	body := []byte(`{"eventId":"event_abc","eventDate":"2025-06-06T11:39:22.739326Z","eventCode":"customer.created","resourceId":"c","callAttempt":12,"payload":{}}`)
	tests := []struct {
		key  string
		want string
	}{
		{`"eventId":"`, "event_abc"},
		{`"eventCode":"`, "customer.created"},
		{`"missing":"`, ""},
	}
	for _, tt := range tests {
		if got := bodyString(body, tt.key); got != tt.want {
			t.Errorf("bodyString(%s) = %q, want %q", tt.key, got, tt.want)
		}
	}
	if got := bodyInt(body, `"callAttempt":`); got != 12 {
		t.Errorf("bodyInt(callAttempt) = %d, want 12", got)
	}
	if got := bodyInt([]byte(`{"callAttempt":`), `"callAttempt":`); got != 0 {
		t.Errorf("bodyInt of a cut body = %d, want 0", got)
	}
	if got := bodyString([]byte(`{"eventId":"unterminated`), `"eventId":"`); got != "" {
		t.Errorf("bodyString of an unterminated string = %q", got)
	}
}

func FuzzParseEventID(f *testing.F) {
	n := nonce{1, 2, 3, 4, 5, 6, 7, 8}
	f.Add(eventID(n, 42))
	f.Add("event_AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		seq, ok := parseEventID(n, id)
		if ok && eventID(n, seq) != id {
			// base64url has one canonical spelling per value once the
			// padding bits are zero; a second spelling must not parse
			// to the same event silently.
			if s2, ok2 := parseEventID(n, eventID(n, seq)); !ok2 || s2 != seq {
				t.Fatalf("canonical id of %d does not parse back", seq)
			}
		}
	})
}

func FuzzBodyScans(f *testing.F) {
	f.Add([]byte(`{"eventId":"x","callAttempt":3}`))
	f.Add([]byte(`"callAttempt":99999999999999999999`))
	f.Fuzz(func(t *testing.T, body []byte) {
		bodyString(body, `"eventId":"`)
		if n := bodyInt(body, `"callAttempt":`); n < 0 {
			t.Fatalf("bodyInt = %d, want never negative", n)
		}
	})
}

// TestEventIDsInNoOrder: consecutive events' ids are not in order, as a
// platform's own (random) ids are not, and each still reads back.
func TestEventIDsInNoOrder(t *testing.T) {
	if s, u := uint64(scramble), uint64(unscramble); s*u != 1 {
		t.Fatal("unscramble is not scramble's inverse")
	}
	n := newNonce()
	inOrder := 0
	prev := eventID(n, 0)
	for seq := uint64(1); seq < 1000; seq++ {
		id := eventID(n, seq)
		if id > prev {
			inOrder++
		}
		if got, ok := parseEventID(n, id); !ok || got != seq {
			t.Fatalf("id %s reads back as %d %v, want %d", id, got, ok, seq)
		}
		prev = id
	}
	if inOrder > 700 || inOrder < 300 {
		t.Errorf("%d of 999 consecutive ids sort after the one before; want about half", inOrder)
	}
}
