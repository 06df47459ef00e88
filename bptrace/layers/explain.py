"""`bptrace explain NAME -s stack.yaml` for a layer stack: the rule the quantity follows and why, its terms
one per row with their numbers, the sum, and for a parameter's gradient the update and the checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace.errors import BptraceError
from bptrace.fmt import DEFAULT_DIGITS
from bptrace.i18n import N_, _
from bptrace.message import tr

if TYPE_CHECKING:
    from bptrace.layers.engine import LayersTrace, Line
    from bptrace.layers.verify import LayersVerification
    from bptrace.render.layout import Block

# why each kind of quantity is the sum it is (docs/layers.md derives each)
WHY: dict[tuple[str, str], str] = {
    ("conv2d", "forward"): N_(
        "A convolution layer slides each kernel over the (padded) input with stride S and adds, at each output "
        "position, the products of the kernel's elements with the inputs under them, plus the bias. This is "
        "cross-correlation: the kernel is not flipped."
    ),
    ("conv2d", "K"): N_(
        "The kernel element K[o,c,r,q] multiplies the input x_pad[c, i·S + r, j·S + q] at every output position "
        "(i, j) of channel o, so ∂a[o,i,j]/∂K[o,c,r,q] is that input. The chain rule adds ∂E/∂a[o,i,j] times it "
        "over every position the element touched, in every sample: the input correlated with the upstream gradient."
    ),
    ("conv2d", "b"): N_(
        "The bias is added at every output position of its channel, with slope 1, so its gradient is the sum of "
        "the upstream gradients over those positions and samples."
    ),
    ("conv2d", "x"): N_(
        "An input x[c,y,x] is read by every output whose window covers it, each time multiplied by one kernel "
        "element. Adding ∂E/∂a times that element over those outputs, in the order a kernel flipped by 180° slides "
        "over the zero-padded upstream gradient, is the full convolution of ∂E/∂a with rot180(K)."
    ),
    ("maxpool", "forward"): N_("Max pooling keeps the largest input of each window."),
    ("maxpool", "x"): N_(
        "Only the largest input of a window reaches the output (with slope 1); the others do not change it "
        "(slope 0). So each window's upstream gradient goes to the input it chose, and an input chosen by "
        "several overlapping windows adds their gradients."
    ),
    ("avgpool", "forward"): N_("Average pooling takes the mean of each window."),
    ("avgpool", "x"): N_(
        "Every input of a window of n inputs enters its mean with slope 1/n, so each input gets 1/n of the "
        "upstream gradient of every window that holds it; not only the largest."
    ),
    ("flatten", "forward"): N_("Flatten only lays the values out in a row; nothing is computed."),
    ("flatten", "x"): N_("Flatten moves values without changing them, so each gradient goes back to its place."),
    ("dense", "forward"): N_("A dense layer: z = W·x + b, then a = f(z)."),
    ("dense", "W"): N_("W[i,j] multiplies x[j] in z[i]: ∂E/∂W[i,j] = Σ over samples of ∂E/∂z[i]·x[j]."),
    ("dense", "b"): N_("b[i] enters z[i] with slope 1: ∂E/∂b[i] = Σ over samples of ∂E/∂z[i]."),
    ("dense", "z"): N_("a = f(z) elementwise: ∂E/∂z = ∂E/∂a·f′(z) (softmax: Σ_k ∂E/∂a_k·∂a_k/∂z_j)."),
    ("dense", "x"): N_("x[j] feeds every z[i] with weight W[i,j]: ∂E/∂x[j] = Σ_i W[i,j]·∂E/∂z[i]."),
    ("activation", "forward"): N_("An activation layer applies f to each value."),
    ("activation", "x"): N_("a = f(x) elementwise: ∂E/∂x = ∂E/∂a·f′(x)."),
    ("batchnorm", "forward"): N_(
        "Batch normalization: over the batch (and, for an image, every position of the channel) μ = mean, "
        "σ² = variance, x̂ = (x − μ)/√(σ² + ε), a = γ·x̂ + β."
    ),
    ("batchnorm", "xhat"): N_("a = γ·x̂ + β, so ∂E/∂x̂ = ∂E/∂a·γ."),
    ("batchnorm", "var"): N_(
        "σ² enters every x̂ of its feature: ∂x̂/∂σ² = (x − μ)·(−½)(σ² + ε)^(−3/2); the chain rule adds over them."
    ),
    ("batchnorm", "mu"): N_(
        "μ enters every x̂ directly (slope −1/√(σ² + ε)) and through σ² (∂σ²/∂μ = Σ −2(x − μ)/m, which is 0)."
    ),
    ("batchnorm", "x"): N_(
        "x reaches the loss three ways: through its own x̂ (slope 1/√(σ² + ε)), through σ² (slope 2(x − μ)/m) "
        "and through μ (slope 1/m). The three paths add up to the compact formula "
        "γ/(m√(σ² + ε))·(m·∂E/∂a − Σ∂E/∂a − x̂·Σ∂E/∂a·x̂)."
    ),
    ("batchnorm", "gamma"): N_("γ multiplies every x̂ of its feature: ∂E/∂γ = Σ ∂E/∂a·x̂."),
    ("batchnorm", "beta"): N_("β is added to every output of its feature: ∂E/∂β = Σ ∂E/∂a."),
    ("loss", "forward"): N_("The loss: each sample's E_s adds its outputs' terms; E_total combines the samples."),
    ("loss", "x"): N_("The loss's derivative by each output, times 1/m when E_total is the mean over m samples."),
    ("update", "update"): N_("Gradient descent: θ+ = θ − η·∂E/∂θ."),
}


GIVEN = N_("An input of the scenario: given, not computed.")


def canonical(target: str, trace: LayersTrace) -> str | None:
    t = target.strip()
    if t.startswith("dE_total/d"):
        t = "dE/d" + t[len("dE_total/d") :]
    if t in trace.params:  # a parameter: explain its gradient
        return "dE/d" + t
    if t in trace.values:
        return t
    if ":" not in t and trace.scenario.samples == 1 and f"{t}:1" in trace.values:
        return f"{t}:1"
    return None


def parse_target(target: str, trace: LayersTrace) -> str:
    """The canonical name of `target`, or a one-line error with the closest names."""
    from bptrace.model.source import did_you_mean

    name = canonical(target, trace)
    if name is None:
        raise BptraceError(
            _("{target} is not a quantity of this stack").format(target=target),
            hint=did_you_mean(target, list(trace.values)) or _("'--list' lists every quantity"),
        )
    return name


def _kind(trace: LayersTrace, name: str) -> tuple[str, str]:
    sec = trace.section_of(name)
    assert sec is not None
    if sec.direction == "update":
        return "update", "update"
    if sec.direction == "forward":
        return sec.type, "forward"
    base = name[4:] if name.startswith("dE/d") else name
    for prefix in ("K", "W", "b", "gamma", "beta", "xhat", "var", "mu", "z"):
        if base.startswith(prefix) and base[len(prefix) : len(prefix) + 1].isdigit():
            if prefix == "z" and sec.type != "dense":
                break
            return sec.type, prefix
    return sec.type, "x"


def explain_blocks(
    trace: LayersTrace,
    name: str,
    checks: LayersVerification | None,
    digits: int = DEFAULT_DIGITS,
    ascii: bool = False,
) -> list[Block]:
    from bptrace.formula import Name
    from bptrace.render.layers_out import _grid, _Writer, rule_text, summary
    from bptrace.render.layout import Para

    w = _Writer(digits, ascii)
    sec = trace.section_of(name)
    ln = trace.line(name)
    if sec is None or ln is None:  # an input: given, not computed
        value = w.n(trace.values[name])
        return [Para(_("{name} = {value}").format(name=name, value=value), "title"), Para(_(GIVEN))]
    blocks: list[Block] = [Para(_("{name} = {value}").format(name=name, value=w.n(ln.value)), "title")]
    blocks.append(Para(tr(sec.title), "bold"))
    why = WHY.get(_kind(trace, name))
    if why:
        blocks.append(Para(_(why)))
    blocks.append(Para(_("rule: {rule}").format(rule=rule_text(sec.rule)), "dim"))
    if ln.terms or ln.const is not None:
        grid = _grid(
            _("{name} as a sum: one term per row").format(name=name),
            [(_("term"), "text"), (_("with numbers"), "text"), (_("value"), "num")],
        )
        for t in ln.terms:
            grid.rows.append([w.term(t, False), w.term(t, True), w.n(t.value)])
        if ln.const is not None:
            grid.rows.append([Name(ln.const[0]), w.num(ln.const[1]), w.n(ln.const[1])])
        grid.rows.append([_("sum"), "", w.n(ln.value)])
        blocks.append(grid)
    elif ln.apply is not None:
        blocks.append(Para(f"{name} = {w.text(w.sum(ln, False))} = {w.text(w.sum(ln, True))} = {w.n(ln.value)}"))
    else:
        blocks.append(Para(f"{name} = {w.n(ln.value)}"))
    if ln.note:
        blocks.append(Para(tr(ln.note), "dim"))
    if ln.compact is not None:
        blocks.append(
            Para(_("The compact formula: {formula} = {value}").format(formula=ln.compact[0], value=w.n(ln.compact[1])))
        )
    param = name[4:] if name.startswith("dE/d") else ""
    if param in trace.params:
        eta = trace.scenario.learning_rate
        blocks.append(
            Para(
                _("The update: {name}+ = {name} − η·{grad} = {value} − {eta}·{g} = {new}").format(
                    name=param,
                    grad=name,
                    value=w.n(trace.params[param]),
                    eta=w.n(eta),
                    g=w.p(trace.gradients[param]),
                    new=w.n(trace.values[f"{param}+"]),
                )
            )
        )
    if checks is not None:
        for c in checks.checks:
            parts = []
            if c.sympy is not None:
                parts.append(_("SymPy {value}").format(value=w.n(c.sympy)))
            if c.fd is not None:
                parts.append(_("finite difference {value}").format(value=w.n(c.fd)))
            if c.reason:
                parts.append(tr(c.reason))
            blocks.append(Para(_("Checks: {checks}").format(checks="; ".join(parts)), "good" if checks.ok else "bad"))
        blocks.append(Para(summary(checks), "good" if checks.ok else "bad"))
    return blocks


def explain_data(trace: LayersTrace, name: str, checks: LayersVerification | None) -> dict[str, Any]:
    from bptrace.render.layers_out import line_data, rule_text, verification_data

    sec = trace.section_of(name)
    ln = trace.line(name)
    if sec is None or ln is None:
        return {"kind": "layers", "target": name, "layer": 0, "value": trace.values[name], "why": GIVEN}
    why = WHY.get(_kind(trace, name), "")
    data: dict[str, Any] = {
        "kind": "layers",
        "target": name,
        "layer": sec.layer,
        "type": sec.type,
        "direction": sec.direction,
        "rule": rule_text(sec.rule),
        "why": why,
        "line": line_data(ln),
    }
    param = name[4:] if name.startswith("dE/d") else ""
    if param in trace.params:
        data["new_value"] = trace.values[f"{param}+"]
    if checks is not None:
        data["verification"] = verification_data(checks)
    return data


def lines_of(trace: LayersTrace) -> list[Line]:
    return [ln for sec in (*trace.forward, *trace.backward, trace.update) for ln in sec.lines]
