"""How the training stream draws batches (train/data.py), declared without torch: TrainConfig
declares its loader settings from these, and the CLIs parse arguments before torch loads."""

from __future__ import annotations

from dataclasses import dataclass

from clifields import option


@dataclass(frozen=True)
class LoaderConfig:
    """How batches are drawn. `batch_size` is per rank (the global batch is x world size)."""

    batch_size: int = option(16, help="clips per batch on each rank")
    num_workers: int = option(2, help="DataLoader processes per rank (0: in the rank's process)")
    shuffle_buffer: int = option(
        512, help="raw samples in the shuffle buffer (~0.3 MB each at 32x256p + 48 kHz audio)"
    )
    interleave: int = option(4, help="shards read at once per loader worker")
    seed: int = option(0, help="seed of the shard draws, the shuffle and the augmentation")
