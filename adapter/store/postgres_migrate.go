package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The migrations are one numbered list (migrations, in migrate.go) written in portable SQL
// (TEXT, INTEGER, BLOB; no SQLite-only tricks beyond WITHOUT ROWID). PostgreSQL runs the
// same text translated by postgresDDL, unless postgresMigrations holds a text of its own for
// that version (a dialect per migration, for the rare step that cannot be written portably).
var postgresMigrations = map[int]string{}

var (
	reWithoutRowID = regexp.MustCompile(`\)\s*WITHOUT\s+ROWID`)
	reInteger      = regexp.MustCompile(`\bINTEGER\b`)
	reBlob         = regexp.MustCompile(`\bBLOB\b`)
	reText         = regexp.MustCompile(`\bTEXT\b`)
)

// postgresDDL translates a portable SQLite migration: WITHOUT ROWID goes (PostgreSQL tables
// have no rowid), INTEGER becomes BIGINT (the Unix-ms times need 64 bits; SQLite's INTEGER is
// 64-bit already), BLOB becomes BYTEA, and TEXT gets COLLATE "C" (byte order, as SQLite's
// BINARY collation, whatever the database's locale).
func postgresDDL(sqlite string) string {
	s := reWithoutRowID.ReplaceAllString(sqlite, ")")
	s = reInteger.ReplaceAllString(s, "BIGINT")
	s = reBlob.ReplaceAllString(s, "BYTEA")
	return reText.ReplaceAllString(s, `TEXT COLLATE "C"`)
}

// postgresMigration is the PostgreSQL text of migration version (1-based).
func postgresMigration(version int) string {
	if s, ok := postgresMigrations[version]; ok {
		return s
	}
	return postgresDDL(migrations[version-1])
}

// migrateLockKey is the advisory lock that serialises migrations between nodes ("cti-migr").
const migrateLockKey = 0x6374692d6d696772

// migrate brings the schema to version target, one transaction per step, each holding the
// advisory lock and re-reading the version: nodes starting at once apply every step once.
func (p *Postgres) migrate(ctx context.Context, target int) error {
	if target > len(migrations) {
		return fmt.Errorf("store: migrate: target version %d > %d", target, len(migrations))
	}
	for {
		var done bool
		err := p.inTx(ctx, func(tx pgx.Tx) (err error) {
			done, err = p.migrateStep(ctx, tx, target)
			return err
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func (p *Postgres) migrateStep(ctx context.Context, tx pgx.Tx, target int) (done bool, err error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLockKey)); err != nil {
		return false, fmt.Errorf("store: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return false, fmt.Errorf("store: migrate: read version: %w", err)
	}
	if v > len(migrations) {
		return false, fmt.Errorf("store: database schema version %d is newer than this binary knows (%d)", v, len(migrations))
	}
	if v >= target {
		return true, nil
	}
	next := v + 1
	// Several statements in one text: the simple protocol runs them all (no parameters).
	if _, err := tx.Exec(ctx, postgresMigration(next), pgx.QueryExecModeSimpleProtocol); err != nil {
		return false, fmt.Errorf("store: migration %d: %w", next, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		next, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("store: migration %d: record: %w", next, err)
	}
	p.log.Info("schema migrated", "version", next)
	return next >= target, nil
}

// schemaVersion returns the highest applied migration.
func (p *Postgres) schemaVersion(ctx context.Context) (int, error) {
	var v int
	err := p.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// pgPlaceholders numbers the ? placeholders of q as $1, $2, ... (q holds no ? in literals).
func pgPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
