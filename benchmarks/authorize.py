"""Call-authorization benchmark: ``python benchmarks/authorize.py [--seconds N] [--json]
[--deck-rows N]``; it prints the figures with the demo decks and with 1,000,000-row decks unless
``--deck-rows`` says otherwise (0: demo decks only).

The implementation lives in the package (``dialgate.bench.authorize``) so that the installed
``dialgate bench authorize`` runs the very same code.
"""

import sys

from dialgate.bench.authorize import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(main(argv if "--deck-rows" in argv else [*argv, "--deck-rows", "1000000"]))
