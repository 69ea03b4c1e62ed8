package cluster

// Account settings on every node (docs/cluster.md "Settings on every node"). Each node caches
// the settings of the accounts it serves (account.Directory): the mode checked on every command,
// the allowed origins of /rtc and the web call tokens, the page's frame ancestors. A settings
// change is written by the account's owner (a PUT is forwarded there), which caches it and
// appends settings_changed; every other node takes the new settings from that event as its feed
// delivers it (FollowSettings), before fanning it out, so a client told of the change already
// gets the new settings from this node. Should a node miss one (a change committed whose event
// never reached the log), ReloadSettings re-reads the store periodically.

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// SettingsReload is how often a node re-reads the settings from the store (ReloadSettings).
const SettingsReload = 5 * time.Second

// SettingsCache is where a node keeps the settings (account.Directory).
type SettingsCache interface {
	Changed(account string, settings json.RawMessage) error
	Generation() uint64
	Reload(account string, settings json.RawMessage, since uint64) (bool, error)
}

// FollowSettings returns h whose Deliver first hands the settings of each settings_changed event
// it is about to fan out (committed by another node) to cache.
func FollowSettings(h Hub, cache SettingsCache, lg *slog.Logger) Hub {
	return &settingsHub{Hub: h, cache: cache, lg: lg, applied: map[string]int64{}}
}

type settingsHub struct {
	Hub
	cache SettingsCache
	lg    *slog.Logger

	mu      sync.Mutex       // guards applied
	applied map[string]int64 // account -> seq of the last settings_changed cached
}

// Deliver: see Hub. Only events above the account's head are new here (the owner has fanned out,
// and cached, its own changes already), and only the newest settings_changed seen wins, so a
// replayed older change never replaces a newer one.
func (s *settingsHub) Deliver(evs []event.Event) (string, int64, bool) {
	heads := map[string]int64{}
	for i := range evs {
		ev := &evs[i]
		if ev.Name != event.SettingsChanged {
			continue
		}
		head, ok := heads[ev.Account]
		if !ok {
			head = s.Hub.Head(ev.Account)
			heads[ev.Account] = head
		}
		if ev.Seq > head {
			s.apply(ev)
		}
	}
	return s.Hub.Deliver(evs)
}

func (s *settingsHub) apply(ev *event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Seq <= s.applied[ev.Account] {
		return
	}
	var d struct {
		Settings json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil || len(d.Settings) == 0 {
		s.lg.Error("settings_changed without settings", "account", ev.Account, "seq", ev.Seq, "err", err)
		return
	}
	if err := s.cache.Changed(ev.Account, d.Settings); err != nil {
		s.lg.Error("settings_changed: undecodable settings", "account", ev.Account, "seq", ev.Seq, "err", err)
		return
	}
	s.applied[ev.Account] = ev.Seq
}

// AccountLister reads every account with its settings (the store).
type AccountLister interface {
	Accounts(ctx context.Context) ([]store.Account, error)
}

// ReloadSettings re-reads every account's settings from st each period until ctx ends and puts
// those that differ from the cache in it (a change whose settings_changed this node never got).
func ReloadSettings(ctx context.Context, st AccountLister, cache SettingsCache, period time.Duration, lg *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		since := cache.Generation() // what is cached after the read is newer than the read
		rctx, cancel := context.WithTimeout(ctx, period)
		accts, err := st.Accounts(rctx)
		cancel()
		if err != nil {
			lg.Warn("settings reload", "err", err)
			continue
		}
		for _, a := range accts {
			if changed, err := cache.Reload(a.Name, a.Settings, since); err != nil {
				lg.Error("settings reload: undecodable settings", "account", a.Name, "err", err)
			} else if changed {
				lg.Warn("settings reloaded from the store: this node had missed a change", "account", a.Name)
			}
		}
	}
}
