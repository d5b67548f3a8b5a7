#!/usr/bin/env bash
# Makes the built-in prompts (SPEC §7): speaks each text with espeak-ng, converts it with sox to
# 8 kHz mono G.711 µ-law WAV in Sources/Audio/Prompts/, which SwiftPM embeds in the binary
# (`.embedInCode` in Package.swift), so the server stays one file. The WAV files are committed; run
# this again only to change a prompt (a new prompt also needs its case in BuiltInPrompt and its
# line in Package.swift).
#   apt-get install -y espeak-ng sox
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y espeak-ng sox" >&2; exit 2; }
done

# name|text — the names are the cases of BuiltInPrompt. The rating prompt does not name the
# highest key: a queue may allow 1…5 or 1…9, and the same prompt must be true for both.
prompts=(
    "ratingPrompt|Please rate this conversation by pressing a key on your phone. One is the lowest rating; the higher the number, the better."
    "ratingFinish|Thank you for your rating. Goodbye."
    "invalidKey|Sorry, that key is not valid."
)

folder=Sources/Audio/Prompts
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$folder"

for entry in "${prompts[@]}"; do
    name=${entry%%|*}
    text=${entry#*|}
    # US English at a calm pace; normalised to -3 dBFS, a short silence after the words.
    espeak-ng -v en-us -s 145 -w "$scratch/$name.raw.wav" "$text"
    sox "$scratch/$name.raw.wav" -r 8000 -c 1 -e u-law -b 8 "$folder/$name.wav" gain -n -3 pad 0.1 0.3
    echo "$folder/$name.wav: $(stat -c %s "$folder/$name.wav") bytes — $text"
done

