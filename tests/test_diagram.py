"""`bptrace diagram` (matplotlib pictures of the network) and the text sketch of render/ascii_net.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import bptrace
from bptrace.cli.main import main
from bptrace.engine import step as engine
from bptrace.fmt import num
from bptrace.render.ascii_net import network_sketch
from bptrace.render.diagram import DEFAULT_DIGITS, summarised


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def svg_texts(path: Path) -> list[str]:
    """The text of every <text> element of an SVG file."""
    root = ET.parse(path).getroot()
    return ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("text")]


def big_yaml(sizes: list[int]) -> str:
    rng = np.random.default_rng(0)
    data = {
        "inputs": rng.uniform(-1, 1, sizes[0]).tolist(),
        "targets": rng.uniform(0, 1, sizes[-1]).tolist(),
        "layers": [
            {"activation": "sigmoid", "weights": rng.normal(0, 0.3, (n, p)).tolist(), "biases": [0.0] * n}
            for p, n in zip(sizes, sizes[1:])
        ],
    }
    return yaml.safe_dump(data)


def test_mazur_svg_has_weights_and_outputs_as_text(tmp_path: Path) -> None:
    path = tmp_path / "mazur.svg"
    result = invoke("diagram", "mazur", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    texts = svg_texts(path)
    joined = "\n".join(texts)
    assert any("w5" in text for text in texts)
    assert "w5 = 0.4" in joined and "b1 = 0.35" in joined
    t = engine.trace(bptrace.load("mazur"))
    for layer in t.layers:
        for out in layer.out[0]:
            assert f"out {num(out, DEFAULT_DIGITS)}" in joined  # out_h1 0.5933 ... out_o2 0.7729
    assert "out 0.7514" in joined and "net 0.3775" in joined


@pytest.mark.parametrize("show, expected", [("grad", "∂E/∂w5 = 0.08217"), ("update", "w5 = 0.4 → 0.3589")])
def test_show_adds_gradients_or_updates(tmp_path: Path, show: str, expected: str) -> None:
    path = tmp_path / f"{show}.svg"
    result = invoke("diagram", "mazur", "--show", show, "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert expected in "\n".join(svg_texts(path))


def test_png_is_readable(tmp_path: Path) -> None:
    import matplotlib.image

    path = tmp_path / "mazur.png"
    result = invoke("diagram", "mazur", "-o", str(path), "--show", "update")
    assert result.exit_code == 0, result.stderr
    image = matplotlib.image.imread(str(path))
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600
    assert image[..., :3].std() > 0.05  # not a blank page


def test_big_network_is_summarised(tmp_path: Path) -> None:
    scenario = tmp_path / "big.yaml"
    scenario.write_text(big_yaml([30, 40, 10]), encoding="utf-8")
    assert summarised(bptrace.load(str(scenario)))
    path = tmp_path / "big.svg"
    result = invoke("diagram", str(scenario), "-o", str(path), "--show", "grad")
    assert result.exit_code == 0, result.stderr
    joined = "\n".join(svg_texts(path))
    assert "W1: 40×30" in joined and "W2: 10×40" in joined and "40 × sigmoid" in joined
    assert "‖∂E/∂W1‖" in joined
    assert "h1_1" not in joined and "W1_1_1" not in joined  # no neuron-by-neuron hairball
    assert path.stat().st_size < 200_000


def test_every_bundled_scenario_draws(tmp_path: Path) -> None:
    from bptrace.model.scenario import bundled_names
    from bptrace.render.diagram import draw_network

    for name in bundled_names():
        path = tmp_path / f"{name}.svg"
        draw_network(engine.trace(bptrace.load(name)), str(path), show="grad")
        assert svg_texts(path)


def test_diagram_usage_errors(tmp_path: Path) -> None:
    result = invoke("diagram", "mazur", "-o", str(tmp_path / "m.jpg"))
    assert result.exit_code == 2 and ".svg or .png" in result.stderr
    result = invoke("diagram", "mazur", "--sample", "2", "-o", str(tmp_path / "m.svg"))
    assert result.exit_code == 2 and "--sample 2" in result.stderr
    assert invoke("diagram", "mazur").exit_code == 2  # -o is required


# ---------------------------------------------------------------------------------------------------
# The text sketch


def test_sketch_of_mazur() -> None:
    s = bptrace.load("mazur")
    text = network_sketch(s)
    lines = text.splitlines()
    assert lines[0].split() == ["inputs", "layer", "1:", "sigmoid", "layer", "2:", "sigmoid"]
    assert lines[1].split() == ["i1", "→", "h1", "→", "o1"]
    assert lines[2].split() == ["i2", "h2", "o2"]
    assert "b1 0.35 shared" in text and "b2 0.6 shared" in text and "(not updated)" in text
    with_values = network_sketch(s, engine.trace(s))
    assert "h1 out 0.5933" in with_values and "o2 out 0.7729" in with_values and "i1 0.05" in with_values


def test_sketch_ascii_and_big_layers(tmp_path: Path) -> None:
    scenario = tmp_path / "big.yaml"
    scenario.write_text(big_yaml([30, 40, 10]), encoding="utf-8")
    s = bptrace.load(str(scenario))
    text = network_sketch(s, engine.trace(s), ascii=True)
    assert text.isascii()
    assert "... 26 more" in text and "... 36 more" in text and "... 6 more" in text
    assert "x30" in text and "h1_40" in text and "o10" in text
    assert len(text.splitlines()) <= 10
    assert "⋮ 36 more" in network_sketch(s)
