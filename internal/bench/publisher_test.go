package bench

import (
	"encoding/json"
	"testing"
)

func TestDecodePublishAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string
		ids    []string
		counts []int
		errs   []bool
	}{
		{"single", `{"eventId":"e1","deliveries":["d1","d2"]}`, []string{"e1"}, []int{2}, []bool{false}},
		{"single with a count", `{"eventId":"e1","deliveries":3}`, []string{"e1"}, []int{3}, []bool{false}},
		{"batch", `{"items":[{"eventId":"e1","deliveries":[]},{"eventId":"e2","error":{"error":"bad"}}]}`,
			[]string{"e1", "e2"}, []int{0, -1}, []bool{false, true}},
		{"bare array", `[{"eventId":"e1","deliveries":["d"]}]`, []string{"e1"}, []int{1}, []bool{false}},
	}
	for _, tt := range tests {
		got, err := decodePublishAnswers([]byte(tt.raw))
		if err != nil || len(got) != len(tt.ids) {
			t.Errorf("%s: %d answers, %v", tt.name, len(got), err)
			continue
		}
		for i, a := range got {
			failed := len(a.Error) > 0 && string(a.Error) != "null"
			if a.EventID != tt.ids[i] || a.count() != tt.counts[i] || failed != tt.errs[i] {
				t.Errorf("%s: answer %d = %s %d failed %v", tt.name, i, a.EventID, a.count(), failed)
			}
		}
	}
	for _, raw := range []string{`nope`, `{"items":[]}`, `{}`} {
		if _, err := decodePublishAnswers([]byte(raw)); err == nil {
			t.Errorf("decodePublishAnswers(%s) accepted", raw)
		}
	}
}

func TestPublishBodies(t *testing.T) {
	t.Parallel()
	p := &publishers{templates: catalogTemplates(), nonce: newNonce()}
	if len(p.templates) != 20 {
		t.Fatalf("%d templates, want the 20 catalog types", len(p.templates))
	}
	var one map[string]json.RawMessage
	if err := json.Unmarshal(p.body(nil, 3, 1, false, nil), &one); err != nil {
		t.Fatalf("single body is not JSON: %v", err)
	}
	for _, k := range []string{"eventId", "eventCode", "resourceId", "payload"} {
		if len(one[k]) == 0 {
			t.Errorf("single body has no %s", k)
		}
	}
	var batch struct{ Events []struct{ EventID string } }
	if err := json.Unmarshal(p.body(nil, 10, 3, true, nil), &batch); err != nil || len(batch.Events) != 3 {
		t.Fatalf("batch body: %d events, %v", len(batch.Events), err)
	}
	for i, e := range batch.Events {
		if seq, ok := parseEventID(p.nonce, e.EventID); !ok || seq != uint64(10+i) {
			t.Errorf("batch event %d has id %s", i, e.EventID)
		}
	}
}
