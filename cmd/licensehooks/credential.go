package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/service"
)

func credentialGroup(ctx context.Context) *group {
	return &group{name: "credential", about: "manage API credentials (client id and secret)", subs: []*subcommand{
		{command{name: "credential create", synopsis: "--tenant ID | --operator [--scopes S,...] [--name NAME] [--json]",
			about: "Creates a credential and prints its client id and secret (shown once). A tenant credential (--tenant) acts on its " +
				"tenant; an operator credential (--operator) on any tenant named by N-TenantId, and holds " + licensehooks.ScopeTenantsAdmin +
				" (the operator API) by default."},
			func(c *command, args []string) error { return runCredentialCreate(ctx, c, args) }},
		{command{name: "credential list", synopsis: "[--tenant ID] [--json]", about: "Lists the credentials, of one tenant with --tenant; never their secrets."},
			func(c *command, args []string) error { return runCredentialList(ctx, c, args) }},
		{command{name: "credential revoke", synopsis: "CLIENT_ID [--json]", args: []string{"CLIENT_ID"},
			about: "Revokes a credential: it gets no new tokens, and the tokens it holds stop within seconds on every node."},
			func(c *command, args []string) error { return runCredentialRevoke(ctx, c, args) }},
	}}
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

func runCredentialCreate(ctx context.Context, c *command, args []string) error {
	a := newAdminCmd(c)
	tenantID := a.fs.String("tenant", "", "the tenant the credential acts for")
	operator := a.fs.Bool("operator", false, "create an operator credential, which acts on any tenant named by N-TenantId")
	scopeList := a.fs.String("scopes", "", "comma-separated scopes (default: "+strings.Join(licensehooks.AllScopes, ",")+
		"; for --operator also "+licensehooks.ScopeTenantsAdmin+")")
	name := a.fs.String("name", "", "a name to recognise the credential by")
	if _, err := c.parse(a.fs, args); err != nil {
		return err
	}
	if *operator == (*tenantID != "") {
		return c.usageErr("give exactly one of --tenant ID or --operator")
	}
	if *scopeList == "" && !a.set("scopes") {
		*scopeList = strings.Join(licensehooks.AllScopes, ",")
		if *operator {
			*scopeList = strings.Join(licensehooks.OperatorScopes, ",")
		}
	}
	scopes, err := auth.ParseScopes(*scopeList)
	switch {
	case err != nil:
		return c.usageErr("--scopes: %s", err)
	case !*operator && slices.Contains(scopes, licensehooks.ScopeTenantsAdmin):
		return c.usageErr("%s is held by operator credentials only (--operator)", licensehooks.ScopeTenantsAdmin)
	case len(scopes) == 0:
		return c.usageErr("--scopes is empty")
	}
	env, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer env.store.Close()
	var cred *licensehooks.Credential
	var secret string
	if *operator {
		// Operator credentials are made here only, never through the API.
		cred, secret = auth.NewCredential("", *name, scopes, time.Now())
		err = env.store.CreateCredential(ctx, cred)
	} else {
		// The operator API's code: the same checks of the tenant and the name.
		cred, secret, err = env.svc.CreateCredential(ctx, *tenantID, service.CredentialInput{Name: name, Scopes: scopes})
	}
	if err != nil {
		return c.serviceErr(err)
	}
	if env.json {
		return env.printJSON(credJSON(cred, secret))
	}
	fmt.Fprintf(env.out, "Client ID:     %s\nClient secret: %s   (shown once: keep it safe)\nScopes:        %s\n",
		cred.ClientID, secret, strings.Join(cred.Scopes, " "))
	return nil
}

func runCredentialList(ctx context.Context, c *command, args []string) error {
	a := newAdminCmd(c)
	tenantID := a.fs.String("tenant", "", "list only this tenant's credentials")
	if _, err := c.parse(a.fs, args); err != nil {
		return err
	}
	env, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer env.store.Close()
	cs, err := env.store.ListCredentials(ctx, *tenantID)
	if err != nil {
		return err
	}
	if env.json {
		out := make([]credentialJSON, 0, len(cs))
		for _, c := range cs {
			out = append(out, credJSON(c, ""))
		}
		return env.printJSON(out)
	}
	w := tabwriter.NewWriter(env.out, 0, 4, 2, ' ', 0)
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

func runCredentialRevoke(ctx context.Context, c *command, args []string) error {
	a := newAdminCmd(c)
	pos, err := c.parse(a.fs, args)
	if err != nil {
		return err
	}
	env, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer env.store.Close()
	clientID := pos[0]
	if err := env.store.RevokeCredential(ctx, clientID, time.Now()); err != nil {
		return fmt.Errorf("revoke %s: %s", clientID, licensehooks.ErrorMessage(err))
	}
	if env.json {
		cred, err := env.store.GetCredential(ctx, clientID)
		if err != nil {
			return err
		}
		return env.printJSON(credJSON(cred, ""))
	}
	fmt.Fprintf(env.out, "Revoked %s: it gets no new tokens, its console sessions end at once, and running servers refuse its tokens within %s.\n",
		clientID, auth.DefaultRevocationRefresh)
	return nil
}
