package sqlite

import (
	"encoding/base64"
	"sort"
	"strings"
	"testing"
	"time"

	"licensehooks"
)

func TestSortableID(t *testing.T) {
	t.Parallel()
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for i := range 1000 {
		id := newSortableID(licensehooks.PrefixDelivery, base.Add(time.Duration(i)*time.Millisecond))
		if len(id) != len(licensehooks.PrefixDelivery)+22 || !strings.HasPrefix(id, licensehooks.PrefixDelivery) {
			t.Fatalf("bad id %q", id)
		}
		if _, err := base64.RawURLEncoding.DecodeString(id[len(licensehooks.PrefixDelivery):]); err != nil {
			t.Fatalf("id %q is not base64url: %v", id, err)
		}
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Error("ids made a millisecond apart do not sort by time")
	}
	a, b := newSortableID("x_", base), newSortableID("x_", base)
	if a == b {
		t.Error("two ids of one millisecond are equal")
	}
}
