"""Reporting: KPIs and the HTML day report."""
