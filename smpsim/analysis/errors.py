"""Errors of the analysis commands that are not about a run directory itself."""

from smpsim.errors import SmpsimError


class AnalysisOptionError(SmpsimError):
    """An option of analyze/compare/report is invalid (unknown format, baseline not in any run)."""
