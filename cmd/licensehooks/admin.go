package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"licensehooks"
	"licensehooks/auth"
)

// adminEnv is what an administration command needs: the store and the key.
type adminEnv struct {
	store licensehooks.Store
	mk    *licensehooks.MasterKey
	out   io.Writer
	json  bool
}

// adminFlags returns the flag set of an administration command with the
// flags they all take: the store's and --json.
func adminFlags(name string) (*flag.FlagSet, *storeFlags, *bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	sf := &storeFlags{shared: true} // beside a running serve: no serving lock
	sf.register(fs)
	return fs, sf, fs.Bool("json", false, "print JSON")
}

func openAdmin(ctx context.Context, sf *storeFlags, asJSON bool) (*adminEnv, error) {
	st, mk, err := sf.openWithKey(ctx)
	if err != nil {
		return nil, err
	}
	return &adminEnv{store: st, mk: mk, out: os.Stdout, json: asJSON}, nil
}

func (e *adminEnv) printJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// tenantJSON is how the CLI prints a tenant.
type tenantJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

func runTenant(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: licensehooks tenant create --name NAME | tenant list")
	}
	fs, sf, asJSON := adminFlags("tenant " + args[0])
	name := fs.String("name", "", "tenant name (create)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	env, err := openAdmin(ctx, sf, *asJSON)
	if err != nil {
		return err
	}
	defer env.store.Close()
	switch args[0] {
	case "create":
		return env.createTenant(ctx, *name)
	case "list":
		return env.listTenants(ctx)
	}
	return fmt.Errorf("unknown tenant command %q (create, list)", args[0])
}

func (e *adminEnv) createTenant(ctx context.Context, name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return errors.New("tenant create: --name is required")
	}
	t, err := licensehooks.NewTenant(name, e.mk, time.Now())
	if err != nil {
		return err
	}
	if err := e.store.CreateTenant(ctx, t); err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	if e.json {
		return e.printJSON(tenantJSON{t.ID, t.Name, t.CreatedAt})
	}
	fmt.Fprintf(e.out, "Created tenant %s (%s)\n", t.ID, t.Name)
	return nil
}

