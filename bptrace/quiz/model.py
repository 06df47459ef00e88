"""The platform-neutral quiz: exercises, the quantities asked, what counts as right, and each misconception.

    quiz = build(["mazur"], variants=5, seed=7)          # five `bptrace new` exercises shaped like mazur
    quiz = build(["mazur"], ask=["w5+", "dE/dw1"])        # Mazur's own numbers, two quantities

Every number comes from bptrace itself, nothing is typed in:

- an exercise is a scenario as given, or a fresh random one from `bptrace new`'s generator
  (grading/answers.random_exercise) with the scenario's shape, activations, loss, learning rate and batch;
  a kind `bptrace new` cannot draw (max_margin, an L2 penalty, mixed or parametrised activations) is drawn by
  like_exercise with the same generator's numbers and everything else of the scenario kept;
- the right value of each asked quantity is the engine's (the key's Marker, as `check --key` marks);
- what counts as right is the key's marking rule (grading/marking.py) turned into the one interval a
  platform can test without seeing the digits written: the value rounded to `min_digits` significant digits
  ± one unit in that place (every answer `check` accepts with at least min_digits digits lies in it), widened
  by the rules' `rtol`/`tolerance` where a key gives them;
- each misconception of grading/diagnose.py that applies gives its own value of the quantity (the hooked
  step of engine/step.py), with the same interval, its sentences from diagnose.CODES as feedback, and the
  key's share of the points for it (0 unless the key's rules.misconceptions or accept say otherwise);
  values the rules cannot tell from the right one are listed as `unseen` instead;
- the general feedback is explain's derivation of the quantity (explain/derivation.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, localcontext
from typing import TYPE_CHECKING, Any

from bptrace.errors import BptraceError, UnknownNameError
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.explain.derivation import Explanation
    from bptrace.grading.key import Key, Rules
    from bptrace.grading.marking import Marker
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Scenario

MAX_VARIANTS = 200  # per scenario: more would make files no platform imports in one go
ASK_SETS = ("short", "all")  # the default questions: a few through the whole step, or every quantity


# ---------------------------------------------------------------------------------------------------
# What a platform accepts


@dataclass(frozen=True)
class Interval:
    """The answers a platform accepts: centre ± tolerance, both exact decimals (written as they are)."""

    centre: Decimal
    tolerance: Decimal

    @property
    def low(self) -> Decimal:
        return self.centre - self.tolerance

    @property
    def high(self) -> Decimal:
        return self.centre + self.tolerance

    def contains(self, x: float | Decimal) -> bool:
        """Whether x is accepted; a float as its shortest decimal (0.94, not 0.93999999999999994671), as a
        platform reads the number typed."""
        d = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
        return self.low <= d <= self.high

    def scaled(self, power: int) -> Interval:
        """The interval of the value × 10^power (exact: only the decimal exponent moves)."""
        return Interval(self.centre.scaleb(power), self.tolerance.scaleb(power))


def decimal_text(d: Decimal) -> str:
    """A Decimal as a plain number every platform reads, its digits kept: 0.751, -0.0190, 0.440, 1.50e-8 (no '+',
    no 'E')."""
    if d == 0:
        return "0"
    exponent = d.adjusted()
    if -7 <= exponent < 16:
        return format(d, "f")
    mantissa, _, power = f"{d:e}".partition("e")
    return f"{mantissa}e{int(power)}"


def accepted(x: float, digits: int, rtol: float | None = None, atol: float | None = None) -> Interval:
    """The interval of answers the key's rule accepts for the exact value x, for a platform that sees only the
    number: x rounded to `digits` significant digits ± one unit in that place (marking.agrees: every answer
    written with at least `digits` digits that `check` accepts lies in it), widened to cover
    |answer − x| ≤ max(rtol·|x|, atol) where the rules give tolerances. 0 (|x| ≤ marking.ZERO) is exact."""
    from bptrace.grading.marking import ZERO

    extra = max(rtol * abs(x) if rtol else 0.0, atol or 0.0)
    if abs(x) <= ZERO:
        return Interval(Decimal(0), _round_up(Decimal(max(extra, ZERO if x != 0 else 0.0))))
    with localcontext() as ctx:
        ctx.prec = 1100  # Decimal(float) is exact; nothing below may round it
        exact = Decimal(x)
        unit = Decimal(1).scaleb(exact.adjusted() - digits + 1)
        centre = exact.quantize(unit, rounding=ROUND_HALF_EVEN)
        if centre.adjusted() > exact.adjusted():  # 9.996 to 3 digits is 10.0, whose unit is 0.1
            unit = unit.scaleb(1)
            centre = exact.quantize(unit, rounding=ROUND_HALF_EVEN)
        tolerance = unit
        if extra:
            tolerance = max(unit, _round_up(abs(exact - centre) + Decimal(extra)))
    return Interval(centre, tolerance)


def _round_up(d: Decimal, digits: int = 2) -> Decimal:
    """d rounded up to `digits` significant digits (a tolerance: never narrower than computed)."""
    if d == 0:
        return Decimal(0)
    unit = Decimal(1).scaleb(d.adjusted() - digits + 1)
    return d.quantize(unit, rounding=ROUND_CEILING)


# ---------------------------------------------------------------------------------------------------
# The quiz


@dataclass(frozen=True)
class Cause:
    """One misconception behind a wrong value: its code, what it does, what exactly differed, the right rule."""

    code: str
    explanation: str
    detail: str
    rule: str

    @property
    def sentence(self) -> str:
        return _("{explanation} Here: {detail}. The rule: {rule}").format(
            explanation=self.explanation, detail=self.detail, rule=self.rule
        )


@dataclass(frozen=True)
class Mistake:
    """A value one or more misconceptions give for a quantity, the answers it accounts for, and its feedback."""

    value: float
    interval: Interval
    causes: tuple[Cause, ...]
    credit: float  # the share of the question's points (the key's rules; 0 by default)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.causes)

    @property
    def feedback(self) -> str:
        """The feedback for this value, in the quiz's language: each cause's sentence."""
        return " ".join(f"[{c.code}] {c.sentence}" for c in self.causes)


@dataclass(frozen=True)
class Rounded:
    """An answer `check` also accepts: the value with every intermediate rounded to `digits` significant digits
    (marking's rounding, always accepted), when it falls outside the right interval."""

    digits: int
    value: float
    interval: Interval


@dataclass(frozen=True)
class Ask:
    """One quantity asked in one exercise: its right value and interval, its points, and the misconceptions."""

    name: str  # the canonical quantity name in this exercise (docs/quantities.md)
    symbol: str  # as explain writes it: ∂E_total/∂w5, δ_o1, w5⁺
    latex: str  # the same in LaTeX
    value: float  # the exact value (float64, the engine's)
    interval: Interval
    digits: int  # the significant digits asked for (the rules' min_digits)
    points: float
    mistakes: tuple[Mistake, ...]
    unseen: tuple[str, ...]  # codes whose value lies inside the right interval (no platform can tell them)
    explanation: Explanation = field(repr=False)
    rounded: tuple[Rounded, ...] = ()  # also right: intermediates rounded to the digits written

    @property
    def right(self) -> tuple[Interval, ...]:
        """Every interval counted right: the value's, then each early-rounding one."""
        return (self.interval, *(r.interval for r in self.rounded))


@dataclass
class Exercise:
    """One exercise (a variant): its scenario and trace, where it came from, and its questions."""

    ident: str  # a name for files and identifiers: mazur, mazur-3
    number: int  # 1-based within its group
    title: str
    scenario: Scenario = field(repr=False)
    trace: Trace = field(repr=False)
    seed: int | None  # the `bptrace new` seed of a random variant
    command: str | None  # the `bptrace new` command that writes its scenario again
    source: str | None  # the scenario file of a random variant (YAML)
    asks: list[Ask] = field(default_factory=list)


@dataclass
class Group:
    """The exercises made from one SCENARIO argument (its variants): a Moodle category, one PrairieLearn
    question, a Canvas question group per quantity."""

    ref: str  # the argument as given
    ident: str
    title: str
    exercises: list[Exercise]

    @property
    def names(self) -> list[str]:
        """The quantities asked, in order (the same in every exercise of the group)."""
        return [a.name for a in self.exercises[0].asks]


@dataclass
class Quiz:
    groups: list[Group]
    seed: int | None
    rules: Rules
    language: str
    command: str  # the `bptrace quiz` command line that makes it again

    @property
    def exercises(self) -> list[Exercise]:
        return [e for g in self.groups for e in g.exercises]


@dataclass(frozen=True)
class Spec:
    """A question as asked: a quantity name (of the scenario argument), its points and own tolerances."""

    name: str
    points: float = 1.0
    tolerance: float | None = None
    rtol: float | None = None


def build(
    refs: list[str],
    *,
    variants: int | None = None,
    seed: int | None = None,
    ask: list[str] | None = None,
    key: Key | None = None,
    default: str = "short",
    command: str = "bptrace quiz",
    digits: int = 9,
) -> Quiz:
    """The quiz for the scenarios `refs` (bundled names or paths): the scenarios themselves, or `variants` random
    exercises shaped like each (seeds seed, seed + 1, ...). The questions: `ask` (names of each scenario,
    carried to its variants by position), else the key's, else the `default` set; the rules: the key's."""
    from bptrace.grading.key import Rules
    from bptrace.i18n import language
    from bptrace.model.scenario import load

    rules = key.rules if key is not None else Rules()
    if variants is not None and not 1 <= variants <= MAX_VARIANTS:
        raise BptraceError(f"--variants {variants}: give 1 to {MAX_VARIANTS}")
    if variants is not None and seed is None:
        raise BptraceError("random variants need a seed", hint="add --seed N (any whole number)")
    groups: list[Group] = []
    seen: dict[str, int] = {}
    for ref in refs:
        s = key.scenario if key is not None and ref == key.scenario_ref else load(ref)
        base = _ident(s, ref)
        seen[base] = seen.get(base, 0) + 1
        ident = base if seen[base] == 1 else f"{base}-{seen[base]}"
        if variants is None:
            made: list[tuple[Scenario, int | None, str | None, str | None]] = [(s, None, None, None)]
            title = s.display_title()
        else:
            assert seed is not None
            made = list(random_variants(s, ref, variants, seed))
            title = _("{title}: {n} random variants (seeds {first} to {last})").format(
                title=s.display_title(), n=variants, first=seed, last=seed + variants - 1
            )
        # asked names are the scenario's (carried to each variant by position); the default questions are
        # the variants' own (a shared bias of the scenario has no place in a variant)
        source = s if ask or key is not None else made[0][0]
        specs = _specs(source, ask, key, default)
        exercises = []
        for k, (scenario, vseed, vcommand, vsource) in enumerate(made, start=1):
            number_ident = ident if variants is None else f"{ident}-{k}"
            exercise_title = scenario.display_title()
            exercises.append(_exercise(number_ident, k, exercise_title, scenario, vseed, vcommand, vsource))
            exercises[-1].asks = _asks(exercises[-1], source, specs, rules, digits)
        groups.append(Group(ref, ident, title, exercises))
    return Quiz(groups, seed, rules, language(), command)


def _ident(s: Scenario, ref: str) -> str:
    """A name for files and identifiers: the bundled name or the file's stem, in [a-z0-9_-]."""
    import re
    from pathlib import Path

    stem = Path(ref).stem if "/" in ref or "\\" in ref or ref.endswith((".yaml", ".yml", ".json")) else ref
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-")
    return cleaned or "exercise"


def _exercise(
    ident: str, number: int, title: str, s: Scenario, seed: int | None, command: str | None, source: str | None
) -> Exercise:
    from bptrace.engine.step import trace

    return Exercise(ident, number, title, s, trace(s), seed, command, source)


# ---------------------------------------------------------------------------------------------------
# Random variants: `bptrace new`'s exercises with the scenario's shape and conventions


def random_variants(s: Scenario, ref: str, n: int, seed: int) -> list[tuple[Scenario, int, str | None, str]]:
    """n fresh exercises of the kind of s; variant k has the seed seed + k − 1.

    A network `bptrace new` can draw (one hidden activation with its default parameter, no L2 penalty, no
    max-margin loss) comes from its generator with the shape, activations, loss, learning rate and batch size
    of s, and its command line makes its file again. Any other (max_margin, an L2 penalty, mixed or
    parametrised activations) is drawn by `like_exercise`: the same generator's numbers in every place s has
    one, everything else kept (see there); its YAML is the record (no command makes it)."""
    from bptrace.grading.answers import random_exercise
    from bptrace.model.scenario import loads

    options = _new_options(s)
    out: list[tuple[Scenario, int, str | None, str]] = []
    for k in range(n):
        vseed = seed + k
        name = f"<variant {k + 1} of {ref}>"
        if options is None:
            text = like_exercise(s, vseed, ref)
            out.append((loads(text, name), vseed, None, text))
            continue
        shape, activation, out_activation = options
        shape_text = "-".join(str(x) for x in shape)
        parts = [
            f"bptrace new --random --seed {vseed} --shape {shape_text} --activation {activation}",
            f"--output-activation {out_activation} --loss {s.loss} --learning-rate {float(s.learning_rate)!r}",
        ]
        if s.samples != 1:
            parts.append(f"--samples {s.samples}")
        command = " ".join(parts)
        text = random_exercise(
            vseed, shape, activation, out_activation, s.loss, s.learning_rate, s.samples, command=command
        )
        out.append((loads(text, name), vseed, command, text))
    return out


def _new_options(s: Scenario) -> tuple[list[int], str, str] | None:
    """`bptrace new`'s --shape, --activation and --output-activation for variants of s, or None when `bptrace
    new` cannot draw its kind (like_exercise draws it)."""
    from bptrace import functions

    if s.objective.scores or s.l2 or any(layer.param is not None for layer in s.layers):
        return None
    hidden = {layer.activation for layer in s.layers[:-1]}
    if len(hidden) > 1:
        return None
    out_activation = s.output_layer.activation
    if hidden:
        activation = hidden.pop()
    else:  # no hidden layer: --activation is not used, and must be one a hidden layer may have
        activation = out_activation if functions.activation(out_activation).hidden_ok else "sigmoid"
    return [len(s.input_names)] + [layer.size for layer in s.layers], activation, out_activation


def like_exercise(s: Scenario, seed: int, ref: str) -> str:
    """A fresh random exercise of the kind of s (YAML, matrix form), the same for the same seed.

    The numbers are `bptrace new`'s (numpy default_rng(seed); |x| in [0.05, 0.95] with a random sign, 2
    decimals; targets the output can reach, one-hot for cross_entropy, 0/1 for bce): every weight, every bias
    of a layer that has biases (one per neuron), every input, every target. Kept from s: the shape, each
    layer's activation and its parameter (leaky_slope, elu_alpha), the loss, reduction, learning rate, L2
    penalty λ, whether biases are updated, and for max_margin the margin Δ and which inputs of the corrupt
    window differ from the true one (those are drawn afresh, the others are the true window's). Drawn
    again, up to 100 times, when the step overflows, a relu or hinge sits exactly at its kink, or (max_margin)
    every sample already meets the margin (no gradient to compute)."""
    import numpy as np

    from bptrace import functions
    from bptrace.engine.step import forward, hinge_argument, trace
    from bptrace.errors import NumericalError
    from bptrace.model.scenario import loads

    rng = np.random.default_rng(seed)

    def draw(*size: int) -> Any:
        magnitude = rng.uniform(0.05, 0.95, size)
        sign = rng.choice([-1.0, 1.0], size)
        return np.round(magnitude * sign, 2)

    def vec(v: Any) -> str:
        return "[" + ", ".join(_number(x) for x in v) + "]"

    n_in, m, n_out = len(s.input_names), s.samples, s.output_layer.size
    out_act = s.output_layer.activation
    for _attempt in range(100):
        layers = [(draw(layer.size, layer.weights.shape[1]), draw(layer.size)) for layer in s.layers]
        inputs = draw(m, n_in)
        lines = [
            f"# a random exercise like {ref} (bptrace quiz --variants, seed {seed})",
            "title: " + _quoted(_("Random exercise like {title} (seed {seed})").format(title=s.title, seed=seed)),
            f'source: "bptrace quiz --variants, seed {seed}"',
            "samples:",
        ]
        if s.objective.scores:
            assert s.corrupt is not None
            differs = s.corrupt != s.inputs
            fresh = draw(m, n_in)
            fresh = np.where(fresh == inputs, -fresh, fresh)  # a drawn word differs from the true one (never 0)
            corrupt = np.where(differs, fresh, inputs)
            lines += [f"  - {{inputs: {vec(x)}, corrupt: {vec(c)}}}" for x, c in zip(inputs, corrupt)]
        else:
            if s.loss == "cross_entropy":
                targets = np.eye(n_out)[rng.integers(0, n_out, m)]
            elif s.loss == "bce":
                targets = rng.integers(0, 2, (m, n_out)).astype(float)
            else:
                lo, hi = functions.activation(out_act).target_range
                targets = np.round(rng.uniform(lo, hi, (m, n_out)), 2)
            lines += [f"  - {{inputs: {vec(x)}, targets: {vec(t)}}}" for x, t in zip(inputs, targets)]
        lines.append("layers:")
        for layer, (w, b) in zip(s.layers, layers):
            lines.append(f"  - activation: {layer.activation}")
            if layer.param is not None and layer.function.param is not None:
                lines.append(f"    {layer.function.param.key}: {_number(layer.param)}")
            lines.append("    weights:")
            lines += [f"      - {vec(row)}" for row in w]
            if layer.bias_mode != "none":
                lines.append(f"    biases: {vec(b)}")
        lines += [
            f"loss: {s.loss}",
            f"reduction: {s.reduction}",
            f"learning_rate: {_number(s.learning_rate)}",
            f"update_biases: {'true' if s.update_biases else 'false'}",
        ]
        if s.l2:
            lines.append(f"l2: {_number(s.l2)}")
        if s.objective.scores:
            lines.append(f"margin: {_number(s.margin)}")
        text = "\n".join(lines) + "\n"
        variant = loads(text, f"<variant of {ref}>")
        try:
            t = trace(variant)
        except NumericalError:
            continue
        if any(lt.kink.any() for lt in t.layers):
            continue
        if s.objective.scores and not (hinge_argument(variant, forward(variant)[1][-1]) > 0).any():
            continue
        return text
    raise BptraceError(
        _("could not draw a random variant of {ref} without an overflow or a kink in 100 tries").format(ref=ref),
        hint=_("try another --seed"),
    )


def _number(x: float) -> str:
    """A number as YAML text that reads back to exactly the same float (integers without '.0')."""
    x = float(x)
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------------------------------
# The questions


def _specs(s: Scenario, ask: list[str] | None, key: Key | None, default: str) -> list[Spec]:
    from bptrace.grading.answers import derivation
    from bptrace.model.names import parse, spellings

    if ask:
        names = []
        for name in ask:
            names.append(parse(name, s).name)  # an unknown name: exit 2 with "did you mean"
        return [Spec(n) for n in dict.fromkeys(names)]
    if key is not None:
        return [Spec(parse(q.quantity.name, s).name, q.points, q.tolerance, q.rtol) for q in key.questions]
    if default == "all":
        return [Spec(name) for _, _, name in derivation(s)]
    first_out = s.output_layer.neurons[0]
    w_out = s.output_layer.weight_name(0, 0)
    wanted = [f"out_{first_out}", "E_total", f"delta_{first_out}", f"dE/d{w_out}", f"{w_out}+"]
    if len(s.layers) > 1:
        first_hidden = s.layers[0].neurons[0]
        w_in = s.layers[0].weight_name(0, 0)
        wanted += [f"delta_{first_hidden}", f"dE/d{w_in}", f"{w_in}+"]
    return [Spec(spellings(name, s)[0]) for name in wanted]


def translate(name: str, source: Scenario, target: Scenario) -> str:
    """A quantity name of `source` as the name of the same quantity in `target`, a network of the same shape:
    neurons and parameters matched by position (w5 of mazur is W2_1_1 of a random 2-2-2 exercise)."""
    from bptrace.model.names import parse

    if source is target:
        return name
    q = parse(name, source)

    def neuron(n: str | None) -> str:
        layer, row = source.neuron(n or "")
        return target.layer_names(layer)[row]

    def param(p: str | None) -> str:
        sp = source.parameter(p or "")
        layer = target.layers[sp.layer - 1]
        if sp.kind == "weight":
            assert sp.row is not None and sp.col is not None
            return layer.weight_name(sp.row, sp.col)
        if sp.row is None or layer.bias_mode != "neuron":
            raise UnknownNameError(
                _(
                    "{name}: the bias {bias} is shared by its layer, and the random variants have one bias per neuron"
                ).format(name=name, bias=p),
                hint=_("ask for another quantity, or leave out --variants"),
            )
        return layer.bias_names[sp.row]

    base = _rebuild(q, neuron, param)
    suffix = f":{q.sample}{'c' if q.corrupt else ''}" if q.sample is not None else ""
    return parse(base + suffix, target).name


def _rebuild(q: Quantity, neuron: Any, param: Any) -> str:
    kind = q.kind
    if kind == "E_total":
        return "E_total"
    if kind == "after":
        return f"E_total@{q.steps}"
    if kind == "param":
        return str(param(q.param))
    if kind == "updated":
        return f"{param(q.param)}+" if q.steps == 1 else f"{param(q.param)}@{q.steps}"
    if kind == "grad":
        return f"dE/d{param(q.param)}"
    if kind == "factor":
        return f"dnet_{neuron(q.neuron)}/d{param(q.param)}"
    if kind == "path":
        return f"dE_{neuron(q.other)}/dout_{neuron(q.neuron)}"
    n = neuron(q.neuron)
    return {
        "net": f"net_{n}",
        "out": f"out_{n}",
        "E": f"E_{n}",
        "dE_dout": f"dE/dout_{n}",
        "dout_dnet": f"dout_{n}/dnet_{n}",
        "delta": f"delta_{n}",
    }[kind]


def _asks(exercise: Exercise, source: Scenario, specs: list[Spec], rules: Rules, digits: int) -> list[Ask]:
    from bptrace.explain.derivation import explain
    from bptrace.grading.marking import Marker
    from bptrace.model.names import parse

    s = exercise.scenario
    lab = Marker(_lab(exercise))
    quantities = [parse(translate(spec.name, source, s), s) for spec in specs]
    lab.want_steps({q.steps for q in quantities if q.steps})
    out = []
    for spec, q in zip(specs, quantities):
        rtol = spec.rtol if spec.rtol is not None else rules.rtol
        atol = spec.tolerance if spec.tolerance is not None else rules.tolerance
        x = lab.expected(q)
        right = accepted(x, rules.min_digits, rtol, atol)
        rounded = _rounded(q, lab, right, rules, rtol, atol)
        mistakes, unseen = _mistakes(q, lab, (right, *(r.interval for r in rounded)), rules, rtol, atol)
        ex = explain(exercise.trace, q, digits=digits, checks=False)
        out.append(
            Ask(
                q.name,
                ex.symbol.text,
                ex.symbol.latex,
                x,
                right,
                rules.min_digits,
                spec.points,
                mistakes,
                unseen,
                ex,
                rounded,
            )
        )
    return out


def _lab(exercise: Exercise) -> Any:
    from bptrace.grading.diagnose import Lab

    return Lab(exercise.scenario, _trace=exercise.trace)


def _rounded(
    q: Quantity, lab: Marker, right: Interval, rules: Rules, rtol: float | None, atol: float | None
) -> tuple[Rounded, ...]:
    """The early-rounding values `check` accepts (every intermediate rounded to the answer's own digits, for
    min_digits to min_digits + 2 digits) that the right interval does not already hold."""
    from bptrace.grading.diagnose import rounding_variant

    out: list[Rounded] = []
    for digits in range(rules.min_digits, rules.min_digits + 3):
        y = lab.value(q, rounding_variant(digits).knobs)
        if y is None or not math.isfinite(y) or right.contains(y):
            continue
        interval = accepted(y, digits, rtol, atol)
        if all(r.interval != interval for r in out):
            out.append(Rounded(digits, y, interval))
    return tuple(out)


def _mistakes(
    q: Quantity, lab: Marker, right: tuple[Interval, ...], rules: Rules, rtol: float | None, atol: float | None
) -> tuple[tuple[Mistake, ...], tuple[str, ...]]:
    """Every value a misconception gives for q (one Mistake per interval: misconceptions that agree to the
    rules' digits share it), and the codes whose value an interval counted right already holds."""
    from bptrace.grading.diagnose import CODES, describe

    by_centre: dict[tuple[Decimal, Decimal], tuple[float, list[tuple[str, str]]]] = {}
    unseen: list[str] = []
    x = lab.expected(q)
    for v in lab.variants():
        y = lab.value(q, v.knobs)
        if y is None or not math.isfinite(y) or math.isclose(y, x, rel_tol=1e-12, abs_tol=1e-300):
            continue  # no value, or the right one: the misconception does not touch this quantity
        if any(r.contains(y) for r in right):
            unseen.append(v.code)  # it differs, but not by enough for the rules' digits to tell
            continue
        interval = accepted(y, rules.min_digits, rtol, atol)
        entry = by_centre.setdefault((interval.centre, interval.tolerance), (y, []))
        entry[1].append((v.code, describe(v, q)))
    mistakes = []
    for (centre, tolerance), (y, found) in by_centre.items():
        details: dict[str, list[str]] = {}
        for code, detail in found:
            if detail not in details.setdefault(code, []):
                details[code].append(detail)
        causes = tuple(
            Cause(code, _(CODES[code].explanation), "; ".join(d), _(CODES[code].rule)) for code, d in details.items()
        )
        codes = [c.code for c in causes]
        if all(c in rules.accept for c in codes):
            credit = 1.0
        else:
            credit = max((rules.misconceptions.get(c, 0.0) for c in codes), default=0.0)
        mistakes.append(Mistake(y, Interval(centre, tolerance), causes, credit))
    mistakes.sort(key=lambda m: (-len(m.causes), float(m.interval.centre)))
    return tuple(mistakes), tuple(dict.fromkeys(unseen))
