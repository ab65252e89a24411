"""Generated media, made with the real ffmpeg/espeak-ng: `media` (test videos, speech, frames
piped to an encoder) and the demo corpora built on it, `demo_corpus` (pretraining: captioned
scenes of moving shapes) and `labelled_corpus` (classification: one scene per video)."""
