"""The decoder guards: a damaged photo's own library noise is silenced, and nothing of vidcolor's is."""
from __future__ import annotations

import subprocess
import sys
import textwrap

_WARNING_WHILE_ANOTHER_THREAD_DECODES = textwrap.dedent("""
    import os, sys, threading
    from vidcolor.utils.guard import library_noise_silenced

    inside, done = threading.Event(), threading.Event()

    def decode():
        with library_noise_silenced():
            inside.set()
            os.write(2, b"Corrupt JPEG data: 12 extraneous bytes\\n")  # what libjpeg writes itself
            done.wait()

    reader = threading.Thread(target=decode)
    reader.start()
    inside.wait()
    print("vidcolor: warning: skipped broken.jpg: not a readable image", file=sys.stderr)
    done.set()
    reader.join()
    print("vidcolor: warning: after the decoding", file=sys.stderr)
""")


def test_a_warning_printed_while_another_thread_decodes_reaches_the_user_and_the_decoders_noise_does_not():
    result = subprocess.run([sys.executable, "-c", _WARNING_WHILE_ANOTHER_THREAD_DECODES], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["vidcolor: warning: skipped broken.jpg: not a readable image",
                                          "vidcolor: warning: after the decoding"]
