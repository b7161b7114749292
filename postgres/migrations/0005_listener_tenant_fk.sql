-- A listener belongs to a tenant that exists, as in the SQLite store
-- (creating one for an unknown tenant is ENOTFOUND). NOT VALID adds the key
-- without checking the rows already there, so the migration cannot fail on
-- an old listener whose tenant is gone (none is expected: no tenant is ever
-- deleted); the key is then validated when no such listener exists, and
-- every new or changed row is checked either way.
ALTER TABLE listeners ADD CONSTRAINT listeners_tenant_fk
    FOREIGN KEY (tenant_id) REFERENCES tenants (id) NOT VALID;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM listeners l
                   WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = l.tenant_id)) THEN
        ALTER TABLE listeners VALIDATE CONSTRAINT listeners_tenant_fk;
    END IF;
END
$$;
