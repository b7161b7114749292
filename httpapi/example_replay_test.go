package httpapi

import (
	"net/http"
	"testing"
	"time"
)

// A Send example to one listener is no real event: a replay to another
// listener subscribed to its type does not send it.
func TestExampleNotReplayed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.createListener("customer.created")
	b := e.createListener("customer.created")
	wantStatus(t, e.as("POST", webhooksPath+"/"+a.ID+"/test", map[string]any{"eventCode": "customer.created"}), http.StatusNoContent)
	hour := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	r := e.as("POST", webhooksPath+"/"+b.ID+"/replay", map[string]string{"since": hour})
	wantStatus(t, r, 200)
	if string(r.body) != "{\"replayed\":0,\"more\":false}\n" {
		t.Errorf("the example sent to one listener was replayed to another: %s", r.body)
	}
}
