package prompt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// ErrNoTTS is returned when the text-to-speech engine is not installed.
var ErrNoTTS = errors.New("text-to-speech is not installed on this server (Debian package espeak-ng)")

// Voices are the espeak-ng voices an admin may choose (a small allow-list: the languages
// espeak-ng speaks well enough for a greeting). The first is the default.
var Voices = []string{"en-us", "en-gb", "fr-fr", "de", "es", "it", "nl", "pt-br"}

// DefaultVoice is the voice of a prompt that names none.
const DefaultVoice = "en-us"

// ValidVoice reports whether v is on the allow-list.
func ValidVoice(v string) bool { return slices.Contains(Voices, v) }

// synthTimeout bounds one espeak-ng run (500 characters take well under a second).
const synthTimeout = 20 * time.Second

// Espeak speaks text with the espeak-ng program.
type Espeak struct {
	// Path is the program (empty: "espeak-ng" looked up on PATH at each call, so that installing
	// the package later needs no restart).
	Path string
}

// Speak runs espeak-ng on text in voice and returns the result as 8 kHz µ-law, shaped as the
// shipped prompts are (webrtc/prompts/generate.sh): telephone band 200-3400 Hz, peak at
// -3 dBFS, 150 ms of silence before and 100 ms after. The text goes on stdin, never on the
// command line, so that no text is read as an option.
func (e Espeak) Speak(ctx context.Context, text, voice string) ([]byte, error) {
	if !ValidVoice(voice) {
		return nil, fmt.Errorf("prompt: voice %q is not one of %s", voice, strings.Join(Voices, ", "))
	}
	bin := e.Path
	if bin == "" {
		bin = "espeak-ng"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, ErrNoTTS
	}
	ctx, cancel := context.WithTimeout(ctx, synthTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--stdout", "-v", voice, "-s", "155", "-a", "120")
	cmd.Stdin = strings.NewReader(text)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("prompt: espeak-ng: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	pcm, err := ParseWAV(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("prompt: espeak-ng output: %w", err)
	}
	return Telephone(pcm), nil
}

// Telephone shapes speech for the phone: 8 kHz, band-limited, normalised, padded, µ-law.
func Telephone(pcm PCM) []byte {
	s := Resample(pcm, Rate, 3400)
	s = Normalize(HighPass(s, Rate, 200), 3)
	padded := make([]int16, Rate*150/1000+len(s)+Rate*100/1000)
	copy(padded[Rate*150/1000:], s)
	return audio.Encode(make([]byte, len(padded)), padded)
}
