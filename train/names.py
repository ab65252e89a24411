"""Names the training CLIs offer as choices, importable without torch or transformers (so that
`--help` answers at once). Tests check them against model.CONFIG_NAMES and AUGMENT_PRESETS."""

CONFIG_NAMES: tuple[str, ...] = ("tiny", "bbs", "mbs", "lbs", "ma-medium")
AUGMENT_NAMES: tuple[str, ...] = ("light", "none", "paper")
