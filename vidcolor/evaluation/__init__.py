"""Scoring: `vidcolor eval` and the metrics it (and training's validation) reports."""
