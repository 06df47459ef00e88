"""Training for many epochs without a per-step trace: the fast path behind `bptrace train`. Never prints.

One epoch is one pass over all samples. Full batch (the default): one update per epoch, the one engine.step
makes. Mini-batches (batch_size B < samples): each epoch shuffles the sample order with a random.Random(seed)
(`order = [0, 1, ..., m−1]`, then `rng.shuffle(order)` at the start of every epoch, the same generator
throughout) and makes one update per consecutive slice of B indices (the last may be shorter); each update
is engine.step on the scenario restricted to that slice, so reduction mean divides by the slice's size.
B = 1 is stochastic gradient descent.

history[k] = E_k, the loss over ALL samples after k epochs (E_0 before training): engine.batch_loss (the
mean or sum over the samples), plus the L2 penalty λ/(2m)·Σ W² when the scenario has one, i.e.
engine.loss_with, the E that `run` shows. With a full batch E_k is also the loss the (k+1)-th step starts from,
so history[0] and history[1] are a trace's loss and loss_after.

Two implementations of the same arithmetic, chosen by size (`choose_path`):
  * "scalar": a straight-line Python kernel generated for the scenario (kernel.py), for small networks,
    where numpy's per-call overhead (about 1 µs a call, dozens of calls a step) would dominate;
  * "numpy":  preallocated arrays, in-place ufuncs with out=, one matmul per product, for large ones.
Both agree with engine.step repeated to rounding (tests/test_train.py checks 1e-12).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace import functions as network
from bptrace.display import Displayable
from bptrace.errors import BptraceError, NumericalError
from bptrace.i18n import _

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bptrace.model.scenario import Parameter, Scenario

# Per update, the scalar kernel costs about 40-60 ns per (sample × parameter) of the batch and nothing per
# call; the numpy path costs about 23 µs for a small 2-layer network (some 40 ufunc calls at ~0.5 µs each)
# plus well under 1 ns per (sample × parameter). Measured on the benchmark machine (docs/training.md), they
# cross near 500-900 sample-parameters per update; at or below SCALAR_WORK the scalar kernel is used.
SCALAR_WORK = 500
SNAPSHOT_PARAMETERS = 200  # snapshots keep every parameter's value only for networks up to this size
PATHS = ("auto", "scalar", "numpy")


@dataclass(frozen=True)
class Snapshot:
    """The state after `epoch` epochs: the loss over all samples and (small networks) every parameter."""

    epoch: int
    loss: float
    values: tuple[float, ...] | None  # in Scenario.parameters() order; None for large networks


@dataclass(repr=False)
class TrainingResult(Displayable):
    """The outcome of `train`: the scenario before and after, the loss curve and the snapshots.

    It shows itself (bptrace/display.py) as `bptrace train` prints it: a one-line repr, the tables and the
    loss chart with rich (`rich.print(result)`, `bptrace.show(result)`), and their HTML in a notebook."""

    initial: Scenario
    final: Scenario
    epochs: int
    batch_size: int  # the effective batch size (the number of samples for a full batch)
    seed: int
    path: str  # "scalar" or "numpy": the implementation that ran
    updates: int  # parameter updates made: epochs × ceil(samples / batch_size)
    history: list[float]  # E_0, E_1, ..., E_epochs (or only the kept ones: see history_epochs)
    snapshots: list[Snapshot] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the training loop
    history_epochs: list[int] | None = None  # train(keep=N): history[i] is E at this epoch; None: at epoch i
    # the scalar kernel's forward pass of the initial and the final parameters (output_rows); None: numpy path
    kernel_outputs: tuple[list[list[float]], list[list[float]]] | None = None

    def curve(self) -> list[tuple[int, float]]:
        """(epoch k, E_k) for every kept point of the loss curve, in order (always E_0, E_1 and E_N)."""
        if self.history_epochs is None:
            return list(enumerate(self.history))
        return list(zip(self.history_epochs, self.history))

    @property
    def full_batch(self) -> bool:
        return self.batch_size >= self.initial.samples

    def parameters(self) -> list[tuple[Parameter, float, float]]:
        """(parameter, initial value, final value) for every parameter, in Scenario.parameters() order."""
        return [
            (p, a, b)
            for p, a, b in zip(self.initial.parameters(), flat_parameters(self.initial), flat_parameters(self.final))
        ]

    def outputs(self) -> NDArray[np.float64]:
        """The final network's outputs for every sample, shape (samples, outputs) (engine.forward)."""
        from bptrace.engine.step import forward

        return forward(self.final.with_arrays())[1][-1]

    def initial_outputs(self) -> NDArray[np.float64]:
        from bptrace.engine.step import forward

        return forward(self.initial.with_arrays())[1][-1]

    def output_rows(self, final: bool = True) -> list[list[float]]:
        """The output layer's out for every forward pass, rows as in outputs() (with max_margin the samples'
        passes, then the corrupt windows'), after training (final=False: before) as floats: the scalar
        kernel's own forward pass when that path ran (no numpy needed), else engine.forward's."""
        if self.kernel_outputs is not None:
            return self.kernel_outputs[1 if final else 0]
        rows: list[list[float]] = (self.outputs() if final else self.initial_outputs()).tolist()
        return rows

    def _view(self) -> object:  # bptrace/display.py: the report `bptrace train` prints
        from bptrace.render.training import TrainingView

        return TrainingView(self)

    def _summary(self) -> str:
        n = self.epochs
        return (
            f"{self.initial.title!r}: {n} epoch{'s' if n != 1 else ''} ({self.updates} updates), "
            f"E {self.history[0]:.9g} -> {self.history[-1]:.9g}"
        )


