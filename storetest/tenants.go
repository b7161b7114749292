package storetest

import (
	"slices"
	"testing"
	"time"

	"licensehooks"
)

var tenantTests = map[string]func(t *testing.T, f *Fixture){
	"CreateGet": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		got, err := f.S.GetTenant(f.Ctx, tn.ID)
		must(t, err, "GetTenant")
		checkTenant(t, got, tn)

		dup := *tn
		dup.Name = "other"
		wantCode(t, f.S.CreateTenant(f.Ctx, &dup), licensehooks.ECONFLICT, "CreateTenant with a taken id")
		_, err = f.S.GetTenant(f.Ctx, "t_missing")
		wantCode(t, err, licensehooks.ENOTFOUND, "GetTenant of a missing id")
	},
	"ListOldestFirst": func(t *testing.T, f *Fixture) {
		newer := &licensehooks.Tenant{ID: "t_newer", Name: "newer", CreatedAt: Base.Add(time.Hour)}
		older := &licensehooks.Tenant{ID: "t_older", Name: "older", CreatedAt: Base}
		must(t, f.S.CreateTenant(f.Ctx, newer), "CreateTenant")
		must(t, f.S.CreateTenant(f.Ctx, older), "CreateTenant")
		got, err := f.S.ListTenants(f.Ctx)
		must(t, err, "ListTenants")
		if len(got) != 2 || got[0].ID != older.ID || got[1].ID != newer.ID {
			t.Fatalf("ListTenants = %v, want [older newer]", got)
		}
		checkTenant(t, got[0], older)
	},
}

