"""Shard builder: raw videos (+ captions) -> aligned VATT clips in WebDataset shards (Apache Beam)."""

__version__ = "0.1.0"
