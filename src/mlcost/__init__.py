"""mlcost: FinOps cost and utilisation analysis for ML infrastructure."""

__version__ = "0.1.0"
