"""The redesign changes no number bptrace prints, except the defects it names.

tests/data/json_before/ holds `bptrace run X --format json` (and `--notation matrix`) of every bundled scenario as
the release before the redesign printed it. Each run today is compared with it leaf by leaf; every difference must
be listed in INTENDED with the reason, and every listed difference must still occur (a stale entry fails too).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main

DATA = Path(__file__).parent / "data" / "json_before"
CASES = sorted(p.name.removesuffix(".json.gz") for p in DATA.glob("*.json.gz"))

# (case regex, JSON path regex, why it differs). A path is written like `parameters[3].factors[0].product`.
SOURCES_BY_TITLE = "sources named by title, not 'seed 00x'"
INTENDED: list[tuple[str, str, str]] = [
    # issue 21, "Never overstate": a check that ran but was not judged must say so (docs/json.md, docs/verification.md)
    (
        r".*",
        r"parameters\[\d+\]\.verification\.finite_difference(\.(value|step|judged|agrees|reason))?",
        "the finite difference is an object {value, step, judged, agrees, reason}: it says whether it was judged",
    ),
    (
        r".*",
        r"verification\.(checks|judged|not_judged|summary)",
        "the verification counts the gradient checks that ran and were judged, and gives the closing line",
    ),
    (
        r".*\.matrix",
        r"notation\.layers\[\d+\]\.db_rule",
        "db_rule says the 1/m its values carry: sum(dZ, axis=1, keepdims=True)/m (it said 'sum over samples')",
    ),
    (
        r"cs224n_window(\.matrix)?",
        r"quantities\.(delta_|dE/dout_|dE_[A-Za-z0-9_]+/dout_)[A-Za-z0-9_]+",
        "max_margin: dE/dout_X, delta_X and dE_K/dout_J have one value per window; unsuffixed, they added the two "
        "windows (delta_o1 = 0 while sample 1 violates the margin) and are now refused (docs/quantities.md)",
    ),
    (
        r"cs224n_window(\.matrix)?",
        r"parameters\[\d+\]\.verification\.sympy",
        "SymPy's hinge derivative is evaluated on the 30-digit forward pass (a template per layer, as for the other "
        "losses) instead of at the float64 activations: its last digits move toward the exact value",
    ),
    (
        r"learner_004(\.matrix)?",
        r"(parameters\[\d+\]\.(value|new_value)|quantities\.W1_1_2\+?|notation\.layers\[\d+\]\.(W|W_new)\.values.*)",
        "W1_1_2 was 0.09233859476879779, one ulp from numpy's 0.0923385947687978 (a 17-digit value cut instead of "
        "rounded): it is now numpy's value bit for bit",
    ),
    (
        r"learner_004_l2(\.matrix)?",
        r".*",
        "learner_004_l2 writes the learner's bias column as the hidden layer's biases, so the L2 penalty covers the "
        "weights only (as Ng's course does), and updates every bias: a different network layout, every value moves",
    ),
    (r"(cs224n_window|learner_004|learner_004_l2)(\.matrix)?", r"scenario\.title", SOURCES_BY_TITLE),
    (r".*\.matrix", r"notation\.convention", SOURCES_BY_TITLE),
    (
        r".*",
        r"parameters\[\d+\]\.factors\[\d+\]\.combine",
        "new field: whether the factors combine as a product or, for a bias shared by a layer, a sum (issue 13)",
    ),
    (
        r"mazur(\..*)?",
        r"parameters\[\d+\]\.factors\[0\]\.(product|sum)",
        "a shared bias's value δ_h1 + δ_h2 is a sum: it is now under `sum`, no longer called `product` (issue 13)",
    ),
    (
        r"(?!single_neuron_mse).*",
        r"paths\[\d+\]\.factors\.(names|values)\[\d\]",
        "new field: each path term's factors δ_k and w_kj by name and value, as the terminal shows them (issue 13)",
    ),
]


def _leaves(node: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON document by its path."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(node, list):
        out = {}
        for i, value in enumerate(node):
            out.update(_leaves(value, f"{path}[{i}]"))
        return out if node else {path: []}
    return {path: node}


# The leaves a `run` writes from its verification (SymPy and finite differences); the rest is the trace's.
VERIFICATION = re.compile(r"(verification|parameters\[\d+\]\.verification)([.\[].*)?")


@functools.cache
def _cli_leaves(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["run", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return _leaves(json.loads(result.stdout))


def _before(case: str) -> dict[str, Any]:
    return _leaves(json.loads(gzip.decompress((DATA / f"{case}.json.gz").read_bytes())))


def _run(case: str) -> dict[str, Any]:
    """The leaves of `bptrace run NAME --format json [--notation N]` today.

    The verification does not depend on the notation (test_the_verification_does_not_depend_on_the_notation), so
    a notation's case takes it from the plain case's run (cached: each scenario is verified once here) and the
    rest from a run with --verify off."""
    name, _, notation = case.partition(".")
    if not notation:
        return _cli_leaves(name)
    rest = _cli_leaves(name, "--notation", notation, "--verify", "off")
    checks = {path: value for path, value in _cli_leaves(name).items() if VERIFICATION.fullmatch(path)}
    return {path: value for path, value in rest.items() if not VERIFICATION.fullmatch(path)} | checks


def test_the_verification_does_not_depend_on_the_notation() -> None:
    """What _run assumes, in the data before the redesign and in a run today."""
    for case in CASES:
        name, _, notation = case.partition(".")
        if notation:
            plain, noted = _before(name), _before(case)
            assert {p: v for p, v in noted.items() if VERIFICATION.fullmatch(p)} == {
                p: v for p, v in plain.items() if VERIFICATION.fullmatch(p)
            }, case
    assert _run("mazur.matrix") == _cli_leaves("mazur", "--notation", "matrix")  # the real run, verification and all
    assert any(VERIFICATION.fullmatch(p) for p in _run("mazur.matrix"))


# numpy's tanh and exp take a SIMD path chosen by the CPU (AVX-512 gives other last bits than AVX2, and than libm:
# np.tanh differs from math.tanh in 3,002 of 10,001 points on [-3, 3] on an AVX-512 machine), so a float that went
# through them may move by a few ulps between machines. Such a difference is the platform's when it is within
# PLATFORM_RELATIVE of the value (the activation's ulps grown through the layers) or within PLATFORM_ABSOLUTE, a few
# ulps of 1, the scale of every activation, target and weight here (δ = out − t of an out close to t keeps the
# absolute error of out, not its relative one: ng_shallow's ∂E/∂out_o1 ≈ −9.6e-5 moves by 2.2e-16). Anything larger
# is a change and must be listed.
PLATFORM_RELATIVE = 1e-12
PLATFORM_ABSOLUTE = 1e-15


def _platform(a: object, b: object) -> bool:
    """Both floats, and apart by no more than the platform's rounding."""
    if not (isinstance(a, float) and isinstance(b, float)):
        return False
    return abs(a - b) <= max(PLATFORM_RELATIVE * max(abs(a), abs(b)), PLATFORM_ABSOLUTE)


