package config

// bindPostgres registers --postgres: with it the node keeps accounts, users, tokens, trunks,
// settings, call records (and, until a cluster event log replaces it, the event log) in that
// PostgreSQL database instead of <data-dir>/cti.db. The DSN may hold a password: prefer the
// environment twin or a ~/.pgpass file (PGPASSFILE) to a flag that `ps` shows; the adapter
// never logs it.
func (b *binder) bindPostgres(c *Config) {
	b.str(&c.Postgres, "postgres", "CTI_POSTGRES",
		"PostgreSQL DSN (postgres://user@host/db or key=value form) of the store shared by the nodes of a cluster (empty: SQLite in the data dir)")
}
