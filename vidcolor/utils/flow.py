"""What OpenCV's DIS optical flow can work on: shared by all that follows motion (the temporal smoother, the
click tracker, the warping-error metric), so none of them hands it a frame it would crash on."""
from __future__ import annotations

import math


def dis_fits(h: int, w: int) -> bool:
    """Whether OpenCV's DIS flow works on an h x w frame, at any of the presets used here: the ultrafast preset
    (8 px patches, finest scale 2) is the strictest; the fast and medium ones were checked on the sizes it accepts.
    Where its coarsest pyramid level would be under a patch high or wide it fails, or crashes the process:
    tiny and strip-like films, linked as still instead. The level is chosen as OpenCV's dis_flow.cpp does."""
    if min(h, w) < 8 or max(h, w) < 12:
        return False
    coarsest = min(int(math.log2(max(h, w) / 32) + 0.5), int(math.log2(min(h, w) // 8)))
    if coarsest < 2:  # below the finest scale: OpenCV goes by the width alone
        coarsest = max(0, math.floor(math.log2(w / 20)))
    return h >> coarsest >= 8 and w >> coarsest >= 8
