"""The seeded sample organisation ("Acme Vision") and large benchmark cost files.

* :func:`generate` builds the 90-day, three-cloud sample: tables with the store's schemas
  (the cost table is a FOCUS 1.2 export) and the answer key of planted findings.
* :func:`write_sample` writes it (or, given ``rows``, a large cost file) to a folder.
* :func:`iter_cost_batches` streams exactly ``rows`` FOCUS rows for benchmarks.

``python -m mlcost.sample OUT_DIR [--rows N] [--format parquet|csv.gz] [--seed S]``
"""

from mlcost.sample.bulk import iter_cost_batches
from mlcost.sample.generator import SampleData, generate
from mlcost.sample.writer import write_sample

__all__ = ["SampleData", "generate", "iter_cost_batches", "write_sample"]