def test_a_platform_difference_is_a_few_ulps_only() -> None:
    assert _platform(0.0028550537089571427, 0.002855053708957139)  # cs224n_window's ∂E/∂W, AVX2 -> AVX-512
    assert _platform(-9.640252007847572e-05, -9.640252007869776e-05)  # ng_shallow's ∂E/∂out_o1
    assert not _platform(0.0028550537089571427, 0.002855053709)  # 1e-10 relative: a change
    assert not _platform(0.75136507, 0.751365070001)  # Mazur's out_o1 in its 12th digit: a change
    assert not _platform(1, 1.0000000000000002) and not _platform(None, 0.0)  # only floats


@pytest.mark.parametrize("case", CASES)
def test_json_unchanged_but_for_the_intended_differences(case: str) -> None:
    before = _before(case)
    after = _run(case)
    rules = [(re.compile(p), why) for c, p, why in INTENDED if re.fullmatch(c, case)]
    unexplained = []
    used: set[int] = set()
    for path in sorted(set(before) | set(after)):
        if before.get(path, "<absent>") == after.get(path, "<absent>"):
            continue
        hits = [i for i, (rx, _) in enumerate(rules) if rx.fullmatch(path)]
        if hits:
            used.update(hits)
        elif not _platform(before.get(path), after.get(path)):
            unexplained.append(f"{path}: {before.get(path, '<absent>')!r} -> {after.get(path, '<absent>')!r}")
    assert not unexplained, f"{len(unexplained)} unlisted differences, e.g.\n" + "\n".join(unexplained[:20])
    stale = [rules[i][1] for i in range(len(rules)) if i not in used]
    assert not stale, f"listed differences that no longer occur: {stale}"
