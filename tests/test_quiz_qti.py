"""`bptrace quiz --format qti`: a QTI 1.2 content package for Canvas, read back and checked.

The checks are written from the IMS specifications (QTI 1.2 ASI: questestinterop > assessment > section > item,
an item's itemmetadata, presentation, resprocessing, itemfeedback in that order; IMS Content Packaging 1.1's
imsmanifest.xml) and Canvas's numerical-question conventions; every number against the engine.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine.quantities import value as quantity_value
from bptrace.engine.step import trace as make_trace
from bptrace.grading import marking
from bptrace.grading.answers import random_exercise
from bptrace.model import names
from bptrace.model.scenario import loads
from bptrace.quiz.model import accepted

Q = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imscp_v1p1}"
ITEM_ORDER = ["itemmetadata", "presentation", "resprocessing", "itemfeedback"]
CONDITIONS = {"varequal", "vargte", "varlte", "vargt", "varlt", "and", "or", "not", "other"}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> zipfile.ZipFile:
    path = tmp_path_factory.mktemp("qti") / "quiz.zip"
    args = [
        "quiz",
        "mazur",
        "--variants",
        "2",
        "--seed",
        "5",
        "--ask",
        "w5+,dE/dw1",
        "--format",
        "qti",
        "-o",
        str(path),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    assert zipfile.is_zipfile(path)
    z = zipfile.ZipFile(path)
    assert z.testzip() is None
    return z


def parts(package: zipfile.ZipFile) -> tuple[ET.Element, str, ET.Element]:
    manifest = ET.fromstring(package.read("imsmanifest.xml"))
    (resource,) = [r for r in manifest.iter(f"{CP}resource") if r.get("type") == "imsqti_xmlv1p2"]
    href = resource.get("href")
    return manifest, href, ET.fromstring(package.read(href))


def local(tag: str) -> str:
    return tag.split("}")[-1]


def test_the_manifest_lists_every_file_and_resolves(package):
    manifest, href, _ = parts(package)
    assert local(manifest.tag) == "manifest" and manifest.get("identifier")
    assert manifest.find(f"{CP}metadata/{CP}schema").text == "IMS Content"
    assert manifest.find(f"{CP}organizations") is not None
    resources = {r.get("identifier"): r for r in manifest.iter(f"{CP}resource")}
    files = {f.get("href") for f in manifest.iter(f"{CP}file")}
    assert files | {"imsmanifest.xml"} == set(package.namelist())
    for resource in resources.values():
        for dependency in resource.iter(f"{CP}dependency"):
            assert dependency.get("identifierref") in resources
    pictures = [n for n in package.namelist() if n.endswith(".png")]
    assert len(pictures) == 2 and all(package.read(n).startswith(b"\x89PNG") for n in pictures)


def check_item(item: ET.Element) -> None:
    """An item as QTI 1.2 orders it, with a Canvas numerical question's parts, every reference resolving."""
    children = [local(c.tag) for c in item]
    assert children == sorted(children, key=ITEM_ORDER.index), children
    fields = {f.findtext(f"{Q}fieldlabel"): f.findtext(f"{Q}fieldentry") for f in item.iter(f"{Q}qtimetadatafield")}
    assert fields["question_type"] == "numerical_question" and float(fields["points_possible"]) == 1
    presentation = item.find(f"{Q}presentation")
    assert [local(c.tag) for c in presentation] == ["material", "response_str"]
    assert presentation.find(f"{Q}material/{Q}mattext").get("texttype") == "text/html"
    response = presentation.find(f"{Q}response_str")
    assert response.get("rcardinality") == "Single"
    assert response.find(f"{Q}render_fib").get("fibtype") == "Decimal"
    assert response.find(f"{Q}render_fib/{Q}response_label") is not None
    processing = item.find(f"{Q}resprocessing")
    assert (
        local(processing[0].tag) == "outcomes" and processing.find(f"{Q}outcomes/{Q}decvar").get("varname") == "SCORE"
    )
    feedback = {f.get("ident") for f in item.findall(f"{Q}itemfeedback")}
    assert {"general_fb", "correct_fb", "general_incorrect_fb"} <= feedback
    for condition in processing.findall(f"{Q}respcondition"):
        tags = [local(c.tag) for c in condition]
        assert tags[0] == "conditionvar" and set(tags[1:]) <= {"setvar", "displayfeedback"}
        for test in condition.find(f"{Q}conditionvar").iter():
            name = local(test.tag)
            assert name == "conditionvar" or name in CONDITIONS
            if name.startswith("var"):
                assert test.get("respident") == response.get("ident")
        for shown in condition.findall(f"{Q}displayfeedback"):
            assert shown.get("linkrefid") in feedback


