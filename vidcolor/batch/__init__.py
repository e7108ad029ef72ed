"""Many files at once: whole archives with their manifest, worker processes and Ray tasks, and long films cut
into pieces coloured side by side."""
