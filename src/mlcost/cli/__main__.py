"""``python -m mlcost.cli``: the same as the ``mlcost`` command."""

import os

from mlcost.cli import main

if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("COLUMNS", "120")
    main()
