"""The training report a restorer looks at: curves.png shows every validation, even the first alone."""
import cv2
import numpy as np

from vidcolor.training.report import PLOTTED, plot_curves


def test_a_run_stopped_after_its_first_validation_shows_that_validation_on_its_curves(tmp_path):
    row = {"step": 100, "train_loss": 0.05, **{f"photos/{metric}": 20.0 for metric in PLOTTED}}
    plot_curves([row], tmp_path / "curves.png")
    curves = cv2.imread(str(tmp_path / "curves.png"))
    panels = np.split(curves, 1 + len(PLOTTED), axis=1)
    blue = [int((np.abs(panel.astype(int) - (200, 80, 20)).sum(axis=2) < 60).sum()) for panel in panels]
    assert all(pixels > 10 for pixels in blue), blue  # a mark in every panel, not an empty box
