"""`python -m vidcolor` (what torchrun launches for DDP training)."""
from .cli import main

main()
