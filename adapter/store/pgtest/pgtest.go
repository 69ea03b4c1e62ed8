// Package pgtest runs a throwaway PostgreSQL server for tests: Debian's `postgresql` binaries
// (initdb, then postgres as a child process) on a fresh data directory in a temp dir, listening only on a unix socket in
// that directory (no TCP, so parallel test binaries never collide), trust authentication for
// the local superuser. When the process runs as root the server runs as the `postgres` system
// user (initdb refuses root).
//
// A test binary starts one server (lazily, stopped in TestMain) and gives every test a database
// of its own (CreateDB, or the cheaper CreateSchema). Start returns ErrUnavailable when the
// binaries are missing; callers skip then.
package pgtest

import (
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
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnavailable: the PostgreSQL server binaries are not installed.
var ErrUnavailable = errors.New("pgtest: PostgreSQL binaries not found (apt-get install -y postgresql)")

// Superuser is the role the server is initialised with and that tests connect as.
const Superuser = "postgres"

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir, bin string
	cred     *syscall.Credential // the postgres user's, when the process runs as root
	port     int
	n        atomic.Int64
	postgres *exec.Cmd     // the postmaster, a child of this process
	exited   chan struct{} // closed when it has exited
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

// Start initialises a data directory under a new temp dir and starts the server on it, as a
// child process that the kernel stops if this process dies without calling Stop (parent-death
// signal), so a test binary that panics or times out leaves no server behind. Stop removes it.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, port: 20000 + rand.IntN(40000), exited: make(chan struct{})}
	parent := ""
	if os.Geteuid() == 0 {
		if s.cred, err = credentialOf(Superuser); err != nil {
			return nil, err
		}
		// The server's user must reach the directory: /tmp, not a TMPDIR that may sit under
		// root's home (and the path stays short: unix socket paths are limited).
		parent = "/tmp"
	}
	if s.dir, err = os.MkdirTemp(parent, "cti-pgtest-"); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			s.Stop()
			return nil, err
		}
	}
	if err := s.initdb(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// credentialOf is the uid and gid of a system user.
func credentialOf(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs the %q user (installed with postgresql): %w", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// command is one of the server's programs, run as the server's user.
func (s *Server) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

func (s *Server) initdb(ctx context.Context) error {
	cmd := s.command(ctx, "initdb", "-D", filepath.Join(s.dir, "data"), "-U", Superuser, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w: %s", err, out)
	}
	return nil
}

// start runs the postmaster in the foreground (no pg_ctl daemon) and waits until it accepts
// connections on its socket.
func (s *Server) start(ctx context.Context) error {
	log, err := os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	// Not CommandContext: the server outlives ctx, which bounds only the start.
	cmd := s.command(context.Background(), "postgres", "-D", filepath.Join(s.dir, "data"),
		"-c", "listen_addresses=", "-c", "unix_socket_directories="+s.dir, "-p", strconv.Itoa(s.port),
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT // immediate shutdown if this process dies
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.postgres = cmd
	go func() { _ = cmd.Wait(); close(s.exited) }()
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-s.exited:
			out, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			return fmt.Errorf("pgtest: postgres exited at start: %s", out)
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres not accepting connections: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
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

// Stop stops the server (fast shutdown: SIGINT, then SIGKILL after a minute) and removes its
// directory.
func (s *Server) Stop() {
	if s.postgres != nil {
		_ = s.postgres.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(time.Minute):
			_ = s.postgres.Process.Kill()
			<-s.exited
		}
	}
	_ = os.RemoveAll(s.dir)
}

// Tool runs one of PostgreSQL's client programs (pg_dump, pg_restore, psql, ...) of the
// server's version, as this process's user, and returns its combined output.
func (s *Server) Tool(ctx context.Context, prog string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("pgtest: %s: %w: %s", prog, err, out)
	}
	return out, nil
}
