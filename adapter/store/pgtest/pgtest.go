// Package pgtest runs a throwaway PostgreSQL server for tests: Debian's `postgresql` binaries
// (initdb, pg_ctl) on a fresh data directory in a temp dir, listening only on a unix socket in
// that directory (no TCP, so parallel test binaries never collide), trust authentication for
// the local superuser. When the process runs as root the server runs as the `postgres` system
// user (initdb refuses root), through runuser.
//
// A test binary starts one server in TestMain and gives every test a database of its own
// (CreateDB). Start returns ErrUnavailable when the binaries are missing; callers skip then.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnavailable: the PostgreSQL server binaries are not installed.
var ErrUnavailable = errors.New("pgtest: PostgreSQL binaries not found (apt-get install -y postgresql)")

// Superuser is the role the server is initialised with and that tests connect as.
const Superuser = "postgres"

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir, bin, runAs string
	port            int
	n               atomic.Int64
}

// binDir finds the newest /usr/lib/postgresql/<version>/bin holding initdb, or a PG_BIN override.
func binDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrUnavailable
}

// Start initialises a data directory under a new temp dir and starts the server on it. Stop
// removes it.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, port: 20000 + rand.IntN(40000)}
	if os.Geteuid() == 0 {
		s.runAs = Superuser
	}
	// As root the server runs as another user, who must reach the directory: /tmp, not a
	// TMPDIR that may sit under root's home (and stays short: unix socket paths are limited).
	parent := ""
	if s.runAs != "" {
		parent = "/tmp"
	}
	if s.dir, err = os.MkdirTemp(parent, "cti-pgtest-"); err != nil {
		return nil, err
	}
	if err := s.chown(s.dir); err != nil {
		s.Stop()
		return nil, err
	}
	data := filepath.Join(s.dir, "data")
	if err := s.run(ctx, "initdb", "-D", data, "-U", Superuser, "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync"); err != nil {
		s.Stop()
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories='%s' -p %d "+
		"-c max_connections=200 -c shared_buffers=32MB", s.dir, s.port)
	if err := s.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60",
		"-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return s, nil
}

// chown gives dir to the user the server runs as.
func (s *Server) chown(dir string) error {
	if s.runAs == "" {
		return nil
	}
	u, err := user.Lookup(s.runAs)
	if err != nil {
		return fmt.Errorf("pgtest: running as root needs the %q user (installed with postgresql): %w", s.runAs, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// run runs one of the server's programs (as runAs when set) and returns its output on failure.
func (s *Server) run(ctx context.Context, prog string, args ...string) error {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s: %w: %s", prog, err, out.String())
	}
	return nil
}

// DSN is the connection string of database db on the server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.dir, s.port, Superuser, db)
}

// CreateDB creates a new empty database with a unique name (prefix_N) and returns its DSN.
func (s *Server) CreateDB(ctx context.Context, prefix string) (string, error) {
	name := s.name(prefix)
	if err := s.admin(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// CreateSchema creates a new empty schema (prefix_N) in the postgres database and returns a DSN
// whose search_path is that schema: a private namespace, far cheaper than a database (which
// copies a template), for tests that only need tables of their own.
func (s *Server) CreateSchema(ctx context.Context, prefix string) (string, error) {
	name := s.name(prefix)
	if err := s.admin(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create schema %s: %w", name, err)
	}
	return s.DSN("postgres") + " search_path=" + name, nil
}

func (s *Server) name(prefix string) string { return fmt.Sprintf("%s_%d", prefix, s.n.Add(1)) }

// admin runs one statement in the postgres database.
func (s *Server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop stops the server (fast shutdown) and removes its directory.
func (s *Server) Stop() {
	if _, err := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop")
		cancel()
	}
	_ = os.RemoveAll(s.dir)
}
