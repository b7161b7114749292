package rsasign

import (
	"testing"
)

// BenchmarkSignN compares the signers on a 2048-bit key (a tenant key) and
// an envelope-sized body. Run on one core for the per-core rate:
//
//	go test -run '^$' -bench SignN -cpu 1 ./internal/rsasign
func BenchmarkSignN(b *testing.B) {
	key := testKey(b, 2048)
	body := []byte(`{"eventId":"0f6f2a1e-6f4e-4c4a-9a51-3b1b8f6f2d11","eventDate":"2026-12-04T11:37:11.123456Z","eventCode":"entitlement.created",` +
		`"resourceId":"ent_8f2c","callAttempt":1,"payload":{"entitlementId":"ent_8f2c","customerId":"cust_1","productId":"prod_1","seats":10}}`)
	for _, name := range []string{"go", "openssl"} {
		b.Run(name, func(b *testing.B) {
			var s Signer = Go
			if name == "openssl" {
				s = openSSLOrSkip(b)
			}
			k := load(b, s, key)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := k.SignN(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
