"""The Streamlit dashboard; served by `mlcost dashboard` (``streamlit run`` on SCRIPT)."""

from pathlib import Path

#: The Streamlit script: one page chooser, the filters and the five pages.
SCRIPT = Path(__file__).with_name("dashboard.py")
