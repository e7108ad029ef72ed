#!/usr/bin/env bash
# The package as a new user gets it: build the sdist and the wheel (the wheel from the sdist, as
# `python -m build` does), check what they carry, install the wheel into a fresh virtual environment
# outside the repository, and from there list the models and colour a photo and the example film.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/vidcolor-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
max_wheel_bytes=60000000  # a wheel over ~60 MB is a defect: ship the default and the models worth comparing

python -c "import build" 2>/dev/null || python -m pip install -q build
python -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
wheel="$(echo "$work"/dist/vidcolor-*.whl)"
sdist="$(echo "$work"/dist/vidcolor-*.tar.gz)"
size="$(stat -c %s "$wheel")"
echo "wheel: $(basename "$wheel"), $((size / 1000000)) MB; sdist: $(basename "$sdist"), $(($(stat -c %s "$sdist") / 1000000)) MB"
[ "$size" -lt "$max_wheel_bytes" ] || { echo "the wheel is over $((max_wheel_bytes / 1000000)) MB" >&2; exit 1; }

python - "$wheel" "$sdist" <<'EOF'
"""The licence, the weights and the web page in the wheel, and the licence and the weights in the sdist."""
import sys
import tarfile
import zipfile

wheel = zipfile.ZipFile(sys.argv[1]).namelist()
sdist = tarfile.open(sys.argv[2]).getnames()
wanted = {"wheel: LICENSE": any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel),
          "wheel: weights": any(n.startswith("vidcolor/models/") and n.endswith(".safetensors") for n in wheel),
          "wheel: the web page": "vidcolor/serve/web/index.html" in wheel,
          "sdist: LICENSE": any(n.endswith("/LICENSE") for n in sdist),
          "sdist: weights": any("/vidcolor/models/" in n and n.endswith(".safetensors") for n in sdist)}
missing = [what for what, found in wanted.items() if not found]
sys.exit(f"missing from the built package: {', '.join(missing)}" if missing else None)
EOF

python -m venv "$work/venv"
pip="$work/venv/bin/pip"
# The CPU build of torch from this machine's local wheel store (as in .ci/run); then the wheel and its dependencies.
"$pip" install -q "torch==2.13.0"
"$pip" install -q "$wheel"

cd "$work"  # away from the repository: nothing may come from the checkout
PATH="$work/venv/bin:$PATH"
installed="$(python -c "import vidcolor; print(vidcolor.__file__)")"
[[ "$installed" == "$work/venv/"* ]] || { echo "vidcolor imported from $installed, not the wheel" >&2; exit 1; }
vidcolor --version
vidcolor models
default="$(python -c "from vidcolor import DEFAULT_MODEL; print(DEFAULT_MODEL)")"
vidcolor models --json | python -c "import json, sys; sys.exit(not any(m['name'] == '$default' for m in json.load(sys.stdin)))"

python -c "from PIL import Image; Image.linear_gradient('L').resize((160, 120)).convert('RGB').save('photo.png')"
vidcolor run photo.png -o photo_color.png
vidcolor run "$repo/examples/old_film.mp4" -o old_film_color.mp4 --quiet
python - "$repo/examples/old_film.mp4" <<'EOF'
"""The outputs are there, the photo at its size and the film with every frame."""
import sys

import av
from PIL import Image

assert Image.open("photo_color.png").size == (160, 120), "the coloured photo changed size"
frames = [sum(1 for _ in av.open(path).decode(video=0)) for path in (sys.argv[1], "old_film_color.mp4")]
assert frames[0] == frames[1] > 0, f"the film had {frames[0]} frames, its colour version {frames[1]}"
print(f"coloured a photo and the example film ({frames[1]} frames) from the installed wheel")
EOF
echo "wheel check passed in ${SECONDS} s"
