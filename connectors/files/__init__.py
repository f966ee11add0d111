"""Billing exports read from files: FOCUS (and, later, AWS CUR, Azure, GCP exports)."""
