package bench

import (
	"reflect"
	"testing"
)

func TestRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	in := []record{
		{Seq: 0, Arrival: 1, Listener: 0, Attempt: 1},
		{Seq: ^uint64(0), Arrival: -5, Listener: 1<<32 - 1, Attempt: 65535, Flags: flagChecked | flagBadN},
		{Seq: 123456789, Arrival: 1750000000000000000, Listener: 9, Attempt: 2, Flags: flagForeign},
	}
	var b []byte
	for _, r := range in {
		b = r.append(b)
	}
	if len(b) != len(in)*recordSize {
		t.Fatalf("encoded %d bytes, want %d", len(b), len(in)*recordSize)
	}
	out, err := decodeRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if _, err := decodeRecords(b[:recordSize+3]); err == nil {
		t.Fatal("a truncated record decoded")
	}
}
