package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// migrations are the schema steps; migrations[i] brings the schema to version i+1. Steps are
// append-only: never edit one that has shipped, add a new one.
var migrations = []string{
	// 1: accounts, users, tokens.
	`CREATE TABLE accounts (
		name       TEXT PRIMARY KEY,
		settings   TEXT NOT NULL,
		created_at INTEGER NOT NULL
	) WITHOUT ROWID;

	CREATE TABLE users (
		account    TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
		id         TEXT NOT NULL,
		name       TEXT NOT NULL,
		extension  TEXT, -- NULL when the user has none; NULLs never collide in the unique index
		queues     TEXT NOT NULL, -- JSON array of strings
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (account, id)
	) WITHOUT ROWID;
	CREATE UNIQUE INDEX users_extension ON users (account, extension);

	-- Token ids (jti) are unique across accounts: the revocation list is a set of ids.
	CREATE TABLE tokens (
		id         TEXT PRIMARY KEY,
		account    TEXT NOT NULL,
		role       TEXT NOT NULL,
		subject    TEXT NOT NULL,
		issued_at  INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		revoked_at INTEGER
	) WITHOUT ROWID;
	CREATE INDEX tokens_expires ON tokens (expires_at);
	CREATE INDEX tokens_revoked ON tokens (revoked_at) WHERE revoked_at IS NOT NULL;`,

	// 2: call records and the per-user index used to filter them.
	`CREATE TABLE calls (
		account      TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
		id           TEXT NOT NULL,
		direction    TEXT NOT NULL,
		source       TEXT NOT NULL,
		phone        TEXT NOT NULL,
		display_name TEXT NOT NULL,
		queue        TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		state        TEXT NOT NULL,
		media        TEXT NOT NULL, -- JSON array
		variables    TEXT NOT NULL, -- JSON object
		legs         TEXT NOT NULL, -- JSON array
		parties      TEXT NOT NULL, -- JSON array
		created_at   INTEGER NOT NULL,
		answered_at  INTEGER,
		ended_at     INTEGER,
		end_reason   TEXT NOT NULL,
		ended_by     TEXT NOT NULL,
		fail_code    INTEGER NOT NULL,
		PRIMARY KEY (account, id)
	) WITHOUT ROWID;
	CREATE INDEX calls_newest ON calls (account, created_at DESC, id DESC);

	CREATE TABLE call_users (
		account    TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		created_at INTEGER NOT NULL, -- copy of calls.created_at for keyset pagination
		call_id    TEXT NOT NULL,
		PRIMARY KEY (account, user_id, created_at, call_id),
		FOREIGN KEY (account, call_id) REFERENCES calls (account, id) ON DELETE CASCADE
	) WITHOUT ROWID;
	CREATE INDEX call_users_call ON call_users (account, call_id);`,

	// 3: the durable event log and the last seq of every account (kept when events are pruned).
	`CREATE TABLE events (
		account TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		ts      INTEGER NOT NULL, -- Unix ms
		name    TEXT NOT NULL,
		data    BLOB,
		PRIMARY KEY (account, seq)
	) WITHOUT ROWID;
	CREATE INDEX events_ts ON events (ts);

	CREATE TABLE event_seqs (
		account  TEXT PRIMARY KEY,
		last_seq INTEGER NOT NULL
	) WITHOUT ROWID;`,

	// 4: SIP trunks and their numbers (unique across accounts); see trunks.go.
	trunksMigration,

	// 5: when each token was last used (tokens.go, TouchTokens), and the disposition an agent
	// gave a call in wrap-up (calls.go; JSON, '' for none).
	`ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
	ALTER TABLE calls ADD COLUMN disposition TEXT NOT NULL DEFAULT '';`,

	// 6: consult calls (docs/consult.md): a consult call's record names its primary, and a
	// primary's record lists its consult calls (JSON array of ids).
	`ALTER TABLE calls ADD COLUMN consult_of TEXT NOT NULL DEFAULT '';
	ALTER TABLE calls ADD COLUMN consults TEXT NOT NULL DEFAULT '[]';`,

	// 7: chats and their messages, a projection of the chat events (chats.go).
	chatsMigration,

	// 8: where each account's chat projection stands in a cluster (chats_project.go).
	chatProjectionMigration,

	// 9: prompts generated from text (prompts.go, adapter/prompt).
	promptsMigration,

	// 10: a call is listed under its current/last agent by an index on the calls row itself;
	// call_users keeps only the call's other users (parties), so a call with one agent (most)
	// writes no call_users row (calls.go, callsQuery).
	callUsersMigration,
}

// migrate brings the schema of db to version target (at most len(migrations)). Each step runs in
// its own write transaction that re-reads the version, so two processes opening a fresh file at
// once apply every step exactly once.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger, target int) error {
	if target > len(migrations) {
		return fmt.Errorf("store: migrate: target version %d > %d", target, len(migrations))
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	for {
		done, err := migrateStep(ctx, db, log, target)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateStep applies the next pending step, if any, and reports whether the target is reached.
func migrateStep(ctx context.Context, db *sql.DB, log *slog.Logger, target int) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return false, fmt.Errorf("store: migrate: read version: %w", err)
	}
	if v > len(migrations) {
		return false, fmt.Errorf("store: database schema version %d is newer than this binary knows (%d)", v, len(migrations))
	}
	if v >= target {
		return true, tx.Rollback()
	}
	next := v + 1
	if _, err := tx.ExecContext(ctx, migrations[next-1]); err != nil {
		return false, fmt.Errorf("store: migration %d: %w", next, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		next, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("store: migration %d: record: %w", next, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: migration %d: commit: %w", next, err)
	}
	log.Info("schema migrated", "version", next)
	return next >= target, nil
}

// schemaVersion returns the highest applied migration.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