var credentialTests = map[string]func(t *testing.T, f *Fixture){
	"EndSessions": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		c := &licensehooks.Credential{ClientID: "lhc_sessions", TenantID: tn.ID, Name: "console",
			Scopes: licensehooks.AllScopes, SecretHash: []byte{1}, CreatedAt: Base}
		must(t, f.S.CreateCredential(f.Ctx, c), "CreateCredential")
		ended := func() *time.Time {
			got, err := f.S.GetCredential(f.Ctx, c.ClientID)
			must(t, err, "GetCredential")
			return got.SessionsEndedAt
		}
		if at := ended(); at != nil {
			t.Fatalf("a new credential has sessions ended at %v", at)
		}
		later := Base.Add(time.Hour + 123*time.Microsecond)
		must(t, f.S.EndSessions(f.Ctx, c.ClientID, later), "EndSessions")
		if at := ended(); at == nil || !at.Equal(later) {
			t.Errorf("sessions ended at %v, want %v", at, later)
		}
		must(t, f.S.EndSessions(f.Ctx, c.ClientID, Base), "EndSessions earlier")
		if at := ended(); at == nil || !at.Equal(later) {
			t.Errorf("an earlier EndSessions moved the time back to %v", at)
		}
		wantCode(t, f.S.EndSessions(f.Ctx, "lhc_missing", later), licensehooks.ENOTFOUND, "EndSessions of a missing id")
	},
	"CreateGetList": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		c1 := &licensehooks.Credential{
			ClientID: "lhc_one", TenantID: tn.ID, Name: "one",
			Scopes:     []string{licensehooks.ScopeWebhooksAdmin, licensehooks.ScopeEventsPublish},
			SecretHash: []byte{9, 8, 7}, CreatedAt: Base.Add(2 * time.Second),
		}
		op := &licensehooks.Credential{
			ClientID: "lhc_op", Name: "operator", Scopes: licensehooks.AllScopes,
			SecretHash: []byte{1}, CreatedAt: Base,
		}
		c2 := &licensehooks.Credential{
			ClientID: "lhc_two", TenantID: other.ID, Name: "two",
			Scopes: []string{licensehooks.ScopeAPIAdmin}, SecretHash: []byte{2}, CreatedAt: Base.Add(time.Second),
		}
		for _, c := range []*licensehooks.Credential{c1, op, c2} {
			must(t, f.S.CreateCredential(f.Ctx, c), "CreateCredential")
		}
		got, err := f.S.GetCredential(f.Ctx, c1.ClientID)
		must(t, err, "GetCredential")
		checkCredential(t, got, c1)
		got, err = f.S.GetCredential(f.Ctx, op.ClientID)
		must(t, err, "GetCredential")
		checkCredential(t, got, op)
		if !got.Operator() {
			t.Errorf("operator credential read back with TenantID %q", got.TenantID)
		}

		wantCode(t, f.S.CreateCredential(f.Ctx, c1), licensehooks.ECONFLICT, "CreateCredential with a taken id")
		_, err = f.S.GetCredential(f.Ctx, "lhc_missing")
		wantCode(t, err, licensehooks.ENOTFOUND, "GetCredential of a missing id")

		list, err := f.S.ListCredentials(f.Ctx, tn.ID)
		must(t, err, "ListCredentials")
		if len(list) != 1 || list[0].ClientID != c1.ClientID {
			t.Errorf("ListCredentials(tenant) = %v, want [%s]", list, c1.ClientID)
		}
		all, err := f.S.ListCredentials(f.Ctx, "")
		must(t, err, "ListCredentials")
		ids := make([]string, len(all))
		for i, c := range all {
			ids[i] = c.ClientID
		}
		if want := []string{"lhc_op", "lhc_two", "lhc_one"}; !slices.Equal(ids, want) {
			t.Errorf("ListCredentials(\"\") = %v, want %v (oldest first)", ids, want)
		}
	},
	"RevokedSince": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		mk := func(id string) *licensehooks.Credential {
			c := &licensehooks.Credential{ClientID: id, TenantID: tn.ID, Name: id,
				Scopes: []string{licensehooks.ScopeWebhooksAdmin}, SecretHash: []byte{1}, CreatedAt: Base}
			must(t, f.S.CreateCredential(f.Ctx, c), "CreateCredential")
			return c
		}
		early, late := mk("lhc_early"), mk("lhc_late")
		mk("lhc_live") // never revoked
		op := &licensehooks.Credential{ClientID: "lhc_op_rev", Name: "op", Scopes: licensehooks.AllScopes,
			SecretHash: []byte{2}, CreatedAt: Base}
		must(t, f.S.CreateCredential(f.Ctx, op), "CreateCredential operator")
		at1 := Base.Add(time.Hour + 7*time.Microsecond)
		at2 := Base.Add(2 * time.Hour)
		must(t, f.S.RevokeCredential(f.Ctx, early.ClientID, at1), "RevokeCredential")
		must(t, f.S.RevokeCredential(f.Ctx, late.ClientID, at2), "RevokeCredential")
		must(t, f.S.RevokeCredential(f.Ctx, op.ClientID, at2), "RevokeCredential operator")
		// Revoking again keeps the first time: it does not move into a later window.
		must(t, f.S.RevokeCredential(f.Ctx, early.ClientID, Base.Add(3*time.Hour)), "RevokeCredential again")
		for _, tc := range []struct {
			since time.Time
			want  []string
		}{
			{time.Time{}, []string{"lhc_early", "lhc_late", "lhc_op_rev"}},
			{Base, []string{"lhc_early", "lhc_late", "lhc_op_rev"}},
			{at1, []string{"lhc_early", "lhc_late", "lhc_op_rev"}}, // at or after: inclusive
			{at1.Add(time.Microsecond), []string{"lhc_late", "lhc_op_rev"}},
			{at2, []string{"lhc_late", "lhc_op_rev"}},
			{at2.Add(time.Microsecond), nil},
		} {
			got, err := f.S.RevokedCredentials(f.Ctx, tc.since)
			must(t, err, "RevokedCredentials")
			if !sameIDs(got, tc.want) {
				t.Errorf("RevokedCredentials(%v) = %v, want %v", tc.since, got, tc.want)
			}
		}
	},
	"Revoke": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		c := &licensehooks.Credential{
			ClientID: "lhc_rev", TenantID: tn.ID, Name: "r",
			Scopes: []string{licensehooks.ScopeWebhooksAdmin}, SecretHash: []byte{1}, CreatedAt: Base,
		}
		must(t, f.S.CreateCredential(f.Ctx, c), "CreateCredential")
		at := Base.Add(time.Hour)
		must(t, f.S.RevokeCredential(f.Ctx, c.ClientID, at), "RevokeCredential")
		got, err := f.S.GetCredential(f.Ctx, c.ClientID)
		must(t, err, "GetCredential")
		if !got.Revoked() || !got.RevokedAt.Equal(at) {
			t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, at)
		}
		wantCode(t, f.S.RevokeCredential(f.Ctx, "lhc_missing", at), licensehooks.ENOTFOUND, "RevokeCredential of a missing id")
	},
}
