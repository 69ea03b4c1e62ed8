package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Decode returns the events of one stream message of account acct.
func Decode(acct string, hdrSeq string, data []byte) ([]event.Event, error) {
	first, err := strconv.ParseInt(hdrSeq, 10, 64)
	if err != nil || first < 1 {
		return nil, fmt.Errorf("cluster: message of %q: bad %s %q", acct, HdrSeq, hdrSeq)
	}
	n := bytes.Count(data, []byte{'\n'}) + 1
	out := make([]event.Event, 0, n)
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		var ev event.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("cluster: message of %q: %w", acct, err)
		}
		if want := first + int64(len(out)); ev.Seq != want {
			return nil, fmt.Errorf("cluster: message of %q: seq %d where %d was expected", acct, ev.Seq, want)
		}
		ev.Account, ev.Frame = acct, line
		out = append(out, ev)
	}
	return out, nil
}

func decodeRaw(acct string, m *jetstream.RawStreamMsg) ([]event.Event, error) {
	return Decode(acct, m.Header.Get(HdrSeq), m.Data)
}

// lastOf reads where acct's log ends from the stream's leader. Not by direct get (which any
// replica answers, Events): a follower behind the leader would give an older tail, and every
// append guarded by it would be refused as fenced (a takeover after the owner died right after an
// append, its last message on the leader and one replica only).
func (l *Log) lastOf(ctx context.Context, acct string) (tail, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": Subject(acct)})
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second) // a takeover reads it: under LeaseTTL
	defer cancel()
	res, err := l.js.Conn().RequestWithContext(rctx, jetstream.DefaultAPIPrefix+"STREAM.MSG.GET."+EventStream, req)
	if err != nil {
		return tail{}, fmt.Errorf("cluster: last event of %q: %w", acct, err)
	}
	var rep struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs"`
			Data   []byte `json:"data"`
		} `json:"message"`
	}
	switch err := json.Unmarshal(res.Data, &rep); {
	case err != nil:
		return tail{}, fmt.Errorf("cluster: last event of %q: %w", acct, err)
	case rep.Error != nil && rep.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return tail{}, nil
	case rep.Error != nil:
		return tail{}, fmt.Errorf("cluster: last event of %q: %w", acct, rep.Error)
	case rep.Message == nil:
		return tail{}, fmt.Errorf("cluster: last event of %q: an answer without the message", acct)
	}
	hdr, err := nats.DecodeHeadersMsg(rep.Message.Header)
	if err != nil {
		return tail{}, fmt.Errorf("cluster: last event of %q: headers: %w", acct, err)
	}
	evs, err := Decode(acct, hdr.Get(HdrSeq), rep.Message.Data)
	if err != nil {
		return tail{}, err
	}
	return tail{seq: evs[len(evs)-1].Seq, streamSeq: rep.Message.Seq, id: hdr.Get(jetstream.MsgIDHeader)}, nil
}

// LastSeqs is the last seq of every account in the stream (hub.Log). It is read once, at the
// hub's start, so each request is retried (await) while the stream's group elects a leader.
func (l *Log) LastSeqs(ctx context.Context) (map[string]int64, error) {
	var info *jetstream.StreamInfo
	if err := await(ctx, l.opts.Log, "stream info", func(actx context.Context) (err error) {
		info, err = l.stream.Info(actx, jetstream.WithSubjectFilter(SubjectPrefix+">"))
		return unlessTransient(err)
	}); err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		acct := strings.TrimPrefix(subj, SubjectPrefix)
		var t tail
		if err := await(ctx, l.opts.Log, "last event of "+acct, func(actx context.Context) (err error) {
			t, err = l.lastOf(actx, acct)
			return unlessTransient(err)
		}); err != nil {
			return nil, err
		}
		out[acct] = t.seq
	}
	return out, nil
}

// OldestSeq is the smallest seq of acct still in the stream; with none, the seq after the last
// (hub.Log, as the store answers).
func (l *Log) OldestSeq(ctx context.Context, acct string) (int64, error) {
	m, err := l.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(Subject(acct)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: oldest event of %q: %w", acct, err)
	}
	evs, err := decodeRaw(acct, m)
	if err != nil {
		return 0, err
	}
	return evs[0].Seq, nil
}

// Events reads acct's events with seq > after, oldest first, at most limit (hub.Log).
func (l *Log) Events(ctx context.Context, acct string, after int64, limit int) ([]event.Event, error) {
	if limit <= 0 {
		limit = store.DefaultEventLimit
	}
	limit = min(limit, store.MaxEventLimit)
	m, err := l.find(ctx, acct, after+1)
	if err != nil || m == nil {
		return nil, err
	}
	var out []event.Event
	for len(out) < limit {
		evs, err := decodeRaw(acct, m)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if ev.Seq > after && len(out) < limit {
				out = append(out, ev)
			}
		}
		m, err = l.stream.GetMsg(ctx, m.Sequence+1, jetstream.WithGetMsgSubject(Subject(acct)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: events of %q: %w", acct, err)
		}
	}
	return out, nil
}

// find returns acct's message that holds seq, or the first one after it if seq is no longer
// retained; nil if the account has no event at or after seq. The account's messages are in
// seq order in the stream, so a binary search over stream sequences finds it in log2(messages)
// reads.
func (l *Log) find(ctx context.Context, acct string, seq int64) (*jetstream.RawStreamMsg, error) {
	subj := Subject(acct)
	get := func(from uint64) (*jetstream.RawStreamMsg, int64, error) {
		m, err := l.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			return nil, 0, err
		}
		first, err := strconv.ParseInt(m.Header.Get(HdrSeq), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("cluster: message of %q: bad %s", acct, HdrSeq)
		}
		return m, first, nil
	}
	lo, loFirst, err := get(1)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: events of %q: %w", acct, err)
	}
	if loFirst >= seq {
		return lo, nil
	}
	last, err := l.stream.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		return nil, fmt.Errorf("cluster: events of %q: %w", acct, err)
	}
	hi := last.Sequence
	// Invariant: lo is a message of acct whose first seq is <= seq.
	for lo.Sequence < hi {
		mid := lo.Sequence + (hi-lo.Sequence+1)/2
		m, first, err := get(mid)
		if err != nil {
			return nil, fmt.Errorf("cluster: events of %q: %w", acct, err)
		}
		if first <= seq {
			lo = m
		} else {
			hi = mid - 1
		}
	}
	evs, err := decodeRaw(acct, lo)
	if err != nil {
		return nil, err
	}
	if evs[len(evs)-1].Seq < seq { // seq is in the next message (or after the log)
		m, err := l.stream.GetMsg(ctx, lo.Sequence+1, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: events of %q: %w", acct, err)
		}
		return m, nil
	}
	return lo, nil
}
