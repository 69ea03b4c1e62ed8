package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/bridge"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// nextFailure waits for the next FAILURE response from mark on and checks its errorMessage.
func nextFailure(t *testing.T, c *bclient, from int, want ...string) bmsg {
	t.Helper()
	m := c.waitFor(from, "a FAILURE response", func(m bmsg) bool { return m.Header.Type == "cti.response" })
	if m.Header.Result != "FAILURE" {
		t.Fatalf("%s: want FAILURE, got %s", c.name, m.raw)
	}
	for _, w := range want {
		if !strings.Contains(m.Header.ErrorMessage, w) {
			t.Fatalf("%s: errorMessage lacks %q: %s", c.name, w, m.raw)
		}
	}
	return m
}

// TestBridgeBadFrames: frames that are not JSON, lack a header or a requestId, name an unknown
// destination, message or type, break a body schema or exceed 64 KiB are answered FAILURE, once,
// echoing what they carried, and the connection goes on working.
func TestBridgeBadFrames(t *testing.T) {
	e := newBridgeEnv(t, "full")
	for _, tr := range []string{"ws", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			var c *bclient
			if tr == "ws" {
				c = e.ws("")
			} else {
				c = e.tcpClient()
			}
			d := login(t, c, "a1", e.token(auth.RoleAgent, "a1"))
			big := `{"header":{"type":"cti.query","name":"control.query.init","target":"CTI.CONTROL","requestId":"big"},"body":{"pad":"` + strings.Repeat("x", 70<<10) + `"}}`
			for _, f := range []struct {
				what, raw, name, reqID string
				want                   []string
			}{
				{"truncated JSON", `{"header":`, "unknown", "unknown", []string{"not valid JSON"}},
				{"empty", ``, "unknown", "unknown", []string{"not valid JSON"}},
				{"an array", `[1,2]`, "unknown", "unknown", []string{"JSON object"}},
				{"no header", `{"body":{}}`, "unknown", "unknown", []string{"invalid message", "header"}},
				{"no requestId", `{"header":{"type":"cti.query","name":"session.query.init","target":"` + d.sid + `"}}`, "session.query.init", "unknown", []string{"requestId"}},
				{"unknown destination", `{"header":{"type":"cti.query","name":"channel.query.init","target":"nope.voice.phone","requestId":"r1"}}`, "channel.query.init", "r1", []string{"unknown channel target"}},
				{"unknown interaction", `{"header":{"type":"cti.query","name":"interaction.query.init","target":"` + d.channel + `.c404","requestId":"r2"}}`, "interaction.query.init", "r2", []string{"no such interaction"}},
				{"unknown name", `{"header":{"type":"cti.request","name":"conversation.request.fly","target":"` + d.channel + `","requestId":"r3"}}`, "conversation.request.fly", "r3", []string{"unknown message name"}},
				{"wrong type", `{"header":{"type":"cti.query","name":"channel.request.ready","target":"` + d.channel + `","requestId":"r4"}}`, "channel.request.ready", "r4", []string{"is a cti.request"}},
				{"an event", `{"header":{"type":"cti.event","name":"conversation.held","target":"` + d.channel + `"}}`, "conversation.held", "unknown", []string{"not accepted"}},
				{"schema violation", `{"header":{"type":"cti.request","name":"channel.request.notready","target":"` + d.channel + `","requestId":"r5"},"body":{"reason":"lunch!"}}`, "channel.request.notready", "r5", []string{"invalid body", "reason"}},
				{"body on a bodiless query", `{"header":{"type":"cti.query","name":"session.query.init","target":"` + d.sid + `","requestId":"r6"},"body":{"x":1}}`, "session.query.init", "r6", []string{"takes no properties"}},
				{"message to a destination of another kind", `{"header":{"type":"cti.query","name":"channel.query.init","target":"` + d.sid + `","requestId":"r7"}}`, "channel.query.init", "r7", []string{"unknown channel target"}},
				{"control message elsewhere", `{"header":{"type":"cti.query","name":"control.query.init","target":"X.CONTROL","requestId":"r8"}}`, "control.query.init", "r8", []string{"CTI.CONTROL"}},
				{"over 64 KiB", big, "unknown", "unknown", []string{"exceeds", "64 KiB"}},
			} {
				mk := d.mark()
				d.sendRaw([]byte(f.raw))
				m := nextFailure(t, d.bclient, mk, f.want...)
				if m.Header.Name != f.name || m.Header.RequestID != f.reqID {
					t.Fatalf("%s: FAILURE echoes name %q requestId %q: %s", f.what, m.Header.Name, m.Header.RequestID, m.raw)
				}
				// still alive, and nothing else was answered
				if s := d.query("channel.query.init", d.channel); s.str("state") == "" {
					t.Fatalf("%s: connection unusable afterwards", f.what)
				}
			}
			if tr == "ws" {
				mk := d.mark()
				ws := c.f.(*wsFramer).ws
				if err := ws.Write(context.Background(), websocket.MessageBinary, []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
				nextFailure(t, d.bclient, mk, "binary frames")
				d.query("channel.query.init", d.channel)
				return
			}
			// TCP: an over-size length prefix is refused at the framing layer: FAILURE, the
			// payload is skipped, the stream goes on
			tf := c.f.(*tcpFramer)
			frame := make([]byte, 4+80<<10)
			binary.BigEndian.PutUint32(frame, 80<<10)
			mk := d.mark()
			if err := tf.writeRaw(frame); err != nil {
				t.Fatal(err)
			}
			nextFailure(t, d.bclient, mk, "81920 bytes exceeds")
			d.query("channel.query.init", d.channel)
			// a prefix beyond 16 MiB cannot be skipped: FAILURE, then the connection is closed
			mk = d.mark()
			if err := tf.writeRaw([]byte{0x7f, 0, 0, 0}); err != nil {
				t.Fatal(err)
			}
			nextFailure(t, d.bclient, mk, "exceeds", "closed")
			d.waitClosed()
		})
	}
}

