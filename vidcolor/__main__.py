"""`python -m vidcolor` (what torchrun launches for DDP training) and the `vidcolor` console script."""
import signal
import sys


def main() -> None:
    """The command line. A Ctrl-C while it is still loading (its first fraction of a second) ends as one later
    does, in a line and exit code 130, not in a traceback of the import it cut short; one while the process
    ends, after the command's own line, ends it at once, not in a traceback of the interpreter's exit."""
    try:
        from .cli import main as command_line
    except KeyboardInterrupt:
        print("vidcolor: interrupted", file=sys.stderr)
        sys.exit(130)
    try:
        command_line()
    finally:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where it is ignored (`&` jobs)
            signal.signal(signal.SIGINT, signal.SIG_DFL)


if __name__ == "__main__":
    main()
