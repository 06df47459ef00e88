"""The user-facing errors: one small hierarchy, turned into exit statuses only by the CLI."""

from __future__ import annotations

from bptrace.i18n import _


class BptraceError(Exception):
    """Bad input or usage: the CLI prints the message on one line and exits 2."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        inside = f"{self.path}: " if self.path else ""
        text = self.message
        if self.hint:
            # TRANSLATORS: an error message and, in parentheses, how to fix it
            text = _("{message} ({hint})").format(message=text, hint=self.hint)
        # one line, always: a message is read in a terminal and parsed by scripts
        return one_line(f"{where}{inside}{text}")


MAX_WORD = 120  # a longer run of characters without a space is cut (a megabyte answer is not echoed)
MAX_LINE = 1000  # and so is a longer message


def one_line(text: str) -> str:
    """A message as one line a terminal shows safely: control characters written out, whitespace runs
    collapsed, a very long word or message cut with '…' (the safety net under fmt.echo)."""
    from bptrace.fmt import cut, visible

    words = [cut(word, MAX_WORD) for word in visible(" ".join(text.split())).split(" ")]
    return cut(" ".join(words), MAX_LINE)


class ScenarioError(BptraceError):
    """A scenario file that cannot be read or does not describe a valid network."""


class AnswerSheetError(BptraceError):
    """An answer sheet that cannot be read or names quantities that do not exist."""


class KeyFileError(BptraceError):
    """A teacher's marking key that cannot be read or does not fit its exercise."""


class UnknownNameError(BptraceError):
    """A quantity, scenario or parameter name that does not exist (with suggestions)."""


class NumericalError(BptraceError):
    """The numbers of a valid scenario cannot be computed in float64 (overflow, log of 0)."""


class RosterError(BptraceError):
    """A class roster (CSV of student ids and names) that cannot be read."""
