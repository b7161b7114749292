package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExampleReceiver builds examples/receiver and runs it against a real
// serve --dev: a delivery is verified and handled, its resend is the same
// webhook-id and is acknowledged without being handled again, and a
// request whose body was changed is refused with 401.
func TestExampleReceiver(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "receiver")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/receiver").CombinedOutput(); err != nil {
		t.Fatalf("build examples/receiver: %v\n%s", err, out)
	}
	s := newDevSetup(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, secret := s.listener(t, "http://"+addr+"/licensing", "entitlement.created")
	rc := startProc(t, s.dir, nil, bin, "-addr", addr, "-jwk", "key.jwk", "-secret", secret)
	waitOutput(t, "receiver", rc.stderr, regexp.MustCompile(`receiving deliveries at http://`+regexp.QuoteMeta(addr)))

	eventID, deliveryID := s.trigger(t, "entitlement.created", "--resource", "ent_5")
	waitOutput(t, "receiver", rc.stdout, regexp.MustCompile(`handled entitlement\.created `+eventID+` about ent_5 \(attempt 1\): \{"entitlementId":"ent_5"`))
	if codes := s.waitAttempts(t, deliveryID, 1); codes[0] != 200 {
		t.Fatalf("the receiver answered %v, want 200", codes)
	}
	s.c.must("POST", "/api/v1/account/deliveries/"+deliveryID+"/resend", nil, nil)
	waitOutput(t, "receiver", rc.stdout, regexp.MustCompile(`duplicate entitlement\.created `+eventID+` \(attempt 2\): handled before`))
	if codes := s.waitAttempts(t, deliveryID, 2); codes[1] != 200 {
		t.Fatalf("the resend was answered %v, want 200", codes)
	}
	if n := strings.Count(rc.stdout.String(), "handled entitlement.created"); n != 1 {
		t.Errorf("the event was handled %d times, want once:\n%s", n, rc.stdout)
	}

	// A body that is not the one signed: refused before it is parsed.
	req, _ := http.NewRequest("POST", "http://"+addr+"/licensing", strings.NewReader(`{"eventId":"event_x"}`))
	req.Header.Set("N-Signature", "AAAA")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged request was answered %d, want 401", resp.StatusCode)
	}
	waitOutput(t, "receiver", rc.stderr, regexp.MustCompile(`refused: invalid N-Signature: it does not match the body`))
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(rc.stdout.String(), "event_x") {
		t.Error("the forged event was handled")
	}
}