# ---------------------------------------------------------------------------------------------------
# Parameters as one flat list (Scenario.parameters() order: per layer, weights row by row, then biases)


def flat_parameters(scenario: Scenario) -> list[float]:
    out: list[float] = []
    for layer in scenario.layers:
        out += layer.weights.ravel().tolist() + layer.biases.tolist()
    return out


def with_parameters(scenario: Scenario, flat: list[float]) -> Scenario:
    """A copy of `scenario` whose parameters are the values of `flat` (the inverse of flat_parameters);
    numpy arrays, or Floats for a plain scenario (Scenario.plain)."""
    import dataclasses

    if scenario.plain:
        from bptrace.model.floats import Floats

        def values(part: list[float], shape: tuple[int, ...]) -> Any:
            return Floats(part, shape)
    else:
        import numpy as np

        def values(part: list[float], shape: tuple[int, ...]) -> Any:
            return np.array(part, dtype=float).reshape(shape)

    layers = []
    k = 0
    for layer in scenario.layers:
        nw, nb = layer.weights.size, layer.biases.size
        w = values(flat[k : k + nw], layer.weights.shape)
        b = values(flat[k + nw : k + nw + nb], layer.biases.shape)
        k += nw + nb
        layers.append(dataclasses.replace(layer, weights=w, biases=b))
    return scenario.with_changes(layers=tuple(layers))