func (e *adminEnv) listTenants(ctx context.Context) error {
	ts, err := e.store.ListTenants(ctx)
	if err != nil {
		return err
	}
	if e.json {
		out := make([]tenantJSON, 0, len(ts))
		for _, t := range ts {
			out = append(out, tenantJSON{t.ID, t.Name, t.CreatedAt})
		}
		return e.printJSON(out)
	}
	w := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tCREATED")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

// credentialJSON is how the CLI prints a credential; the secret only once,
// at creation.
type credentialJSON struct {
	ClientID     string     `json:"clientId"`
	ClientSecret string     `json:"clientSecret,omitempty"`
	TenantID     string     `json:"tenantId,omitempty"`
	Operator     bool       `json:"operator"`
	Name         string     `json:"name,omitempty"`
	Scopes       []string   `json:"scopes"`
	CreatedAt    time.Time  `json:"createdAt"`
	RevokedAt    *time.Time `json:"revokedAt,omitempty"`
}

func credJSON(c *licensehooks.Credential, secret string) credentialJSON {
	return credentialJSON{c.ClientID, secret, c.TenantID, c.Operator(), c.Name, c.Scopes, c.CreatedAt, c.RevokedAt}
}

func runCredential(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: licensehooks credential create|list|revoke")
	}
	fs, sf, asJSON := adminFlags("credential " + args[0])
	tenant := fs.String("tenant", "", "tenant id (create: the tenant the credential acts for; list: filter)")
	operator := fs.Bool("operator", false, "create an operator credential, which acts on any tenant named by N-TenantId")
	scopes := fs.String("scopes", "", "comma-separated scopes (default: "+strings.Join(licensehooks.AllScopes, ",")+
		"; for --operator also "+licensehooks.ScopeTenantsAdmin+")")
	name := fs.String("name", "", "a name to recognise the credential by")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	// Flags may follow the client id too: credential revoke ID --data D.
	var positional []string
	for fs.NArg() > 0 {
		positional = append(positional, fs.Arg(0))
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	env, err := openAdmin(ctx, sf, *asJSON)
	if err != nil {
		return err
	}
	defer env.store.Close()
	switch args[0] {
	case "create":
		return env.createCredential(ctx, *tenant, *operator, *scopes, *name)
	case "list":
		return env.listCredentials(ctx, *tenant)
	case "revoke":
		if len(positional) != 1 {
			return errors.New("usage: licensehooks credential revoke CLIENT_ID")
		}
		return env.revokeCredential(ctx, positional[0])
	}
	return fmt.Errorf("unknown credential command %q (create, list, revoke)", args[0])
}

func (e *adminEnv) createCredential(ctx context.Context, tenantID string, operator bool, scopeList, name string) error {
	if operator == (tenantID != "") {
		return errors.New("credential create: give exactly one of --tenant ID or --operator")
	}
	if scopeList == "" {
		scopeList = strings.Join(licensehooks.AllScopes, ",")
		if operator {
			scopeList = strings.Join(licensehooks.OperatorScopes, ",")
		}
	}
	scopes, err := auth.ParseScopes(scopeList)
	if err != nil {
		return fmt.Errorf("credential create: %w", err)
	}
	if !operator && slices.Contains(scopes, licensehooks.ScopeTenantsAdmin) {
		return fmt.Errorf("credential create: %s is held by operator credentials only (--operator)", licensehooks.ScopeTenantsAdmin)
	}
	if len(scopes) == 0 {
		return errors.New("credential create: --scopes is empty")
	}
	if !operator {
		if _, err := e.store.GetTenant(ctx, tenantID); err != nil {
			return fmt.Errorf("credential create: tenant %s: %s", tenantID, licensehooks.ErrorMessage(err))
		}
	}
	c, secret := auth.NewCredential(tenantID, name, scopes, time.Now())
	if err := e.store.CreateCredential(ctx, c); err != nil {
		return fmt.Errorf("create credential: %w", err)
	}
	if e.json {
		return e.printJSON(credJSON(c, secret))
	}
	fmt.Fprintf(e.out, "Client ID:     %s\nClient secret: %s   (shown once: keep it safe)\nScopes:        %s\n",
		c.ClientID, secret, strings.Join(c.Scopes, " "))
	return nil
}

func (e *adminEnv) listCredentials(ctx context.Context, tenantID string) error {
	cs, err := e.store.ListCredentials(ctx, tenantID)
	if err != nil {
		return err
	}
	if e.json {
		out := make([]credentialJSON, 0, len(cs))
		for _, c := range cs {
			out = append(out, credJSON(c, ""))
		}
		return e.printJSON(out)
	}
	w := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLIENT ID\tTENANT\tSCOPES\tCREATED\tREVOKED")
	for _, c := range cs {
		tenant, revoked := c.TenantID, ""
		if c.Operator() {
			tenant = "(operator)"
		}
		if c.RevokedAt != nil {
			revoked = c.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.ClientID, tenant, strings.Join(c.Scopes, ","), c.CreatedAt.Format(time.RFC3339), revoked)
	}
	return w.Flush()
}

func (e *adminEnv) revokeCredential(ctx context.Context, clientID string) error {
	if err := e.store.RevokeCredential(ctx, clientID, time.Now()); err != nil {
		return fmt.Errorf("revoke %s: %s", clientID, licensehooks.ErrorMessage(err))
	}
	if e.json {
		c, err := e.store.GetCredential(ctx, clientID)
		if err != nil {
			return err
		}
		return e.printJSON(credJSON(c, ""))
	}
	fmt.Fprintf(e.out, "Revoked %s: it gets no new tokens; tokens already issued expire within %s.\n", clientID, auth.DefaultTTL)
	return nil
}
