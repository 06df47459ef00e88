"""One gradient checked three ways, for the kinds with their own verification (graph/verify.py, rnn/verify.py):
the chain rule's value (bptrace's), SymPy's, and a finite difference, with the verdict and its note."""

from __future__ import annotations

from dataclasses import dataclass

from bptrace.verify.tolerances import FD_RTOL, FD_STEP, SYMPY_RTOL


def judged_by() -> dict[str, float]:
    """The tolerances a GradientCheck is judged with, as the JSON and the tables' notes give them."""
    return {"sympy_rtol": SYMPY_RTOL, "fd_rtol": FD_RTOL, "fd_step": FD_STEP}


@dataclass(frozen=True)
class GradientCheck:
    """One gradient three ways: the chain rule (bptrace), SymPy, and a finite difference."""

    name: str
    chain_rule: float
    sympy: float | None  # None where SymPy was not asked (a sample, too large) or failed
    finite_difference: float | None
    fd_judged: bool  # False where the finite difference crosses a kink (or could not be computed)
    note: str  # in English (the JSON's): "crosses a kink: not judged", "not computed: ...", SymPy's failure
    ok: bool
    shown_note: str = ""  # the note as a table shows it, in the language bptrace speaks

    @property
    def difference(self) -> float:
        """The largest |chain rule − check| over the judged checks."""
        diffs = [abs(self.chain_rule - self.sympy)] if self.sympy is not None else []
        if self.fd_judged and self.finite_difference is not None:
            diffs.append(abs(self.chain_rule - self.finite_difference))
        return max(diffs, default=0.0)
