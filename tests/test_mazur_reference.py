"""tests/data/mazur_reference.yaml, the oracle of the Mazur tests, is consistent with itself and with the post.

The file is checked here so that a typo in it cannot make a test pass: every name is one of bptrace's quantity
names, every published number is its exact value to the digits printed, and the bundled `mazur` scenario is the
post's network.
"""

from __future__ import annotations

import mazur_reference
import pytest
from mazur_reference import ERRATA, QUANTITIES, SOURCE, agrees, exact, published, unit

import bptrace
from bptrace.engine.quantities import value as quantity_value
from bptrace.model import names


def test_the_source_is_cited() -> None:
    assert SOURCE["author"] == "Matt Mazur"
    assert SOURCE["title"] == "A Step by Step Backpropagation Example"
    assert SOURCE["url"].startswith("https://mattmazur.com/2015/")


@pytest.mark.parametrize("name", list(QUANTITIES))
def test_each_name_is_a_quantity_of_the_mazur_scenario(name: str) -> None:
    assert names.parse_or_none(name, bptrace.load("mazur")) is not None, name


@pytest.mark.parametrize("name", list(QUANTITIES))
def test_each_published_number_is_its_exact_value_to_the_digits_printed(name: str) -> None:
    assert agrees(float(exact(name)), published(name)), (name, exact(name), published(name))
    # and the exact value has more digits than the post (or as many, where the post is exact)
    assert unit(exact(name)) <= unit(published(name))


def test_the_errata_follow_from_their_computations() -> None:
    first, last = ERRATA["E_total@1"], ERRATA["E_total@10000"]
    assert agrees(float(first["updated_weights"]), first["published"])  # the post's number is the variant's
    assert not agrees(float(first["exact"]), first["published"])  # and not its own rule's
    assert agrees(float(first["exact"]), first["original_weights"])
    assert agrees(float(last["after_9999"]), last["published"])  # one update short
    assert not agrees(float(last["after_10000"]), last["published"])
    assert not agrees(float(exact("out_o1")), ERRATA["retelling"]["published"])


def test_unit_is_one_in_the_last_place_written() -> None:
    assert unit("0.75136507") == pytest.approx(1e-8)
    assert unit("0.511301270") == pytest.approx(1e-9)  # a trailing zero is a digit
    assert unit("3.5108548e-05") == pytest.approx(1e-12)
    assert unit("-0.019049119") == pytest.approx(1e-9)
    assert agrees(-0.0190491183, "-0.019049119") and not agrees(-0.0190491203, "-0.019049119")


def test_the_bundled_scenario_is_the_posts_network() -> None:
    network = mazur_reference.REFERENCE["network"]
    s = bptrace.load("mazur")
    t = bptrace.run(s)
    assert s.input_names == tuple(network["inputs"])
    assert s.inputs.tolist() == [[float(v) for v in network["inputs"].values()]]
    assert s.targets.tolist() == [[float(v) for v in network["targets"].values()]]
    for name, value in {**network["weights"], **network["biases"]}.items():
        assert quantity_value(names.parse(name, s), t) == float(value), name
    assert s.learning_rate == float(network["learning_rate"])
    assert [layer.activation for layer in s.layers] == [network["activation"]] * 2
    assert s.loss == "half_sse" and not s.update_biases
