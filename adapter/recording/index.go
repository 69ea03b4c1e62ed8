package recording

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// List returns the recordings of a call, oldest first (none: an empty list).
func (s *Store) List(acct, callID string) ([]Meta, error) {
	if !ValidID(acct) || !ValidID(callID) {
		return []Meta{}, nil
	}
	dir := filepath.Join(s.dir, acct, callID)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Meta{}, nil
	} else if err != nil {
		return nil, err
	}
	out := []Meta{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			m, err := readMeta(filepath.Join(dir, e.Name()), acct)
			if err != nil {
				s.log.Warn("recording: sidecar", "err", err)
				continue
			}
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Meta) int { return a.StartedAt.Compare(b.StartedAt) })
	return out, nil
}

// Open returns a finished recording's file and sidecar. A recording of another account or
// call, or an id that is not one, is ErrNotFound; one still being written is ErrInProgress.
func (s *Store) Open(acct, callID, recID string) (*os.File, Meta, error) {
	if !ValidID(acct) || !ValidID(callID) || !ValidID(recID) {
		return nil, Meta{}, ErrNotFound
	}
	base := s.base(acct, callID, recID)
	if r, ok := s.live.Load(base); ok {
		return nil, r.(*Recording).meta, ErrInProgress
	}
	m, err := readMeta(base+".json", acct)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Meta{}, ErrNotFound
	} else if err != nil {
		return nil, Meta{}, err
	}
	if m.State == StateRecording {
		return nil, m, ErrInProgress
	}
	f, err := os.Open(base + ".wav")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Meta{}, ErrNotFound
	}
	return f, m, err
}

// each calls fn for every sidecar on disk.
func (s *Store) each(fn func(base string, m Meta)) error {
	accts, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, a := range accts {
		calls, err := os.ReadDir(filepath.Join(s.dir, a.Name()))
		if err != nil {
			continue
		}
		for _, c := range calls {
			dir := filepath.Join(s.dir, a.Name(), c.Name())
			recs, _ := os.ReadDir(dir)
			for _, r := range recs {
				if name, ok := strings.CutSuffix(r.Name(), ".json"); ok {
					if m, err := readMeta(filepath.Join(dir, r.Name()), a.Name()); err == nil {
						fn(filepath.Join(dir, name), m)
					}
				}
			}
		}
	}
	return nil
}

// Recover marks the recordings a dead process left "recording" as interrupted, with a header
// that covers every whole frame on disk. Call it at start, before any recording starts.
func (s *Store) Recover(now time.Time) (int, error) {
	n := 0
	err := s.each(func(base string, m Meta) {
		if m.State != StateRecording {
			return
		}
		data, err := repair(base + ".wav")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("recording: repair", "call_id", m.CallID, "err", err)
		}
		end := m.StartedAt.Add(time.Duration(data*1000/bytesPerSec) * time.Millisecond)
		m.State, m.EndedAt, m.DurationMS, m.Bytes = StateInterrupted, &end, data*1000/bytesPerSec, headerSize+data
		if err := writeMeta(base, m); err == nil {
			n++
		}
	})
	return n, err
}

// Prune deletes the finished recordings that ended before now minus their account's retention
// (retention returns 0 or less to keep an account's recordings). It returns how many it deleted.
func (s *Store) Prune(now time.Time, retention func(acct string) time.Duration) (int, error) {
	n := 0
	err := s.each(func(base string, m Meta) {
		keep := retention(m.Account)
		if keep <= 0 || m.State == StateRecording || m.EndedAt == nil || !m.EndedAt.Before(now.Add(-keep)) {
			return
		}
		werr := os.Remove(base + ".wav")
		if werr != nil && !errors.Is(werr, fs.ErrNotExist) {
			s.log.Warn("recording: delete", "call_id", m.CallID, "err", werr)
			return
		}
		if err := os.Remove(base + ".json"); err == nil {
			n++
			_ = os.Remove(filepath.Dir(base)) // the call's directory, once empty
		}
	})
	return n, err
}
