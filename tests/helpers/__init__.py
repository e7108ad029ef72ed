"""What the tests build: films, photos, model files, and the fuzzing machinery (imported as
`from helpers.films import make_clip`; tests/ is on the path through its conftest.py)."""
