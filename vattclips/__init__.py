"""Rules of the shard format (`vatt-clips/2`, docs/shard-format.md) that both sides of the data
contract apply: the shard builder (`pipeline/`) and the trainer (`train/`, `model/`).

Each rule lives here once, so that the builder and the loader cannot drift apart:

- `nearest`: which captions are a clip's MIL-NCE positives (the K nearest in time);
- `words`: how caption text splits into words (the corpus word counts and the tokenizer).

No Beam, Ray or torch here (the pipeline must not pull torch, nor the trainer Beam);
`nearest` needs only the standard library, `words` Hugging Face `tokenizers`.
"""
