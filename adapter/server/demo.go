package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// DemoAccount is the account created on a new data dir.
const DemoAccount = "demo"

// Demo is what EnsureDemo made.
type Demo struct {
	AdminToken  string
	Agent1Token string // agent1's token, for the softphone and demo CRM links of the banner
}

// EnsureDemo creates the demo account (mode full, agents agent1 and agent2, the public URL as an
// allowed origin) if it does not exist. It returns nil when the account already existed, so the
// admin token is printed only once, on the first start.
func (s *Server) EnsureDemo(ctx context.Context) (*Demo, error) {
	created, err := s.Accounts.Create(ctx, DemoAccount, account.ModeFull)
	if err != nil || !created {
		return nil, err
	}
	origin := s.BaseURL()
	if u, err := url.Parse(origin); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	patch := fmt.Sprintf(`{"allowed_origins":[%q]}`, origin)
	if _, err := s.Accounts.Update(ctx, DemoAccount, []byte(patch)); err != nil {
		return nil, err
	}
	for i, name := range []string{"Agent One", "Agent Two"} {
		u := store.User{Account: DemoAccount, ID: fmt.Sprintf("agent%d", i+1), Name: name,
			Extension: fmt.Sprintf("100%d", i+1), Queues: []string{"sales", "support"}}
		if _, err := s.Store.PutUser(ctx, u); err != nil {
			return nil, err
		}
	}
	m, err := s.Auth.Mint(ctx, auth.MintRequest{Account: DemoAccount, Role: auth.RoleAdmin, Subject: "demo-admin", TTL: 30 * 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	a1, err := s.Auth.Mint(ctx, auth.MintRequest{Account: DemoAccount, Role: auth.RoleAgent, Subject: "agent1", TTL: 30 * 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	return &Demo{AdminToken: m.Token, Agent1Token: a1.Token}, nil
}

// Banner is the text printed once after the demo account was created: links that work as they
// are (tokens in the URL fragment, which never reaches a server log) and CLI hints that name the
// data dir when it is not the default.
func (s *Server) Banner(d *Demo) string {
	base := s.BaseURL()
	dir := ""
	if s.Config.DataDir != config.Default().DataDir {
		dir = " --data-dir " + s.Config.DataDir
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\ncti-adapter created the demo account %q (mode full, agents agent1 and agent2).\n", DemoAccount)
	fmt.Fprintf(&b, "Admin token (shown once, valid 30 days; mint more with `cti-adapter token%s --account demo --role admin`):\n\n  %s\n\n", dir, d.AdminToken)
	fmt.Fprintf(&b, "Open (click; each link signs in):\n")
	fmt.Fprintf(&b, "  Start page       %s/\n", base)
	fmt.Fprintf(&b, "  Admin            %s/admin#token=%s\n", base, d.AdminToken)
	fmt.Fprintf(&b, "  agent1 softphone %s/softphone#token=%s\n", base, d.Agent1Token)
	fmt.Fprintf(&b, "  agent1 demo CRM  %s/demo/crm#token=%s\n", base, d.Agent1Token)
	fmt.Fprintf(&b, "  Demo customer    %s/demo/customer\n", base)
	fmt.Fprintf(&b, "  JS shim          %s/static/cti.js (module: /static/cti.mjs, types: /static/cti.d.ts, /static/cti.d.mts)\n", base)
	fmt.Fprintf(&b, "  Agent tokens     cti-adapter token%s --account demo --role agent --user agent2\n", dir)
	fmt.Fprintf(&b, "  API description  %s/api/v1/openapi.json\n", base)
	fmt.Fprintf(&b, "  Users            curl -H 'Authorization: Bearer %s' %s/api/v1/users\n", d.AdminToken, base)
	fmt.Fprintf(&b, "  Health, metrics  %s/healthz  %s/metrics\n\n", base, base)
	return b.String()
}
