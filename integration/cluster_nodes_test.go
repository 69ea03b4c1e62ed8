package integration

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// A cluster of real cti-adapter processes (the binary built by TestMain), each with its embedded
// NATS server routed to the others, sharing one PostgreSQL database (docs/cluster.md).

const clusterSecret = "cluster-integration-secret-cluster-integration"

type clusterNode struct {
	id, dir string
	args    []string
	proc    *proc
	stderr  *syncBuffer
}

type testCluster struct {
	t     *testing.T
	dsn   string
	nodes []*clusterNode
}

func clusterEnv() []string { return append(cleanEnv(), "CTI_JWT_SECRET="+clusterSecret) }

// startCluster starts n nodes at once (a clustered NATS server completes its start only once it
// has met its routes) and waits until each listens.
func startTestCluster(t *testing.T, n int) *testCluster { return startTestClusterArgs(t, n, nil) }

// startTestClusterArgs is startTestCluster with extra arguments for node i (extra may be nil).
func startTestClusterArgs(t *testing.T, n int, extra func(i int) []string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, dsn: startPostgres(t)}
	var routes []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, ln.Addr().String())
		ln.Close()
	}
	for i := range n {
		nd := &clusterNode{id: fmt.Sprintf("node-%c", 'a'+i), dir: t.TempDir()}
		nd.args = []string{"--addr", "127.0.0.1:0", "--data-dir", nd.dir, "--postgres", c.dsn, "--no-demo",
			"--rtc-loopback", "--nats-embed", "--node-id", nd.id, "--nats-cluster-listen", routes[i],
			"--nats-cluster", strings.Join(routes, ",")}
		if extra != nil {
			nd.args = append(nd.args, extra(i)...)
		}
		c.nodes = append(c.nodes, nd)
	}
	ready := make(chan error, n)
	for _, nd := range c.nodes {
		go func() { ready <- c.launch(nd) }()
	}
	for range n {
		if err := <-ready; err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// launch starts nd's process and waits (2 min at most) until it listens.
func (c *testCluster) launch(nd *clusterNode) error {
	cmd := exec.Command(bin, nd.args...)
	cmd.Env = clusterEnv()
	nd.stderr = new(syncBuffer)
	cmd.Stdout = io.Discard
	pipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := newProc(cmd, new(syncBuffer))
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			nd.stderr.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		p.awaitExit()
	}()
	c.t.Cleanup(p.reap)
	select {
	case a := <-addr:
		p.base = "http://" + a
		nd.proc = p
		return nil
	case err := <-p.done:
		return fmt.Errorf("%s exited before listening: %v\n%s", nd.id, err, nd.stderr.String())
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		return fmt.Errorf("%s did not listen within 2 min:\n%s", nd.id, nd.stderr.String())
	}
}

type readyz struct {
	Status   string   `json:"status"`
	Node     string   `json:"node"`
	Members  []string `json:"members"`
	Accounts []string `json:"accounts"`
}

func (c *testCluster) readyz(nd *clusterNode) (readyz, error) {
	var r readyz
	res, err := http.Get(nd.proc.base + "/readyz")
	if err != nil {
		return r, err
	}
	defer res.Body.Close()
	err = json.NewDecoder(res.Body).Decode(&r)
	return r, err
}

// owner waits (ceiling d) until exactly one of the live nodes reports acct among its accounts,
// with members members, and returns it.
func (c *testCluster) owner(acct string, members int, d time.Duration, live ...*clusterNode) *clusterNode {
	c.t.Helper()
	if live == nil {
		live = c.nodes
	}
	deadline := time.Now().Add(d)
	for {
		var owners []*clusterNode
		ok := true
		for _, nd := range live {
			r, err := c.readyz(nd)
			if err != nil || r.Status != "ready" || len(r.Members) != members {
				ok = false
				break
			}
			for _, a := range r.Accounts {
				if a == acct {
					owners = append(owners, nd)
				}
			}
		}
		if ok && len(owners) == 1 {
			return owners[0]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no single owner of %q among %d members after %s (owners %d)", acct, members, d, len(owners))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *testCluster) mint(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(bin, append(append([]string{"token"}, args...), "--postgres", c.dsn, "--data-dir", c.t.TempDir())...)
	cmd.Env = clusterEnv()
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("token %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func (c *testCluster) addAccount(name string) {
	c.t.Helper()
	cmd := exec.Command(bin, "account", "add", name, "--postgres", c.dsn, "--data-dir", c.t.TempDir())
	cmd.Env = clusterEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("account add %s: %v %s", name, err, out)
	}
}

// jti is a token's id (the vox room is named after it).
func jti(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		ID string `json:"jti"`
	}
	if err != nil || json.Unmarshal(b, &claims) != nil {
		t.Fatalf("token payload: %v", err)
	}
	return claims.ID
}

// rest sends a request to base and returns status, the CTI-Node header and the body.
func rest(t *testing.T, method, url, token, body string) (int, string, []byte) {
	t.Helper()
	code, h, b := restHeaders(t, method, url, token, body)
	return code, h.Get("CTI-Node"), b
}

// restHeaders is rest with every response header.
func restHeaders(t *testing.T, method, url, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func (c *testCluster) vox(nd *clusterNode, acct, token string, resume int64) *voxClient {
	c.t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		c.t.Fatal(err)
	}
	s := &voxServer{URL: nd.proc.base, client: &http.Client{Transport: &http.Transport{}}, reg: reg}
	return s.connect(c.t, acct, jti(c.t, token), token, resume)
}

// events reads frames of client until it has n events (of any name), ceiling d.
func nextEvents(t *testing.T, cl *voxClient, n int, d time.Duration) []frame {
	t.Helper()
	var out []frame
	deadline := time.Now().Add(d)
	for len(out) < n {
		f := cl.next(time.Until(deadline))
		if f.Seq > 0 {
			out = append(out, f)
		}
	}
	return out
}
