"""ETL errors that say whether trying again can help.

Transient: the source is down or slow; the same run may succeed later. Terminal: the
configuration or the file is wrong; retrying changes nothing until a person acts.
"""

from __future__ import annotations


class EtlError(Exception):
    transient = False


class TransientError(EtlError):
    transient = True


class TerminalError(EtlError):
    transient = False


class SourceMissing(TerminalError):
    pass


class ColumnsMissing(TerminalError):
    pass


class UnknownJob(TerminalError):
    pass
