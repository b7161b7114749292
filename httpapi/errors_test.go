package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"licensehooks"
)

func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	for code, status := range map[string]int{
		licensehooks.EBADREQUEST: 400, licensehooks.EINVALID: 422, licensehooks.ENOTFOUND: 404, licensehooks.ECONFLICT: 409,
		licensehooks.EUNAUTHORIZED: 401, licensehooks.EFORBIDDEN: 403, licensehooks.ETOOLARGE: 413, licensehooks.EUNAVAILABLE: 503,
		licensehooks.EINTERNAL: 500, "made-up": 500,
	} {
		got, body := toAPIError(fmt.Errorf("wrapped: %w", licensehooks.Errorf(code, "msg")))
		if got != status {
			t.Errorf("%s: %d, want %d", code, got, status)
		}
		if status != 500 && (body.Error != "msg" || body.ErrorCode != code) {
			t.Errorf("%s: %+v", code, body)
		}
	}
}

// TestInternalErrorHidden: a fault of the service is logged and shown only
// as "Internal error.".
func TestInternalErrorHidden(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest("GET", "/api/v1/x", nil), errors.New("database is on fire at /var/lib/secret"))
	var body apiError
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 500 || body.Error != "Internal error." || body.ErrorCode != licensehooks.EINTERNAL || strings.Contains(rec.Body.String(), "fire") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
	}
	if !strings.Contains(logs.String(), "database is on fire") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("not logged: %q", logs.String())
	}
}
