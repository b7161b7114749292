package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"licensehooks"
	"licensehooks/service"
)

// The tenant commands go through the service the operator API calls
// (service/tenants.go), so both validate and delete alike.

func tenantGroup(ctx context.Context) *group {
	return &group{name: "tenant", about: "manage tenants (accounts)", subs: []*subcommand{
		{command{name: "tenant create", synopsis: "--name NAME [--external-id ID] [--json]",
			about: "Creates a tenant (account) with its RSA key pair. On a folder or database without a store, it creates the store " +
				"and its master key: the first run. With an --external-id a tenant holds already, it answers that tenant and creates nothing."},
			func(c *command, args []string) error { return runTenantCreate(ctx, c, args) }},
		{command{name: "tenant list", synopsis: "[--json]", about: "Lists the tenants, oldest first."},
			func(c *command, args []string) error { return runTenantList(ctx, c, args) }},
		{command{name: "tenant rename", synopsis: "ID [--name NAME] [--external-id ID] [--json]", args: []string{"ID"},
			about: "Changes a tenant's name, its external id, or both. It needs at least one of --name and --external-id " +
				"(--external-id \"\" clears it) and does what PATCH /api/v1/tenants/{id} does."},
			func(c *command, args []string) error { return runTenantRename(ctx, c, args) }},
		{command{name: "tenant delete", synopsis: "ID --yes [--json]", args: []string{"ID"},
			about: "Deletes a tenant with everything it owns. As with DELETE /api/v1/tenants/{id}, its credentials are revoked " +
				"(tokens stop within seconds on every node), its listeners, keys and portal links go, and its events, deliveries and " +
				"attempts are purged before the command returns. Without --yes it prints what would be deleted, deletes nothing and exits 2."},
			func(c *command, args []string) error { return runTenantDelete(ctx, c, args) }},
	}}
}

