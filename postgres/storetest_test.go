package postgres

import (
	"context"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/storetest"
)

// TestConformance runs the shared store suite; every subtest gets a schema
// of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) licensehooks.Store {
		schema := newSchema(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := OpenWithOptions(ctx, testURL(t), Options{Schema: schema, MaxConns: 4})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s // Run closes it
	})
}
