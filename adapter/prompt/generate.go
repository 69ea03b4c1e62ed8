package prompt

import (
	"context"
	"errors"
	"fmt"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Put speaks text in voice and stores it as the account's prompt name (created reports whether
// it is new). A refused input (InputError), an engine that is missing (ErrNoTTS), busy (ErrBusy)
// or over the account's rate (ErrRateLimited) changes nothing: the old prompt keeps playing.
func (l *Library) Put(ctx context.Context, account, name, text, voice string) (p store.Prompt, created bool, err error) {
	if err := CheckName(name); err != nil {
		return store.Prompt{}, false, err
	}
	if text, err = CleanText(text); err != nil {
		return store.Prompt{}, false, err
	}
	if voice == "" {
		voice = DefaultVoice
	}
	if !ValidVoice(voice) {
		return store.Prompt{}, false, &InputError{"voice", "must be one of the listed voices"}
	}
	if err := l.admit(account, name); err != nil {
		return store.Prompt{}, false, err
	}
	clip, err := l.speak(ctx, text, voice)
	if err != nil {
		return store.Prompt{}, false, err
	}
	p = store.Prompt{Account: account, Name: name, Voice: voice, Text: text, Audio: clip}
	if created, err = l.store.PutPrompt(ctx, p); err != nil {
		return store.Prompt{}, false, err
	}
	now := l.now()
	l.mu.Lock()
	if old, ok := l.clips[account][name]; ok {
		p.CreatedAt = old.CreatedAt
	} else {
		p.CreatedAt = now
	}
	p.UpdatedAt = now
	if l.clips[account] == nil {
		l.clips[account] = map[string]store.Prompt{}
	}
	l.clips[account][name] = p
	l.mu.Unlock()
	l.log.Info("prompt generated", "account", account, "name", name, "voice", voice, "ms", len(clip)*1000/Rate)
	return p, created, nil
}

// admit counts a generation against the account's rate and its prompt count.
func (l *Library) admit(account, name string) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.clips[account][name]; !ok && len(l.clips[account]) >= MaxPerAcct {
		return &InputError{"name", fmt.Sprintf("the account already has %d prompts (the most): delete one first", MaxPerAcct)}
	}
	recent := l.runs[account][:0]
	for _, t := range l.runs[account] {
		if now.Sub(t) < rateWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= RatePerMin {
		l.runs[account] = recent
		return ErrRateLimited
	}
	l.runs[account] = append(recent, now)
	return nil
}

// speak runs the engine, one generation at a time, and bounds the clip's length.
func (l *Library) speak(ctx context.Context, text, voice string) ([]byte, error) {
	wait, cancel := context.WithTimeout(ctx, maxQueueWait)
	defer cancel()
	select {
	case l.engine <- struct{}{}:
	case <-wait.Done():
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrBusy
	}
	defer func() { <-l.engine }()
	start := l.now()
	clip, err := l.speaker.Speak(ctx, text, voice)
	if err != nil {
		if !errors.Is(err, ErrNoTTS) {
			l.log.Warn("text-to-speech failed", "voice", voice, "err", err)
		}
		return nil, err
	}
	l.log.Debug("text-to-speech", "chars", len(text), "took", l.now().Sub(start))
	if len(clip) > MaxAudio {
		return nil, &InputError{"text", fmt.Sprintf("would take %d seconds to say; at most %d", len(clip)/Rate, MaxAudio/Rate)}
	}
	return clip, nil
}

// Delete removes the account's prompt name: the shipped prompt of that name, if any, plays again.
func (l *Library) Delete(ctx context.Context, account, name string) error {
	if err := l.store.DeletePrompt(ctx, account, name); err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.clips[account], name)
	l.mu.Unlock()
	return nil
}
