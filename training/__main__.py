import sys

from training.cli import main

if __name__ == "__main__":  # the mini-CSLM's step workers are spawned processes: they import this module too
    sys.exit(main())
