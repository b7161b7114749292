package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadyz: /readyz is 200 while Ready answers nil and 503 with the
// reason in an ApiError when it does not; /metrics is the given handler,
// or a 404 ApiError naming --metrics-addr without one.
func TestReadyz(t *testing.T) {
	var notReady error
	ready := func(context.Context) error { return notReady }
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up 1\n") })
	get := func(h http.Handler, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	h := New(Config{Ready: ready, Metrics: metrics}).Handler()
	if code, body := get(h, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready"`) {
		t.Fatalf("/readyz ready = %d %s", code, body)
	}
	notReady = errors.New("store: sqlite: migration 0011_x is not applied")
	code, body := get(h, "/readyz")
	var apiErr struct {
		Error string `json:"error"`
		Code  string `json:"errorCode"`
	}
	if err := json.Unmarshal([]byte(body), &apiErr); err != nil || code != http.StatusServiceUnavailable ||
		apiErr.Code != "unavailable" || !strings.Contains(apiErr.Error, "0011_x is not applied") {
		t.Fatalf("/readyz not ready = %d %s", code, body)
	}
	if code, body := get(h, "/metrics"); code != http.StatusOK || body != "up 1\n" {
		t.Fatalf("/metrics = %d %q", code, body)
	}
	h = New(Config{Ready: ready}).Handler()
	if code, body := get(h, "/metrics"); code != http.StatusNotFound || !strings.Contains(body, "--metrics-addr") {
		t.Fatalf("/metrics without a handler = %d %s", code, body)
	}
}
