package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Backend is the whole store as the rest of the adapter sees it: what the core, the hub, auth,
// the account directory, the API, recovery and the SIP trunks need. Two implementations keep
// the same contract (the same errors, orderings and idempotence, checked by one test suite run
// against both): *Store, one embedded SQLite file (the single-node default), and *Postgres, a
// PostgreSQL database shared by the nodes of a cluster. Consumers keep declaring the small
// interface of what they use (hub.Log, auth.Store, account.Store, ...); Backend is what the
// server opens and hands to them.
type Backend interface {
	Accounts
	Users
	Tokens
	Trunks
	Calls
	ChatRecords // chats.go
	PromptRecords
	EventLog

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases every connection; safe to call more than once.
	Close() error
}

// Accounts are the tenants and their opaque settings.
type Accounts interface {
	CreateAccount(ctx context.Context, name string, settings json.RawMessage) (created bool, err error)
	Account(ctx context.Context, name string) (Account, error)
	Accounts(ctx context.Context) ([]Account, error)
	SetSettings(ctx context.Context, name string, settings json.RawMessage) error
}

// Users are the agents of each account.
type Users interface {
	PutUser(ctx context.Context, u User) (created bool, err error)
	User(ctx context.Context, account, id string) (User, error)
	UserByExtension(ctx context.Context, account, ext string) (User, error)
	Users(ctx context.Context, account string) ([]User, error)
	DeleteUser(ctx context.Context, account, id string) error
}

// Tokens are the records of minted tokens and their revocations.
type Tokens interface {
	RecordToken(ctx context.Context, t Token) error
	Token(ctx context.Context, account, id string) (Token, error)
	RevokeToken(ctx context.Context, account, id string, at time.Time) error
	RevokedTokenIDs(ctx context.Context) ([]string, error)
	RevokedSince(ctx context.Context, since time.Time) ([]string, error)
	PruneTokens(ctx context.Context, now time.Time) (int64, error)
	TokensOf(ctx context.Context, account string, limit int) ([]Token, error)
	TouchTokens(ctx context.Context, uses map[string]time.Time) error
}

// Trunks are the SIP trunks of each account and the numbers they own.
type Trunks interface {
	PutTrunk(ctx context.Context, t Trunk) (created bool, err error)
	Trunks(ctx context.Context, account string) ([]Trunk, error)
	AllTrunks(ctx context.Context) ([]Trunk, error)
	TrunkByNumber(ctx context.Context, number string) (Trunk, error)
	DeleteTrunk(ctx context.Context, account, name string) error
}

// PromptRecords are the prompts each account generated from text (prompts.go).
type PromptRecords interface {
	PutPrompt(ctx context.Context, p Prompt) (created bool, err error)
	Prompts(ctx context.Context, account string) ([]Prompt, error)
	DeletePrompt(ctx context.Context, account, name string) error
	PromptStamps(ctx context.Context) ([]PromptStamp, error)
}

// Calls are the call records (CDRs).
type Calls interface {
	SaveCall(ctx context.Context, c Call) error
	Call(ctx context.Context, account, id string) (Call, error)
	Calls(ctx context.Context, account string, f CallFilter) (calls []Call, next string, err error)
	OpenCalls(ctx context.Context) ([]Call, error)
}

// EventLog is the durable per-account event log, written together with call records by
// Commit (the hub's batched writer). A cluster whose event log lives elsewhere (JetStream)
// still writes call records through Commit with no events.
type EventLog interface {
	Commit(ctx context.Context, evs []event.Event, calls []CallRow) (callErrs []error, err error)
	AppendEvents(ctx context.Context, evs []event.Event) error
	LastSeqs(ctx context.Context) (map[string]int64, error)
	Events(ctx context.Context, account string, after int64, limit int) ([]event.Event, error)
	OldestSeq(ctx context.Context, account string) (int64, error)
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
	LastStatuses(ctx context.Context) ([]AgentStatus, error)
}

var _ Backend = (*Store)(nil)