// tenantJSON is how the CLI prints a tenant.
type tenantJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	ExternalID string    `json:"externalId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
}

func toTenantJSON(t *licensehooks.Tenant) tenantJSON {
	return tenantJSON{t.ID, t.Name, t.ExternalID, t.CreatedAt}
}

func runTenantCreate(ctx context.Context, c *command, args []string) error {
	a := newAdminCmd(c)
	a.store.create = true // the first run: the README's path to a store
	name := a.fs.String("name", "", "the tenant's name (required)")
	ext := a.fs.String("external-id", "", "the platform's own id of the account (optional, unique)")
	if _, err := c.parse(a.fs, args); err != nil {
		return err
	}
	if !a.set("name") {
		return c.usageErr("--name is required")
	}
	in := service.TenantInput{Name: name}
	if a.set("external-id") {
		in.ExternalID = ext
	}
	env, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer env.store.Close()
	t, created, err := env.svc.CreateTenant(ctx, in)
	if err != nil {
		return c.serviceErr(err)
	}
	if env.json {
		return env.printJSON(toTenantJSON(t))
	}
	if !created {
		fmt.Fprintf(env.out, "Tenant %s (%s) holds the external id %s already: nothing created\n", t.ID, t.Name, t.ExternalID)
		return nil
	}
	fmt.Fprintf(env.out, "Created tenant %s (%s)\n", t.ID, t.Name)
	return nil
}

func runTenantList(ctx context.Context, c *command, args []string) error {
	a := newAdminCmd(c)
	if _, err := c.parse(a.fs, args); err != nil {
		return err
	}
	env, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer env.store.Close()
	ts, err := env.store.ListTenants(ctx)
	if err != nil {
		return err
	}
	if env.json {
		out := make([]tenantJSON, 0, len(ts))
		for _, t := range ts {
			out = append(out, toTenantJSON(t))
		}
		return env.printJSON(out)
	}
	w := tabwriter.NewWriter(env.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tEXTERNAL ID\tCREATED")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.ExternalID, t.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

func runTenantRename(ctx context.Context, c *command, args []string) error {
	a := newAdminCmd(c)
	name := a.fs.String("name", "", "the new name")
	ext := a.fs.String("external-id", "", "the new external id (\"\" clears it)")
	pos, err := c.parse(a.fs, args)
	if err != nil {
		return err
	}
	var in service.TenantInput
	if a.set("name") {
		in.Name = name
	}
	if a.set("external-id") {
		in.ExternalID = ext
	}
	if in.Name == nil && in.ExternalID == nil {
		return c.usageErr("give --name NAME, --external-id ID or both")
	}
	env, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer env.store.Close()
	t, err := env.svc.UpdateTenant(ctx, pos[0], in)
	if err != nil {
		return c.serviceErr(err)
	}
	if env.json {
		return env.printJSON(toTenantJSON(t))
	}
	fmt.Fprintf(env.out, "Tenant %s: name %q, external id %q\n", t.ID, t.Name, t.ExternalID)
	return nil
}

// tenantContents is what deleting a tenant deletes.
type tenantContents struct {
	Tenant            tenantJSON `json:"tenant"`
	Credentials       int        `json:"credentials"`
	ActiveCredentials int        `json:"activeCredentials"`
	Listeners         int        `json:"listeners"`
	Events            int        `json:"events"`
	Deliveries        int        `json:"deliveries"`
	Deleted           bool       `json:"deleted"`
}

func countContents(ctx context.Context, st licensehooks.Store, t *licensehooks.Tenant) (*tenantContents, error) {
	n := &tenantContents{Tenant: toTenantJSON(t)}
	cs, err := st.ListCredentials(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	n.Credentials = len(cs)
	for _, c := range cs {
		if c.RevokedAt == nil {
			n.ActiveCredentials++
		}
	}
	one := licensehooks.Page{Number: 1, Size: 1} // the totals are what is wanted
	if _, n.Listeners, err = st.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: t.ID, Page: one}); err != nil {
		return nil, err
	}
	if _, n.Events, err = st.ListEvents(ctx, licensehooks.EventFilter{TenantID: t.ID, Page: one}); err != nil {
		return nil, err
	}
	if _, n.Deliveries, err = st.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: t.ID, Page: one}); err != nil {
		return nil, err
	}
	return n, nil
}

func runTenantDelete(ctx context.Context, c *command, args []string) error {
	a := newAdminCmd(c)
	yes := a.fs.Bool("yes", false, "delete: without it, the command only prints what would be deleted")
	pos, err := c.parse(a.fs, args)
	if err != nil {
		return err
	}
	env, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer env.store.Close()
	t, err := env.svc.GetTenant(ctx, pos[0])
	if err != nil {
		return c.serviceErr(err)
	}
	n, err := countContents(ctx, env.store, t)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if *yes {
		if err := env.svc.DeleteTenant(ctx, t.ID); err != nil {
			return c.serviceErr(err)
		}
		// The service purges in the background; a command's process ends
		// now, so it purges to the end itself (else the next serve would).
		if err := env.svc.PurgeDeletedTenants(ctx); err != nil {
			return fmt.Errorf("%s: the tenant is deleted, but purging its events and deliveries failed "+
				"(the next serve finishes it): %w", c.name, err)
		}
		n.Deleted = true
	}
	if env.json {
		if err := env.printJSON(n); err != nil {
			return err
		}
	} else {
		verb := "Would delete"
		if n.Deleted {
			verb = "Deleted"
		}
		fmt.Fprintf(env.out, "%s tenant %s (%s) with everything it owns: %d credentials (%d active), %d listeners, "+
			"%d events, %d deliveries and their attempts, its keys, portal links and console sessions.\n",
			verb, t.ID, t.Name, n.Credentials, n.ActiveCredentials, n.Listeners, n.Events, n.Deliveries)
	}
	if !n.Deleted {
		return c.usageErr("nothing deleted: add --yes to delete %s", t.ID)
	}
	return nil
}
