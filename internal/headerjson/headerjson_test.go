package headerjson

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	cases := []http.Header{
		nil,
		{},
		{"Content-Type": {"application/json"}},
		{"B": {"1", "2"}, "A": {""}, "C": nil, "D": {}},
		{"X-Quote": {`say "hi" \ there`}, "X-Ctl": {"tab\there\nnew\x00"}},
		{"X-Html": {"<a href='x'>&</a>"}, "X-Utf8": {"héllo, 世界", "\u2028\u2029"}},
		{"X-Bad-Utf8": {"\xff\xfe ok \xc3"}, "\x7f": {"del\x7f"}},
		{"Webhook-Signature": {"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}, "Webhook-Timestamp": {"1700000000"}},
	}
	many := http.Header{}
	for _, k := range []string{"Q", "W", "E", "R", "T", "Y", "U", "I", "O", "P", "A", "S", "D", "F", "G", "H", "J", "K", "L", "Z"} {
		many[k] = []string{k + k}
	}
	cases = append(cases, many) // more keys than the stack array holds
	for _, h := range cases {
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := Encode(h); got != string(want) {
			t.Errorf("Encode(%q)\n got %s\nwant %s", h, got, want)
		}
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("Content-Type", "application/json", "x")
	f.Add("K\"", "<\xff>", "\u2028")
	f.Fuzz(func(t *testing.T, k, v1, v2 string) {
		h := http.Header{k: {v1, v2}, "Z" + k: {v2}}
		want, _ := json.Marshal(h)
		if got := Encode(h); got != string(want) {
			t.Fatalf("Encode(%q) = %s, want %s", h, got, want)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	h := http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {"licensehooks"},
		"N-Signature":       {"dGhpcyBpcyBhIHNpZ25hdHVyZSBvZiBhYm91dCAzNDQgY2hhcmFjdGVycw=="},
		"Webhook-Id":        {"evt_2b1f0c3d4e5f6a7b8c9d"},
		"Webhook-Timestamp": {"1700000000"},
		"Webhook-Signature": {"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
	}
	b.Run("headerjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Encode(h)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(h)
		}
	})
}
