package storetest

import (
	"testing"
	"time"

	"licensehooks"
)

// tenantOpTests pin down the operator plane: external ids, finding,
// renaming, deleting in two steps, and portal links.
var tenantOpTests = map[string]func(t *testing.T, f *Fixture){
	"ExternalID": func(t *testing.T, f *Fixture) {
		a := &licensehooks.Tenant{ID: "t_ext_a", Name: "A", ExternalID: "acct-1", CreatedAt: Base}
		must(t, f.S.CreateTenant(f.Ctx, a), "CreateTenant with an external id")
		got, err := f.S.GetTenant(f.Ctx, a.ID)
		must(t, err, "GetTenant")
		if got.ExternalID != "acct-1" {
			t.Errorf("ExternalID = %q, want acct-1", got.ExternalID)
		}
		b := &licensehooks.Tenant{ID: "t_ext_b", Name: "B", ExternalID: "acct-1", CreatedAt: Base}
		wantCode(t, f.S.CreateTenant(f.Ctx, b), licensehooks.ECONFLICT, "CreateTenant with a taken external id")
		b.ExternalID = ""
		must(t, f.S.CreateTenant(f.Ctx, b), "CreateTenant without an external id")
		c := &licensehooks.Tenant{ID: "t_ext_c", Name: "C", CreatedAt: Base}
		must(t, f.S.CreateTenant(f.Ctx, c), "a second tenant without an external id")
		b.ExternalID = "acct-1"
		wantCode(t, f.S.UpdateTenant(f.Ctx, b), licensehooks.ECONFLICT, "UpdateTenant to a taken external id")
		a.Name, a.ExternalID = "A renamed", "acct-9"
		must(t, f.S.UpdateTenant(f.Ctx, a), "UpdateTenant")
		must(t, f.S.UpdateTenant(f.Ctx, a), "UpdateTenant keeping its own external id")
		got, _ = f.S.GetTenant(f.Ctx, a.ID)
		if got.Name != "A renamed" || got.ExternalID != "acct-9" {
			t.Errorf("after UpdateTenant: %+v", got)
		}
		must(t, f.S.UpdateTenant(f.Ctx, b), "the freed external id is taken by another")
		wantCode(t, f.S.UpdateTenant(f.Ctx, &licensehooks.Tenant{ID: "t_missing", Name: "x"}), licensehooks.ENOTFOUND, "UpdateTenant of a missing tenant")
	},
	"Find": func(t *testing.T, f *Fixture) {
		for i, n := range []string{"Acme Corp", "acme labs", "Globex", "50%_off"} {
			tn := &licensehooks.Tenant{ID: "t_find_" + string(rune('a'+i)), Name: n, CreatedAt: Base.Add(time.Duration(i) * time.Second)}
			if i == 2 {
				tn.ExternalID = "gx"
			}
			must(t, f.S.CreateTenant(f.Ctx, tn), "CreateTenant")
		}
		names := func(f2 licensehooks.TenantFilter) ([]string, int) {
			t.Helper()
			ts, total, err := f.S.FindTenants(f.Ctx, f2)
			must(t, err, "FindTenants")
			var out []string
			for _, tn := range ts {
				out = append(out, tn.Name)
			}
			return out, total
		}
		check := func(what string, f2 licensehooks.TenantFilter, want []string, wantTotal int) {
			t.Helper()
			got, total := names(f2)
			if len(got) != len(want) || total != wantTotal {
				t.Errorf("%s: %q (total %d), want %q (total %d)", what, got, total, want, wantTotal)
				return
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s: %q, want %q", what, got, want)
				}
			}
		}
		check("all", licensehooks.TenantFilter{}, []string{"Acme Corp", "acme labs", "Globex", "50%_off"}, 4)
		check("name, any case", licensehooks.TenantFilter{Name: "ACME"}, []string{"Acme Corp", "acme labs"}, 2)
		check("wildcards are literal", licensehooks.TenantFilter{Name: "%_"}, []string{"50%_off"}, 1)
		check("external id", licensehooks.TenantFilter{ExternalID: "gx"}, []string{"Globex"}, 1)
		check("page 2 of 3", licensehooks.TenantFilter{Page: licensehooks.Page{Number: 2, Size: 3}}, []string{"50%_off"}, 4)
	},
	"DeleteAndPurge": func(t *testing.T, f *Fixture) {
		gone, kept := f.Tenant(), f.Tenant()
		gone.ExternalID = "acct-gone"
		must(t, f.S.UpdateTenant(f.Ctx, gone), "UpdateTenant")
		var deliveries []string
		for _, tn := range []*licensehooks.Tenant{gone, kept} {
			f.Listener(tn.ID, []string{"customer.created"})
			for i := range 3 {
				_, res := f.Publish(tn.ID, "customer.created", Base.Add(time.Duration(i)*time.Second))
				if tn == gone {
					deliveries = append(deliveries, res.DeliveryIDs...)
				}
			}
		}
		f.Finish(gone.ID, deliveries[0], licensehooks.StatusSucceeded, Base.Add(time.Minute))
		cred := &licensehooks.Credential{ClientID: "lhc_gone", TenantID: gone.ID, Name: "c", Scopes: licensehooks.AllScopes, SecretHash: []byte{1}, CreatedAt: Base}
		must(t, f.S.CreateCredential(f.Ctx, cred), "CreateCredential")
		link := &licensehooks.PortalLink{ID: "plk_gone", TenantID: gone.ID, CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)}
		must(t, f.S.CreatePortalLink(f.Ctx, link), "CreatePortalLink")
		_, err := f.S.PurgeTenant(f.Ctx, gone.ID, 10)
		wantCode(t, err, licensehooks.ECONFLICT, "PurgeTenant of a tenant not deleted")

		at := Base.Add(2 * time.Hour)
		must(t, f.S.DeleteTenant(f.Ctx, gone.ID, at), "DeleteTenant")
		wantCode(t, f.S.DeleteTenant(f.Ctx, gone.ID, at), licensehooks.ENOTFOUND, "DeleteTenant twice")
		_, err = f.S.GetTenant(f.Ctx, gone.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetTenant of a deleted tenant")
		if ts, _ := f.S.ListTenants(f.Ctx); len(ts) != 1 || ts[0].ID != kept.ID {
			t.Errorf("ListTenants after a delete = %v", ts)
		}
		if ts, total, _ := f.S.FindTenants(f.Ctx, licensehooks.TenantFilter{}); len(ts) != 1 || total != 1 {
			t.Errorf("FindTenants after a delete: %d tenants, total %d", len(ts), total)
		}
		c, err := f.S.GetCredential(f.Ctx, cred.ClientID)
		must(t, err, "GetCredential of a deleted tenant's credential")
		if c.RevokedAt == nil || !c.RevokedAt.Equal(at) {
			t.Errorf("the deleted tenant's credential is revoked at %v, want %v", c.RevokedAt, at)
		}
		if ids, _ := f.S.RevokedCredentials(f.Ctx, at); len(ids) != 1 || ids[0] != cred.ClientID {
			t.Errorf("RevokedCredentials = %v, want the deleted tenant's credential", ids)
		}
		if ls, _, _ := f.S.ListListeners(f.Ctx, licensehooks.ListenerFilter{TenantID: gone.ID}); len(ls) != 0 {
			t.Errorf("the deleted tenant still has %d listeners", len(ls))
		}
		_, err = f.S.GetPortalLink(f.Ctx, link.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetPortalLink of a deleted tenant")
		// Its external id is free again.
		must(t, f.S.CreateTenant(f.Ctx, &licensehooks.Tenant{ID: "t_again", Name: "again", ExternalID: "acct-gone", CreatedAt: Base}), "CreateTenant with a deleted tenant's external id")
		// Nothing of it is claimed and sent: its pending deliveries lost their listener.
		for _, c := range f.Claim("w", Base.Add(3*time.Hour), 100) {
			if c.Delivery.TenantID == gone.ID {
				t.Errorf("a deleted tenant's delivery %s was claimed", c.Delivery.ID)
			}
		}
		if ids, _ := f.S.DeletedTenants(f.Ctx); len(ids) != 1 || ids[0] != gone.ID {
			t.Errorf("DeletedTenants = %v, want [%s]", ids, gone.ID)
		}
		total := 0
		for i := 0; ; i++ {
			n, err := f.S.PurgeTenant(f.Ctx, gone.ID, 2)
			must(t, err, "PurgeTenant")
			if n > 2 {
				t.Fatalf("PurgeTenant(limit 2) deleted %d rows", n)
			}
			if n == 0 {
				break
			}
			total += n
			if i > 20 {
				t.Fatal("PurgeTenant never finishes")
			}
		}
		if total != 3+3+1 { // events, deliveries, attempts
			t.Errorf("PurgeTenant deleted %d rows, want 7", total)
		}
		if ids, _ := f.S.DeletedTenants(f.Ctx); len(ids) != 0 {
			t.Errorf("DeletedTenants after the purge = %v", ids)
		}
		_, err = f.S.GetDelivery(f.Ctx, gone.ID, deliveries[1])
		wantCode(t, err, licensehooks.ENOTFOUND, "GetDelivery after the purge")
		if _, n, _ := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: kept.ID}); n != 3 {
			t.Errorf("the kept tenant has %d deliveries after another's purge, want 3", n)
		}
		_, err = f.S.PurgeTenant(f.Ctx, "t_missing", 10)
		wantCode(t, err, licensehooks.ENOTFOUND, "PurgeTenant of a missing tenant")
	},
	"PortalLinks": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		link := &licensehooks.PortalLink{ID: "plk_1", TenantID: tn.ID, ReadOnly: true, ReturnURL: "https://app.example.com/",
			CreatedAt: Base, ExpiresAt: Base.Add(10 * time.Minute)}
		must(t, f.S.CreatePortalLink(f.Ctx, link), "CreatePortalLink")
		wantCode(t, f.S.CreatePortalLink(f.Ctx, &licensehooks.PortalLink{ID: "plk_2", TenantID: "t_missing", CreatedAt: Base, ExpiresAt: Base.Add(time.Minute)}),
			licensehooks.ENOTFOUND, "CreatePortalLink of a missing tenant")
		got, err := f.S.GetPortalLink(f.Ctx, link.ID)
		must(t, err, "GetPortalLink")
		if got.TenantID != tn.ID || !got.ReadOnly || got.ReturnURL != link.ReturnURL || !got.ExpiresAt.Equal(link.ExpiresAt) || got.UsedAt != nil {
			t.Errorf("GetPortalLink = %+v", got)
		}
		_, err = f.S.UsePortalLink(f.Ctx, "plk_missing", Base)
		wantCode(t, err, licensehooks.ENOTFOUND, "UsePortalLink of a missing link")
		usedAt := Base.Add(time.Minute)
		used, err := f.S.UsePortalLink(f.Ctx, link.ID, usedAt)
		must(t, err, "UsePortalLink")
		if used.UsedAt == nil || !used.UsedAt.Equal(usedAt) || used.TenantID != tn.ID {
			t.Errorf("UsePortalLink = %+v", used)
		}
		_, err = f.S.UsePortalLink(f.Ctx, link.ID, usedAt)
		wantCode(t, err, licensehooks.ECONFLICT, "UsePortalLink twice")

		late := &licensehooks.PortalLink{ID: "plk_late", TenantID: tn.ID, CreatedAt: Base, ExpiresAt: Base.Add(time.Minute)}
		must(t, f.S.CreatePortalLink(f.Ctx, late), "CreatePortalLink")
		_, err = f.S.UsePortalLink(f.Ctx, late.ID, Base.Add(time.Minute))
		wantCode(t, err, licensehooks.ECONFLICT, "UsePortalLink at its expiry")

		end := Base.Add(time.Hour)
		must(t, f.S.EndPortalSession(f.Ctx, link.ID, end), "EndPortalSession")
		must(t, f.S.EndPortalSession(f.Ctx, link.ID, Base), "EndPortalSession earlier")
		got, _ = f.S.GetPortalLink(f.Ctx, link.ID)
		if got.SessionsEndedAt == nil || !got.SessionsEndedAt.Equal(end) {
			t.Errorf("SessionsEndedAt = %v, want %v", got.SessionsEndedAt, end)
		}
		wantCode(t, f.S.EndPortalSession(f.Ctx, "plk_missing", end), licensehooks.ENOTFOUND, "EndPortalSession of a missing link")
	},
}
