package sqlite_test

import (
	"path/filepath"
	"testing"

	"licensehooks"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "data", "licensehooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) licensehooks.Store { return open(t) })
}
