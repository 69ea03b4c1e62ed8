#!/bin/sh
# Regenerates the IVR prompt assets (raw 8 kHz mono G.711 µ-law, no header) from text.
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox). The generated *.ulaw
# files are committed, so building and testing never needs these tools.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { # name text
	espeak-ng -v en-us -s 155 -a 120 -w "$tmp/$1.wav" "$2"
	# Resample to 8 kHz, telephone band, normalise to -3 dBFS, 150 ms of lead-in silence.
	sox "$tmp/$1.wav" -r 8000 -c 1 -e mu-law -t raw "$1.ulaw" \
		highpass 200 lowpass 3400 norm -3 pad 0.15 0.1
}

say welcome "Thank you for calling. For sales, press 1. For support, press 2."
say queue "All our agents are busy. Please hold."
say unavailable "Sorry, no agent is available. Goodbye."
say invalid "Sorry, that is not a valid choice."
ls -l ./*.ulaw