def test_items_are_canvas_numerical_questions_with_every_number_from_the_engine(package):
    _, href, root = parts(package)
    assert local(root.tag) == "questestinterop"
    (assessment,) = root.findall(f"{Q}assessment")
    folder = PurePosixPath(href).parent
    groups = assessment.findall(f"{Q}section/{Q}section")
    assert len(groups) == 2  # one question group per quantity, each picking one of the two variants
    for group, name in zip(groups, ["W2_1_1+", "dE/dW1_1_1"]):
        assert group.findtext(f"{Q}selection_ordering/{Q}selection/{Q}selection_number") == "1"
        items = group.findall(f"{Q}item")
        assert len(items) == 2
        for k, item in enumerate(items):
            check_item(item)
            s = loads(random_exercise(5 + k, [2, 2, 2]))
            q = names.parse(name, s)
            x = quantity_value(q, make_trace(s))
            prompt = item.findtext(f"{Q}presentation/{Q}material/{Q}mattext")
            for src in re.findall(r'<img src="([^"]+)"', prompt):
                assert str(folder / src) in package.namelist()
            power = 0
            unit = re.search(r"in units of 10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", prompt)
            if unit:
                power = int(unit.group(1).translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")).lstrip("-"))
            right = item.find(f"{Q}resprocessing/{Q}respcondition[{Q}setvar]")
            numbers = {local(v.tag): Decimal(v.text) for v in right.iter() if local(v.tag).startswith("var")}
            expected = accepted(x, 3).scaled(power)
            assert numbers == {"varequal": expected.centre, "vargte": expected.low, "varlte": expected.high}
            # Canvas keeps four decimals: every number of the item must survive that
            for value in numbers.values():
                assert -value.as_tuple().exponent <= 4
            if abs(x) < 1e-2:
                assert power > 0  # dE/dW1_1_1 of these variants is of order 1e-4 to 1e-6
            # the incorrect-answer feedback lists the misconceptions' values, each as check diagnoses it
            wrong = item.find(f"{Q}itemfeedback[@ident='general_incorrect_fb']/{Q}flow_mat/{Q}material/{Q}mattext")
            listed = re.findall(r"<li><b>([^<]+)</b>: \[([a-z-]+)\]", wrong.text)
            assert len(listed) >= 5
            lab = marking.marker_for(s)
            for value, code in listed:
                unscaled = Decimal(value).scaleb(-power)
                w = marking.read_number(str(unscaled))
                found = {v.code for v in marking.diagnose_answer(q, w, lab)}
                assert code in found or found == {"rounding"}, (name, value, code, found)
            solution = item.find(f"{Q}itemfeedback[@ident='general_fb']/{Q}flow_mat/{Q}material/{Q}mattext").text
            assert "bptrace-derivation" in solution


def test_the_same_quiz_is_the_same_zip(tmp_path: Path, package):
    path = tmp_path / "again.zip"
    args = [
        "quiz",
        "mazur",
        "--variants",
        "2",
        "--seed",
        "5",
        "--ask",
        "w5+,dE/dw1",
        "--format",
        "qti",
        "-o",
        str(path),
    ]
    assert CliRunner().invoke(main, args).exit_code == 0
    again = zipfile.ZipFile(path)
    assert again.namelist() == package.namelist()
    for name in package.namelist():
        assert again.read(name) == package.read(name)
