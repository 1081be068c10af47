"""Indicator functions: each takes the prepared CaseData and returns its cells."""
