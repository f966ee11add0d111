"""The Streamlit dashboard (see the dashboard issue); served by `mlcost dashboard`."""
