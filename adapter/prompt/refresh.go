package prompt

import (
	"context"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Refresh brings this node's copy in line with the store: it reads every prompt's stamp (no
// audio) and reloads the accounts whose prompts were added, replaced or deleted elsewhere (by
// another node of a cluster). It never holds the library's lock while it reads.
func (l *Library) Refresh(ctx context.Context) error {
	stamps, err := l.store.PromptStamps(ctx)
	if err != nil {
		return err
	}
	want := map[string]map[string]int64{}
	for _, s := range stamps {
		if want[s.Account] == nil {
			want[s.Account] = map[string]int64{}
		}
		want[s.Account][s.Name] = s.UpdatedAt.UnixMilli()
	}
	for _, acct := range l.stale(want) {
		if _, err := l.List(ctx, acct); err != nil {
			return err
		}
	}
	return nil
}

// stale lists the accounts whose copy differs from the stamps in want.
func (l *Library) stale(want map[string]map[string]int64) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []string
	for acct, names := range want {
		if !sameStamps(l.clips[acct], names) {
			out = append(out, acct)
		}
	}
	for acct, have := range l.clips {
		if _, ok := want[acct]; !ok && len(have) > 0 {
			out = append(out, acct)
		}
	}
	return out
}

func sameStamps(have map[string]store.Prompt, want map[string]int64) bool {
	if len(have) != len(want) {
		return false
	}
	for name, ms := range want {
		if p, ok := have[name]; !ok || p.UpdatedAt.UnixMilli() != ms {
			return false
		}
	}
	return true
}

// Run refreshes every interval until ctx ends (a cluster's nodes: a prompt generated on one is
// played by the others within the interval).
func (l *Library) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Refresh(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("refresh prompts", "err", err)
			}
		}
	}
}
