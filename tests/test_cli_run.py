"""`bptrace run` and `bptrace scenarios` as a user runs them: exit statuses, stdout, stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mazur_reference
import numpy as np
import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.model.scenario import bundled_names


def _mazur_shown() -> list[tuple[str, str, str]]:
    """(quantity, as bptrace shows it: the exact value to nine significant digits, as the post prints it)."""
    rows = [(name, mazur_reference.exact(name), mazur_reference.published(name)) for name in mazur_reference.QUANTITIES]
    after = mazur_reference.ERRATA["E_total@1"]  # the post's own rule; it prints the erratum 0.291027924
    rows.append(("E_total@1", after["exact"], after["original_weights"]))
    return [(name, f"{float(exact):.9g}", published) for name, exact, published in rows]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_run_mazur_shows_every_published_number() -> None:
    code, out, err = run("run", "scenarios/mazur.yaml", "--verify", "off")
    assert code == 0, err
    for name, shown, published in _mazur_shown():
        assert shown in out, (name, shown)
        # and what is shown is the published number, to the digits the shorter of the two writes
        tolerance = max(mazur_reference.unit(shown), mazur_reference.unit(published)) * (1 + 1e-9)
        assert abs(float(shown) - float(published)) <= tolerance, (name, shown, published)
    # the hidden sum over paths, written out term by term
    assert "δ_o1·w5 + δ_o2·w7" in out
    assert "0.0553994247 + (-0.0190491183)" in out


def test_run_without_argument_is_mazur_and_name_resolves() -> None:
    a = run("run", "--verify", "off")
    b = run("run", "mazur", "--verify", "off")
    assert a[0] == b[0] == 0
    assert a[1] == b[1]
    assert mazur_reference.published("out_o1") in a[1]


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_scenario_runs(name: str) -> None:
    code, out, err = run("run", name, "--verify", "off")
    assert code == 0, err
    assert "Loss after the update" in out


@pytest.mark.parametrize("name", bundled_names())
def test_json_is_exact_and_byte_identical(name: str) -> None:
    code, out, err = run("run", name, "--format", "json", "--verify", "off")
    assert code == 0, err
    again = run("run", name, "--format", "json", "--verify", "off")[1]
    assert out == again
    data = json.loads(out)
    import bptrace

    t = bptrace.run(name)
    assert data["loss"]["total"] == t.loss
    assert data["loss"]["after_update"] == t.loss_after
    assert len(data["parameters"]) == t.scenario.parameter_count()
    for entry, p in zip(data["parameters"], t.scenario.parameters()):
        assert entry["name"] == p.name and entry["kind"] == p.kind
        assert (entry["layer"], entry["row"], entry["col"]) == (p.layer, p.row, p.col)
        assert entry["grad"] == t.grad(p) and entry["new_value"] == t.new_value(p)
        # the factors multiply (a shared bias: add) to each pass's gradient, which reduce to the batch gradient
        products = t.per_sample(np.array([f[f["combine"]] for f in entry["factors"]]))
        assert list(products) == pytest.approx(list(t.sample_grad(p)), rel=1e-12, abs=1e-15)
    assert {n["name"] for n in data["neurons"]} >= set(t.scenario.output_layer.neurons)


def test_json_mazur_fields() -> None:
    data = json.loads(run("run", "--format", "json", "--verify", "off")[1])
    w5 = next(p for p in data["parameters"] if p["name"] == "w5")
    assert (w5["kind"], w5["layer"], w5["row"], w5["col"]) == ("weight", 2, 0, 0)
    assert w5["factors"][0]["names"] == ["dE/dout_o1", "dout_o1/dnet_o1", "dnet_o1/dw5"]
    b1 = next(p for p in data["parameters"] if p["name"] == "b1")
    assert b1["row"] is None and b1["col"] is None and b1["new_value"] == b1["value"] == 0.35
    for name in ("delta_o1", "dE_o2/dout_h1", "w7+"):
        assert mazur_reference.agrees(data["quantities"][name], mazur_reference.published(name)), name


def test_digits_and_ascii() -> None:
    code, out, _ = run("run", "--digits", "4", "--ascii", "--verify", "off")
    assert code == 0
    assert "0.7514" in out and mazur_reference.published("out_o1") not in out
    assert all(ord(ch) < 128 for ch in out), [ch for ch in out if ord(ch) >= 128][:5]


def test_numbers_are_never_cut_in_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = run("run", "--verify", "off")
    assert code == 0
    assert "…" not in out.replace("… ", "")  # no ellipsis inside a number
    shown = {name: value for name, value, _ in _mazur_shown()}
    for name in ("dE/dw5", "dE/dw1", "E_total@1"):
        assert shown[name] in out, name


def test_layer_and_rows_limit() -> None:
    code, out, _ = run("run", "deep_general_delta", "--layer", "1", "--rows", "2", "--verify", "off")
    assert code == 0
    assert "Forward pass, layer 1" in out and "Forward pass, layer 2" not in out
    assert "more" in out and "not shown" in out
    code, _, err = run("run", "--layer", "9")
    assert code == 2 and "--layer 9" in err


def test_unknown_bundled_name_lists_the_bundled_ones() -> None:
    code, out, err = run("run", "mazr")
    assert code == 2
    assert "mazur" in err and "did you mean mazur?" in err
    assert "Traceback" not in err


def test_scenarios_lists_titles() -> None:
    code, out, _ = run("scenarios")
    assert code == 0
    for name in bundled_names():
        assert name in out
    assert "Mazur" in out


def test_help_does_not_import_numpy_or_sympy() -> None:
    code = (
        "import sys; from bptrace.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('numpy' in sys.modules, 'sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False False")


def test_import_bptrace_is_cheap() -> None:
    code = "import sys, bptrace; print('numpy' in sys.modules, 'sympy' in sys.modules, 'rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False False"


def test_output_file(tmp_path) -> None:
    target = tmp_path / "trace.json"
    code, out, _ = run("run", "--format", "json", "-o", str(target), "--verify", "off")
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["loss"]["total"] > 0


def test_fast_titles_equal_the_parsed_titles() -> None:
    """`bptrace scenarios` reads titles without parsing whole files; they must equal the loader's."""
    import bptrace
    from bptrace.graph import model as graph_model
    from bptrace.layers import model as layers_model
    from bptrace.model.scenario import bundled_graph_names, bundled_rnn_names, bundled_titles
    from bptrace.rnn import model as rnn_model

    graphs, rnns = bundled_graph_names(), bundled_rnn_names()
    stacks = layers_model.bundled_layers_names()
    for name, title in bundled_titles():
        if name in rnns:
            assert title == rnn_model.load(name).title
            continue
        loaded = graph_model.load(name) if name in graphs else layers_model.load(name) if name in stacks else None
        assert title == (loaded if loaded is not None else bptrace.load(name)).title


