"""Call-authorization benchmark: ``python benchmarks/authorize.py [--seconds N] [--json]``.

The implementation lives in the package (``dialgate.bench.authorize``) so that the installed
``dialgate bench authorize`` runs the very same code.
"""

import sys

from dialgate.bench.authorize import main

if __name__ == "__main__":
    sys.exit(main())
