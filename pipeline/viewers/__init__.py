"""Viewers of a built dataset: `contact_sheet` (`python -m pipeline inspect`: frames, waveform,
text, neighbours of a few clips as one PNG) and `report` (`python -m pipeline report`: one
self-contained HTML page of the whole dataset)."""
