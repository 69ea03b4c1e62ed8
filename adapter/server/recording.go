package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
)

// RecordingsDir is the recordings' directory under the data dir (docs/recording.md).
const RecordingsDir = "recordings"

// openRecordings returns the recordings store of the data dir, after marking recordings that a
// previous process left unfinished as interrupted (with headers covering what is on disk).
func openRecordings(dataDir string, log *slog.Logger) *recording.Store {
	s := recording.New(filepath.Join(dataDir, RecordingsDir), log)
	if n, err := s.Recover(time.Now()); err != nil {
		log.Warn("recordings: recover", "err", err)
	} else if n > 0 {
		log.Warn("recordings interrupted by the previous process", "count", n)
	}
	return s
}

// recorder is the core's Recorder over the store.
func recorder(s *recording.Store) core.Recorder {
	return func(acct, callID string, at time.Time) core.Recording { return s.Start(acct, callID, at) }
}

// recordingRetention deletes recordings past each account's recording_retention, hourly.
func (s *Server) recordingRetention(ctx context.Context) {
	s.Recordings.RunRetention(ctx, clock.Real(), time.Hour, func(acct string) time.Duration {
		st, err := s.Accounts.Settings(ctx, acct)
		if err != nil {
			return 0 // unknown account (deleted?): keep its files for the operator
		}
		return st.Retention()
	})
}