@pytest.mark.parametrize("notation", ["scalar", "matrix", "index"])
def test_ascii_output_is_ascii_in_every_notation(notation: str) -> None:
    for name in ("mazur", "cs224n_window", "learner_004"):
        code, out, err = run("run", name, "--notation", notation, "--ascii", "--verify", "off")
        assert code == 0, err
        assert out.isascii(), [ch for ch in out if not ch.isascii()][:5]


def test_verify_full_on_a_huge_network_is_refused_with_the_way_out(tmp_path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    text = (
        f"inputs: {rng.random(100).round(2).tolist()}\ntargets: [1]\nlayers:\n"
        f"  - activation: tanh\n    weights: {rng.uniform(-0.1, 0.1, (60, 100)).round(3).tolist()}\n"
        f"  - activation: sigmoid\n    weights: {rng.uniform(-0.1, 0.1, (1, 60)).round(3).tolist()}\n"
    )
    (tmp_path / "big.yaml").write_text(text)
    code, out, err = run("run", str(tmp_path / "big.yaml"), "--verify", "full")
    assert code == 2 and out == ""
    assert "--verify full on 6,060 parameters would take far too long" in err and "--verify sample" in err


def test_an_error_while_writing_leaves_no_file(tmp_path) -> None:
    from bptrace.cli.common import write_output
    from bptrace.errors import BptraceError

    def chunks():
        yield "{"
        raise BptraceError("stopped half-way")

    target = tmp_path / "out.json"
    with pytest.raises(BptraceError):
        write_output(chunks(), str(target))
    assert list(tmp_path.iterdir()) == []
    write_output("done\n", str(target))
    assert target.read_text() == "done\n" and oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_run_imports_no_other_commands_code() -> None:
    # the commands of other modules are added when first looked up (cli.main.LAZY_COMMANDS): `run` stays lean
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bptrace", "run", "mazur", "--verify", "off"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "bptrace.engine.step" in imported  # the measurement sees bptrace's own imports
    for module in ("bptrace.cli.check", "bptrace.grading.diagnose", "bptrace.quiz.model", "bptrace.cli.train"):
        assert module not in imported, module
    assert "Mazur" in result.stdout


@pytest.mark.parametrize("args", [("run", "mazur"), ("run", "mazur", "--format", "json"), ("explain", "w5")])
def test_run_and_explain_spare_sympys_imports_on_first_use(args: tuple[str, ...]) -> None:
    # symbolic.spared_imports: Add.flatten's sympy.tensor.tensor (and sympy.combinatorics with it) and the
    # pretty printer's sympy.physics.units are stand-ins while SymPy works; the output is that of the real ones
    # (tests/test_symbolic.py compares them)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bptrace", *args], capture_output=True, text=True, check=True
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "sympy.core.add" in imported and "bptrace.verify.symbolic" in imported  # SymPy did run
    for module in ("sympy.tensor.tensor", "sympy.combinatorics", "sympy.physics.units"):
        assert module not in imported, module


@pytest.mark.parametrize("args", [("run", "scenarios/mazur.yaml"), ("explain", "w5")])
def test_a_network_file_without_kind_imports_no_other_kinds_loader(args: tuple[str, ...]) -> None:
    # model.scenario.may_declare_kind: no 'kind' in the file (or the default scenario): a network for certain
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bptrace", *args], capture_output=True, text=True, check=True
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "bptrace.model.scenario" in imported
    for module in ("bptrace.rnn.model", "bptrace.graph.model", "bptrace.layers.model", "bptrace.cli.graph"):
        assert module not in imported, module


def test_may_declare_kind_reads_the_file_as_the_loaders_do(tmp_path) -> None:
    from bptrace.errors import ScenarioError
    from bptrace.model.scenario import may_declare_kind

    (tmp_path / "net.yaml").write_text("inputs: [1]\n# a comment that says kind\n")
    assert not may_declare_kind(None) and not may_declare_kind("mazur") and not may_declare_kind("no_such_name")
    assert may_declare_kind("graph_circuit") and may_declare_kind("rnn_tiny") and may_declare_kind("layers_batchnorm")
    assert may_declare_kind(str(tmp_path / "net.yaml"))  # 'kind' in a comment: the loaders look closer
    with pytest.raises(ScenarioError, match="no such file"):
        may_declare_kind(str(tmp_path / "missing.yaml"))


def test_the_command_without_interpreter_shutdown_keeps_status_stderr_and_files(tmp_path) -> None:
    # cli.main._exit: `python -m bptrace` ends with os._exit after flushing; the same bytes, the same -o file and
    # the same exit status as with the ordinary shutdown (BPTRACE_FULL_SHUTDOWN=1)
    import os

    root = Path(__file__).resolve().parent.parent
    student = root / "examples" / "student_cross_entropy.yaml"
    cases = [
        (["run", "mazur"], 0),
        (["run", "mazur", "-o", "OUT"], 0),
        (["explain", "w5", "--format", "json", "-o", "OUT"], 0),
        (["check", str(student)], 1),
        (["run", str(tmp_path / "missing.yaml")], 2),
    ]
    for i, (args, status) in enumerate(cases):
        seen = []
        for full in ("", "1"):
            out = tmp_path / f"out{i}_{full}.txt"
            env = dict(os.environ, BPTRACE_FULL_SHUTDOWN=full)
            argv = [str(out) if a == "OUT" else a for a in args]
            done = subprocess.run([sys.executable, "-m", "bptrace", *argv], capture_output=True, env=env)
            assert done.returncode == status, (args, full, done.stderr)
            seen.append((done.stdout, done.stderr, out.read_bytes() if "OUT" in args else None))
        assert seen[0] == seen[1], args
        assert seen[0][0] or seen[0][1] or seen[0][2]  # something was written


def test_lazy_commands_are_all_there_for_help_and_the_commands_table() -> None:
    from bptrace.cli.main import LAZY_COMMANDS

    names = set(main.commands)  # the whole table: every lazy module imported
    assert set(LAZY_COMMANDS) <= names and {"run", "scenarios"} <= names
    assert all(any(p.name == "lang" for p in main.commands[name].params) for name in LAZY_COMMANDS)
    listed = CliRunner().invoke(main, ["--help"]).output
    assert all(f"  {name} " in listed for name in LAZY_COMMANDS)


def test_only_the_commands_own_process_collects_garbage_less_often() -> None:
    """bptrace.__main__.run (the entry point, and `python -m bptrace`) raises the collector's first threshold
    for its own process; importing bptrace or its command line leaves the interpreter's as it was."""
    from bptrace.__main__ import GC_THRESHOLD

    code = (
        "import gc, sys\n"
        "default = gc.get_threshold()\n"
        "import bptrace, bptrace.cli.main, bptrace.__main__\n"
        "assert gc.get_threshold() == default, gc.get_threshold()\n"
        "sys.argv = ['bptrace', '--version']\n"
        "try:\n    bptrace.__main__.run()\nexcept SystemExit:\n    pass\n"
        "print(gc.get_threshold()[0], default[0])\n"
    )
    env = dict(os.environ, BPTRACE_FULL_SHUTDOWN="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    threshold, default = (int(word) for word in out.split()[-2:])
    assert threshold == GC_THRESHOLD and default < GC_THRESHOLD
