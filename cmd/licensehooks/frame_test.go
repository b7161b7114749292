package main

import (
	"slices"
	"strings"
	"testing"
)

// TestPortalFrameOriginsFlag: --portal-frame-origins takes http(s) origins
// and refuses, at start, anything with a path or another scheme.
func TestPortalFrameOriginsFlag(t *testing.T) {
	t.Parallel()
	cfg, err := parseServeFlags([]string{"--data", t.TempDir(), "--portal-frame-origins", "https://App.example.com, http://localhost:3000/"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://app.example.com", "http://localhost:3000"}; !slices.Equal(cfg.frames, want) {
		t.Errorf("origins %q, want %q", cfg.frames, want)
	}
	for _, bad := range []string{"https://app.example.com/embed", "app.example.com", "ftp://app.example.com", "https://*.example.com"} {
		_, err := parseServeFlags([]string{"--data", t.TempDir(), "--portal-frame-origins", bad})
		if err == nil || !strings.Contains(err.Error(), "--portal-frame-origins") || !strings.Contains(err.Error(), "origin") {
			t.Errorf("--portal-frame-origins %q: %v, want a clear error", bad, err)
		}
	}
}
