"""`python -m vidcolor` (what torchrun launches for DDP training) and the `vidcolor` console script."""
import sys


def main() -> None:
    """The command line. A Ctrl-C while it is still loading (its first fraction of a second) ends as one later
    does, in a line and exit code 130, not in a traceback of the import it cut short."""
    try:
        from .cli import main as command_line
    except KeyboardInterrupt:
        print("vidcolor: interrupted", file=sys.stderr)
        sys.exit(130)
    command_line()


if __name__ == "__main__":
    main()