// TestBridgeLoginRules: tokens on both transports, requests before login, a second login.
func TestBridgeLoginRules(t *testing.T) {
	e := newBridgeEnv(t, "full")
	// WebSocket: a bad token is refused before the upgrade
	for tok, status := range map[string]int{"garbage": 401, e.token(auth.RoleIntegrator, "crm"): 403} {
		res, err := http.Get(e.url + "/bridge?access_token=" + tok)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != status {
			t.Fatalf("token %.10s...: status %d, want %d", tok, res.StatusCode, status)
		}
	}
	c := e.tcpClient()
	c.do("cti.query", "session.query.init", "s1", nil, "FAILURE")
	if m := c.refused("channel.request.ready", "s1.voice.phone", nil, "not logged in"); m.Header.Target != "s1.voice.phone" {
		t.Fatalf("echo: %s", m.raw)
	}
	c.refused("control.request.login", control, map[string]string{}, "token is required")
	c.refused("control.request.login", control, map[string]string{"token": "a.b.c"}, "invalid token")
	c.refused("control.request.login", control, map[string]string{"token": e.token(auth.RoleIntegrator, "crm")}, "agent tokens only")
	d := login(t, c, "a1", e.token(auth.RoleAgent, "a1"))
	if again := c.request("control.request.login", control, map[string]string{"token": e.token(auth.RoleAgent, "a1")}); again.str("session") != d.sid {
		t.Fatalf("second login of the same agent: %s", again.raw)
	}
	c.refused("control.request.login", control, map[string]string{"token": e.token(auth.RoleAgent, "a2")}, "logged in as a1")
	// WebSocket with a URL token: login may leave the token out
	w := e.ws(e.token(auth.RoleAgent, "a2"))
	login(t, w, "a2", "")
}

// TestBridgeShutdown: at shutdown every connection is told (control.shutdown on an initialised
// control destination) and closed: WebSocket with 1001, TCP by closing the stream.
func TestBridgeShutdown(t *testing.T) {
	e := newBridgeEnv(t, "full")
	w := login(t, e.ws(e.token(auth.RoleAgent, "a1")), "a1", "")
	c := login(t, e.tcpClient(), "a2", e.token(auth.RoleAgent, "a2"))
	mw, mc := w.mark(), c.mark()
	ctx, cancel := context.WithTimeout(context.Background(), bwait)
	defer cancel()
	if err := e.srv.Conns.Close(ctx); err != nil {
		t.Fatal(err)
	}
	w.event(mw, "control.shutdown", control)
	c.event(mc, "control.shutdown", control)
	if code := w.waitClosed(); code != websocket.StatusGoingAway {
		t.Fatalf("WebSocket close code %d, want 1001", code)
	}
	c.waitClosed()
}

// TestBridgeTLS: the TCP listener speaks TLS when given a certificate.
func TestBridgeTLS(t *testing.T) {
	e := newBridgeEnv(t, "full")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := selfSigned(t, certFile, keyFile)
	b := bridge.New(bridge.Deps{Auth: e.srv.Auth, Hub: e.srv.Hub, Core: e.srv.Core, Users: e.srv.Store, Schemas: e.srv.Schemas, Conns: e.srv.Conns})
	ln, err := b.ListenTCP("127.0.0.1:0", certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = ln.Serve() }()
	t.Cleanup(func() { ln.Close(); <-served })
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: bwait}, "tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	c := newBClient(t, "tls", &tcpFramer{nc: nc}, e.srv.Schemas)
	login(t, c, "a1", e.token(auth.RoleAgent, "a1"))
}

func selfSigned(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestBridgeBinaryTCP: the real binary serves the bridge on --bridge-addr with the processor
// name of --processor, and closes bridge connections at SIGTERM.
func TestBridgeBinaryTCP(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	dir := t.TempDir()
	p := startServer(t, dir, "--bridge-addr", addr, "--processor", "PBX")
	out, errOut, code := cli(t, "token", "--account", "demo", "--role", "agent", "--user", "agent1", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("token: %d %s", code, errOut)
	}
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	c := dialBridgeTCP(t, addr, reg)
	r := c.request("control.request.login", "PBX.CONTROL", map[string]string{"token": strings.TrimSpace(out)})
	if ci := c.query("control.query.init", "PBX.CONTROL"); ci.str("mode") != "full" || ci.str("session") != r.str("session") {
		t.Fatalf("control.query.init: %s", ci.raw)
	}
	if m := c.do("cti.query", "control.query.init", "CTI.CONTROL", nil, "FAILURE"); !strings.Contains(m.Header.ErrorMessage, "PBX.CONTROL") {
		t.Fatalf("wrong processor: %s", m.raw)
	}
	p.stop(t)
	c.waitClosed()
}
