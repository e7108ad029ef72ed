"""Training: data, augmentation, losses, and the training loop (kept apart from inference)."""
