-- Every claim added an entry to this index and every outcome removed it,
-- for one rare statement: releasing all of an owner's leases at once.
DROP INDEX deliveries_leased;