def batch_count(samples: int, batch_size: int) -> int:
    """Updates per epoch: ceil(samples / batch_size)."""
    return -(-samples // batch_size)


def work(scenario: Scenario, batch_size: int | None = None) -> int:
    """The size measure `choose_path` uses: samples per update × parameters."""
    b = scenario.samples if batch_size is None else min(batch_size, scenario.samples)
    return b * scenario.parameter_count()


def choose_path(scenario: Scenario, batch_size: int | None = None) -> str:
    """ "scalar" when samples-per-update × parameters <= SCALAR_WORK (and the kernel stays small), else "numpy"."""
    from bptrace.engine.kernel import MAX_PARAMETERS

    if work(scenario, batch_size) <= SCALAR_WORK and scenario.parameter_count() <= MAX_PARAMETERS:
        return "scalar"
    return "numpy"


def estimate_seconds(scenario: Scenario, epochs: int, batch_size: int | None = None, path: str = "auto") -> float:
    """A rough forecast of train()'s run time from fixed per-update costs, without running anything (a first
    guess: `bptrace train` measures a long run with measure_seconds before announcing it)."""
    b = scenario.samples if batch_size is None else min(batch_size, scenario.samples)
    updates = epochs * batch_count(scenario.samples, b)
    chosen = choose_path(scenario, b) if path == "auto" else path
    per_update = 45e-9 * work(scenario, b) if chosen == "scalar" else 25e-6 + 0.1e-9 * work(scenario, b)
    return updates * per_update


MEASURE_SECONDS = 0.25  # measure_seconds times a short run of about this long
MEASURE_SHARE = 8  # ... and of at most 1/MEASURE_SHARE of the epochs asked (an extrapolation, not the run itself)


def measure_seconds(
    scenario: Scenario,
    epochs: int,
    batch_size: int | None = None,
    *,
    seed: int = 0,
    path: str = "auto",
    keep: int | None = None,
    sink: Callable[[int, list[float]], None] | None = None,
    budget: float = MEASURE_SECONDS,
) -> float:
    """A forecast of train()'s loop time from a short measured run: the same path (the generated kernel or
    numpy), batch size, `keep` and `sink` as the run will use, timed on 16, 64, 256, ... epochs until a run
    takes a quarter of `budget` (or reaches 1/MEASURE_SHARE of `epochs`), then scaled to `epochs`.

    estimate_seconds' fixed per-update costs are only a first guess (they were 3-10x low on the bundled
    scenarios); this measures the machine it runs on, in about `budget` seconds. A run that diverges while
    being measured is measured up to its failure (train() reports the divergence)."""
    if epochs <= 0:
        return 0.0
    b = scenario.samples if batch_size is None else min(batch_size, scenario.samples)
    _, runner = _runner(scenario, b, seed, path)
    curve = _Curve(keep, {0, 1}, sink)
    trial = 16
    done = 0
    spent = 0.0
    cap = max(1, epochs // MEASURE_SHARE)
    try:
        runner.run(1)  # warm up (first calls, buffers), not timed
        curve.take(runner.history)
        runner.history = []
        while True:
            n = min(trial, cap)
            started = time.perf_counter()
            runner.run(n)
            curve.take(runner.history)
            runner.history = []
            took = time.perf_counter() - started
            done, spent = done + n, spent + took
            if took >= budget / 4 or n >= cap:
                return took / n * epochs
            trial *= 4
    except (OverflowError, ZeroDivisionError, ValueError):  # diverged: train() says so, with its epoch
        return spent / max(done, 1) * epochs


def _runner(scenario: Scenario, b: int, seed: int, path: str) -> tuple[str, _Runner]:
    chosen = choose_path(scenario, b) if path == "auto" else path
    if chosen == "scalar":
        from bptrace.engine.kernel import MAX_PARAMETERS

        if scenario.parameter_count() > MAX_PARAMETERS:
            raise BptraceError(
                _("the scalar kernel is limited to {limit} parameters, this network has {count}").format(
                    limit=MAX_PARAMETERS, count=scenario.parameter_count()
                ),
                hint=_("use the numpy path"),
            )
        return chosen, _ScalarRunner(scenario, b, seed)
    return chosen, _NumpyRunner(scenario.with_arrays(), b, seed)


# ---------------------------------------------------------------------------------------------------
# The driver


def train(
    scenario: Scenario,
    epochs: int,
    *,
    batch_size: int | None = None,
    seed: int = 0,
    every: int | None = None,
    path: str = "auto",
    progress: Callable[[int], None] | None = None,
    keep: int | None = None,
    sink: Callable[[int, list[float]], None] | None = None,
) -> TrainingResult:
    """Train `scenario` for `epochs` epochs and return the loss curve and the parameters before and after.

    batch_size None (or >= the number of samples) means full batch; `seed` seeds the mini-batch shuffle;
    `every` K records a Snapshot at epochs 0, K, 2K, ... and the last; `path` forces "scalar" or "numpy";
    `progress(epochs_done)` is called between chunks of epochs (for a progress bar).

    The memory of a long run is bounded by `keep` and `sink`: `sink(first_epoch, losses)` receives every
    E_k in order as the run goes (a CSV streamed to disk), and with `keep` N the result keeps only about
    N evenly spaced points of the curve (always E_0, E_1, E_N and the snapshots' epochs; see
    TrainingResult.history_epochs), so a billion epochs hold kilobytes, not gigabytes.
    """
    if epochs < 0:
        raise BptraceError(_("--epochs must be 0 or more, got {n}").format(n=epochs))
    if batch_size is not None and batch_size < 1:
        raise BptraceError(_("--batch-size must be at least 1, got {n}").format(n=batch_size))
    if every is not None and every < 1:
        raise BptraceError(_("--every must be at least 1, got {n}").format(n=every))
    if path not in PATHS:
        raise BptraceError(
            _("unknown training path {path!r}").format(path=path),
            hint=_("choose one of {choices}").format(choices=", ".join(PATHS)),
        )
    m = scenario.samples
    b = m if batch_size is None else min(batch_size, m)
    chosen, runner = _runner(scenario, b, seed, path)

    stops = _stops(epochs, every, progress is not None, DRAIN_EVERY if keep is not None or sink is not None else None)
    curve = _Curve(keep, {0, 1, epochs} | (set(range(0, epochs, every)) if every else set()), sink)
    keep_values = every is not None and scenario.parameter_count() <= SNAPSHOT_PARAMETERS
    snapshot_values: dict[int, tuple[float, ...] | None] = {}
    if every is not None:
        snapshot_values[0] = tuple(flat_parameters(scenario)) if keep_values else None
    done = stop = 0
    started = time.perf_counter()
    try:
        for stop in stops:
            runner.run(stop - done)
            curve.take(runner.history)
            runner.history = []
            done = stop
            if every is not None and (done % every == 0 or done == epochs):
                snapshot_values[done] = tuple(runner.parameters()) if keep_values else None
            if progress is not None:
                progress(done)
        curve.take(runner.finish())
    except (OverflowError, ZeroDivisionError, ValueError) as exc:  # math.exp/log, x/0.0 in the kernel
        raise NumericalError(
            _("training stopped between epochs {done} and {stop}: {error}").format(done=done, stop=stop, error=exc),
            hint=_("the loss diverged or an output saturated; use a smaller learning rate"),
        ) from None
    seconds = time.perf_counter() - started
    final_flat = runner.parameters()
    bad = curve.first_bad
    if bad is not None or not all(math.isfinite(v) for v in final_flat):
        raise NumericalError(
            _("training diverged: the loss is not a finite number after {n} epochs").format(n=bad)
            if bad is not None
            else _("training diverged: the loss is not a finite number in the parameters"),
            hint=_("use a smaller learning rate, or smaller weights or inputs"),
        )
    history, history_epochs = curve.result()
    snapshots = [Snapshot(k, curve.loss_at(k), v) for k, v in sorted(snapshot_values.items())]
    outputs = None
    if isinstance(runner, _ScalarRunner):  # the kernel's forward pass: no numpy for the outputs table
        outputs = (runner.kernel.outputs(flat_parameters(scenario)), runner.kernel.outputs(final_flat))
    return TrainingResult(
        initial=scenario,
        final=with_parameters(scenario, final_flat),
        epochs=epochs,
        batch_size=b,
        seed=seed,
        path=chosen,
        updates=epochs * batch_count(m, b),
        history=history,
        snapshots=snapshots,
        seconds=seconds,
        history_epochs=history_epochs,
        kernel_outputs=outputs,
    )


DRAIN_EVERY = 100_000  # with keep or sink: epochs between handing the losses on (bounds the memory)


def _stops(epochs: int, every: int | None, chunked: bool, drain: int | None = None) -> list[int]:
    """Epoch counts at which the runner pauses: snapshot epochs, ~200 progress ticks when wanted, and
    every `drain` epochs."""
    stops = {epochs}
    if every is not None:
        stops.update(range(every, epochs, every))
    if chunked and epochs:
        tick = max(1, epochs // 200)
        stops.update(range(tick, epochs, tick))
    if drain:
        stops.update(range(drain, epochs, drain))
    return sorted(s for s in stops if s > 0)


class _Curve:
    """The losses E_0, E_1, ... as they come: all of them, or (keep=N) about N evenly spaced ones plus
    the pinned epochs; each handed to `sink` first. Notes the first epoch whose loss is not finite."""

    def __init__(self, keep: int | None, pinned: set[int], sink: Callable[[int, list[float]], None] | None) -> None:
        self.keep = keep
        self.pinned = sorted(pinned)
        self.sink = sink
        self.count = 0  # losses seen so far: the next one is E_count
        self.all: list[float] = []
        self.kept: dict[int, float] = {}
        self.at_pins: dict[int, float] = {}
        self.stride = 1
        self.first_bad: int | None = None

    def take(self, losses: list[float]) -> None:
        import bisect

        first, n = self.count, len(losses)
        if not n:
            return
        if self.first_bad is None and not all(map(math.isfinite, losses)):
            self.first_bad = first + next(i for i, e in enumerate(losses) if not math.isfinite(e))
        if self.sink is not None:
            self.sink(first, losses)
        self.count += n
        if self.keep is None:
            self.all.extend(losses)
            return
        for k in self.pinned[bisect.bisect_left(self.pinned, first) : bisect.bisect_left(self.pinned, first + n)]:
            self.at_pins[k] = losses[k - first]
        start = (-first) % self.stride
        self.kept.update(zip(range(first + start, first + n, self.stride), losses[start :: self.stride]))
        while len(self.kept) > self.keep:  # twice as far apart: every other point goes
            self.stride *= 2
            self.kept = {k: e for k, e in self.kept.items() if k % self.stride == 0}

    def loss_at(self, epoch: int) -> float:
        return self.all[epoch] if self.keep is None else self.at_pins[epoch]

    def result(self) -> tuple[list[float], list[int] | None]:
        """(history, history_epochs) for TrainingResult."""
        if self.keep is None:
            return self.all, None
        points = sorted({**self.kept, **self.at_pins}.items())
        return [e for _, e in points], [k for k, _ in points]


class _Runner:
    """The interface both paths implement."""

    history: list[float]  # the losses since the last hand-over (train() empties it after each chunk)

    def run(self, epochs: int) -> None:
        raise NotImplementedError

    def parameters(self) -> list[float]:
        raise NotImplementedError

    def finish(self) -> list[float]:
        """The complete history E_0..E_N once all epochs have run."""
        raise NotImplementedError


class _ScalarRunner(_Runner):
    """Runs the generated kernel; its parameters travel as a flat list between chunks."""

    def __init__(self, scenario: Scenario, batch_size: int, seed: int) -> None:
        from bptrace.engine.kernel import build

        self.m = scenario.samples
        self.batch_size = batch_size
        self.kernel = build(scenario, minibatch=not self.full)
        self.p = flat_parameters(scenario)
        self.history: list[float] = []
        self.order = list(range(self.m))
        self.shuffle = random.Random(seed).shuffle
        if not self.full:
            self.history.append(self.kernel.loss(self.p))  # E_0; each epoch appends the loss after it

    @property
    def full(self) -> bool:
        return self.batch_size >= self.m

    def run(self, epochs: int) -> None:
        if self.full:
            # appends E_k, the loss each step starts from
            self.p = self.kernel.full(self.p, epochs, self.history)
        else:
            assert self.kernel.minibatch is not None  # built for mini-batches (not self.full)
            self.p = self.kernel.minibatch(self.p, epochs, self.history, self.shuffle, self.order, self.batch_size)

    def parameters(self) -> list[float]:
        return list(self.p)

    def finish(self) -> list[float]:
        if self.full:
            self.history.append(self.kernel.loss(self.p))  # E_N: no step starts from it
        return self.history


class _NumpyRunner(_Runner):
    """The numpy path: parameters and every intermediate in preallocated float64 arrays, updated in place.

    The same formulas as engine.trace, with out= everywhere so that a step allocates (almost) nothing:
        forward   Z = A_prev·Wᵀ (+ b),  A = f(Z)   (the objective's passes: the hinge's b windows, then their x_c)
        output    G = ∂E_s/∂out (Objective.gradient_inplace),  D = G ⊙ f′  (softmax: D = A ⊙ (G − Σ G⊙A))
        backward  G_prev = D·W (before W changes),  W ← (1 − η·λ/b)·W − (η·scale·D)ᵀ·A_prev,
                  b ← b − η·scale·Σ_s D
    """

    def __init__(self, scenario: Scenario, batch_size: int, seed: int) -> None:
        import numpy as np

        self.s = scenario
        self.layers = scenario.layers
        self.W = [np.array(layer.weights, dtype=float, order="C") for layer in scenario.layers]
        self.B = [np.array(layer.biases, dtype=float) for layer in scenario.layers]
        self.objective = scenario.objective
        self.X = np.ascontiguousarray(scenario.inputs, dtype=float)
        # a sample's data besides its inputs: its targets, or the hinge's corrupt window
        self.second = np.ascontiguousarray(self.objective.second_rows(scenario.targets, scenario.corrupt), dtype=float)
        self.X_all = np.ascontiguousarray(scenario.all_inputs(), dtype=float)  # every forward pass's row
        self.T = np.ascontiguousarray(scenario.targets, dtype=float)
        self.m = scenario.samples
        self.batch_size = batch_size
        self.eta = scenario.learning_rate
        self.l2 = float(scenario.l2)
        self.mean = scenario.reduction == "mean"
        self.cancels_fprime = self.objective.cancels(scenario.output_layer.activation)
        self.buffers: dict[int, _Buffers] = {}
        # softmax + cross_entropy: out_j(−t_j/out_j + Σ_i t_i) = out_j − t_j when every row of targets sums to
        # exactly 1 in float64 (one-hot targets do); the engine's general formula gives the same to rounding.
        self.cancels = (
            scenario.loss == "cross_entropy"
            and scenario.output_layer.activation == "softmax"
            and bool(np.all(self.T.sum(axis=1) == 1.0))
        )
        self.order = list(range(self.m))
        self.shuffle = random.Random(seed).shuffle
        self.history: list[float] = []
        if not self.full:
            self.history.append(self.loss())

    @property
    def full(self) -> bool:
        return self.batch_size >= self.m

    def buffers_for(self, samples: int) -> _Buffers:
        if samples not in self.buffers:
            self.buffers[samples] = _Buffers(self.s, samples)
        return self.buffers[samples]

    # ---- the public steps ----
    def run(self, epochs: int) -> None:
        import numpy as np

        with np.errstate(all="ignore"):  # non-finite values are caught by train() at the end
            if self.full:
                buf = self.buffers_for(self.m)
                for _ in range(epochs):
                    self.history.append(self.step(self.X_all, self.T, buf, self.m, want_loss=True))
                return
            size = self.batch_size
            for _ in range(epochs):
                self.shuffle(self.order)
                for start in range(0, self.m, size):
                    idx = np.array(self.order[start : start + size], dtype=np.intp)
                    b = len(idx)
                    buf = self.buffers_for(b)
                    self.objective.gather(idx, self.X, self.second, buf.X, buf.T)
                    self.step(buf.X, buf.T, buf, b, want_loss=False)
                self.history.append(self.loss())

    def parameters(self) -> list[float]:
        out: list[float] = []
        for w, b in zip(self.W, self.B):
            out += w.ravel().tolist() + b.tolist()
        return out

    def finish(self) -> list[float]:
        if self.full:
            self.history.append(self.loss())
        return self.history

    def loss(self) -> float:
        """E over all samples for the current parameters (forward pass only), with the L2 penalty."""
        import numpy as np

        with np.errstate(all="ignore"):  # non-finite values are caught by train() at the end
            buf = self.buffers_for(self.m)
            self.forward(self.X_all, buf)
            return self.batch_loss(buf.A[-1], self.T, buf, self.m) + self.penalty()

    # ---- the arithmetic ----
    def penalty(self) -> float:
        """engine.penalty: λ/(2m)·Σ W² over every weight, m all the samples."""
        import numpy as np

        if not self.l2:
            return 0.0
        return self.l2 / (2 * self.m) * sum(float(np.vdot(w, w)) for w in self.W)

    def forward(self, X: NDArray[np.float64], buf: _Buffers) -> None:
        import numpy as np

        a = X
        for i, layer in enumerate(self.layers):
            z = buf.Z[i]
            np.matmul(a, self.W[i].T, out=z)
            if layer.bias_mode == "neuron":
                np.add(z, self.B[i], out=z)
            elif layer.bias_mode == "shared":
                np.add(z, self.B[i][0], out=z)
            layer.function.forward_inplace(z, buf.A[i], buf.F[i], buf.mask[i], buf.col[i], layer.param)
            a = buf.A[i]

    def batch_loss(self, a: NDArray[np.float64], t: NDArray[np.float64], buf: _Buffers, samples: int) -> float:
        """E = reduce_s Σ_j term(t_sj, out_sj), as engine.batch_loss (mean over the samples, or sum)."""
        total = self.objective.total_inplace(a, t, buf, samples)  # Σ_s E_s, in place
        return total / samples if self.mean else total

    def step(
        self, X: NDArray[np.float64], T: NDArray[np.float64], buf: _Buffers, samples: int, want_loss: bool
    ) -> float:
        """One update on a batch of `samples` samples (rows X, targets T); returns E before it when want_loss."""
        import numpy as np

        self.forward(X, buf)
        L = len(self.layers)
        loss = self.batch_loss(buf.A[-1], T, buf, samples) + self.penalty() if want_loss else 0.0
        lr = self.eta / samples if self.mean else self.eta  # η·scale
        decay = 1.0 - self.eta * self.l2 / samples  # W − η·λ/b·W = (1 − η·λ/b)·W
        a, d = buf.A[-1], buf.D[-1]
        if self.cancels:
            np.subtract(a, T, out=d)  # softmax + cross_entropy with Σ_j t_j = 1: δ = out − t
        else:
            self.objective.gradient_inplace(a, T, d, buf, samples)  # d = ∂E_s/∂out of every pass
        for i in reversed(range(L)):
            layer = self.layers[i]
            a, z, d, f = buf.A[i], buf.Z[i], buf.D[i], buf.F[i]
            # d holds ∂E_s/∂out; make it δ = ∂E_s/∂net
            if i == L - 1 and self.cancels:
                pass
            elif isinstance(layer.function, network.SoftmaxActivation):
                layer.function.jacobian_delta_inplace(a, d, f, buf.col[i])
            elif layer.activation != "linear":
                layer.function.prime_inplace(z, a, f, buf.F2[i], buf.mask[i], layer.param)
                np.multiply(d, f, out=d)
                if i == L - 1 and self.cancels_fprime:
                    # as engine.step: δ = out − t where f′ is saturated (∂E/∂out no longer cancels it)
                    saturated = layer.function.saturated(z)
                    if saturated.any():
                        np.copyto(d, a - T, where=saturated)
            if i > 0:
                # ∂E_s/∂out_prev = δ·W, with W as it was before this step
                np.matmul(d, self.W[i], out=buf.D[i - 1])
            # W −= (η·scale·δ)ᵀ·A_prev: scaling δ (rows × n) is cheaper than scaling the gradient (n × n_prev)
            np.multiply(d, lr, out=d)
            gw = buf.GW[i]
            np.matmul(d.T, X if i == 0 else buf.A[i - 1], out=gw)
            if self.l2:
                np.multiply(self.W[i], decay, out=self.W[i])
            np.subtract(self.W[i], gw, out=self.W[i])
            if self.s.update_biases:
                if layer.bias_mode == "neuron":
                    gb = buf.GB[i]
                    np.add.reduce(d, axis=0, out=gb)
                    np.subtract(self.B[i], gb, out=self.B[i])
                elif layer.bias_mode == "shared":
                    self.B[i][0] -= float(d.sum())  # a shared bias feeds every neuron: Σ over all δ
        return loss


class _Buffers:
    """Every array one step on a batch of `samples` samples needs, allocated once."""

    def __init__(self, scenario: Scenario, samples: int) -> None:
        import numpy as np

        sizes = [layer.size for layer in scenario.layers]
        n_out = sizes[-1]
        rows = scenario.objective.windows * samples  # forward passes
        self.X = np.empty((rows, len(scenario.input_names)))
        self.T = np.empty((samples, scenario.targets.shape[1]))
        self.H = np.empty(samples)  # the hinge's h per sample
        self.H2 = np.empty(samples)
        self.Z = [np.empty((rows, n)) for n in sizes]
        # linear: out is net itself (nothing changes net after the forward pass)
        self.A = [z if layer.activation == "linear" else np.empty_like(z) for z, layer in zip(self.Z, scenario.layers)]
        self.D = [np.empty((rows, n)) for n in sizes]
        self.F = [np.empty((rows, n)) for n in sizes]
        self.F2 = [np.empty((rows, n)) for n in sizes]
        self.mask = [np.empty((rows, n), dtype=bool) for n in sizes]
        self.col = [np.empty((rows, 1)) for _ in sizes]
        self.GW = [np.empty_like(layer.weights, dtype=float, order="C") for layer in scenario.layers]
        self.GB = [np.empty(layer.size) for layer in scenario.layers]
        self.R = np.empty((rows, n_out))
        self.R2 = np.empty((rows, n_out))
        self.Q = np.empty((rows, n_out))
        self.tmask = np.empty((rows, n_out), dtype=bool)
