"""A quiz as a QTI 1.2 package for Canvas (Classic Quizzes): a zip of imsmanifest.xml, the assessment, pictures.

    imsmanifest.xml                      IMS Content Packaging 1.1: one imsqti_xmlv1p2 resource, the pictures
    QUIZ/QUIZ.xml                        <questestinterop><assessment><section>... one <item> per quantity
    QUIZ/pictures/network-EXERCISE.png

Each item is a Canvas numerical question (itemmetadata question_type numerical_question): the exercise's
statement and picture, one typed answer, and a response condition accepting the right interval (Canvas's
"exact answer with margin": <or><varequal>centre</varequal><and><vargte/><varlte/></and></or>). Canvas
reads every condition of a numerical question as a right answer, so a misconception cannot be a 0 % answer
there: each value a misconception gives is listed, with its feedback, in the item's incorrect-answer feedback
(itemfeedback general_incorrect_fb); the worked derivation is its general feedback (general_fb). A scenario
with variants becomes one question group (a section that selects one item) per quantity.

Canvas keeps four decimals of a numerical answer: a quantity whose value or tolerance is below 1e-4 is asked
in a unit of 10⁻³ᵏ (the statement says which), and every number of its item is scaled exactly (Decimal).
"""

from __future__ import annotations

import hashlib
import html
import io
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal

from bptrace.i18n import _
from bptrace.quiz import content
from bptrace.quiz.model import Ask, Exercise, Interval, Quiz, decimal_text

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
QTI_XSD = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_XSD = "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CANVAS_DECIMALS = 4  # Canvas rounds a numerical answer to four decimal places (0.00004 is 0)
SMALLEST = Decimal(1).scaleb(-CANVAS_DECIMALS)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every member's timestamp: the same quiz gives the same bytes


def scale_of(ask: Ask) -> int:
    """The power k (a multiple of 3) such that ask's value × 10^k keeps its interval in four decimals."""
    interval = ask.interval
    if interval.centre == 0:
        return 0  # an exact 0 (its tolerance is float noise): asked as 0, whatever the margin
    k = 0
    while k < 300 and (
        (interval.tolerance != 0 and interval.tolerance.scaleb(k) < SMALLEST)
        or (interval.centre != 0 and abs(interval.centre.scaleb(k)) < SMALLEST)
    ):
        k += 3
    return k


def unit_text(k: int) -> str:
    """10⁻⁶ for k = 6."""
    superscript = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return "10" + f"-{k}".translate(superscript)


def quiz_ident(quiz: Quiz) -> str:
    """An identifier of the quiz that depends only on what it asks (the same quiz: the same identifier)."""
    text = "|".join([str(quiz.seed), *(f"{g.ident}:{','.join(g.names)}:{len(g.exercises)}" for g in quiz.groups)])
    return "bptrace_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def picture_path(exercise: Exercise) -> str:
    return f"pictures/network-{exercise.ident}.png"


def render(quiz: Quiz) -> bytes:
    """The zip (bytes)."""
    ident = quiz_ident(quiz)
    files: dict[str, bytes] = {}
    for exercise in quiz.exercises:
        files[f"{ident}/{picture_path(exercise)}"] = content.picture(exercise.trace, "png")
    files[f"{ident}/{ident}.xml"] = assessment(quiz, ident)
    files["imsmanifest.xml"] = manifest(ident, sorted(files))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ["imsmanifest.xml", *sorted(n for n in files if n != "imsmanifest.xml")]:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return buffer.getvalue()


def _xml(root: ET.Element) -> bytes:
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def manifest(ident: str, files: list[str]) -> bytes:
    """imsmanifest.xml: the assessment as an imsqti_xmlv1p2 resource that depends on each picture."""
    ET.register_namespace("", CP_NS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(
        f"{{{CP_NS}}}manifest", {"identifier": f"{ident}_manifest", f"{{{XSI}}}schemaLocation": f"{CP_NS} {CP_XSD}"}
    )
    metadata = ET.SubElement(root, f"{{{CP_NS}}}metadata")
    ET.SubElement(metadata, f"{{{CP_NS}}}schema").text = "IMS Content"
    ET.SubElement(metadata, f"{{{CP_NS}}}schemaversion").text = "1.1.3"
    ET.SubElement(root, f"{{{CP_NS}}}organizations")
    resources = ET.SubElement(root, f"{{{CP_NS}}}resources")
    quiz_file = f"{ident}/{ident}.xml"
    pictures = [f for f in files if f != quiz_file and f != "imsmanifest.xml"]
    resource = ET.SubElement(resources, f"{{{CP_NS}}}resource", identifier=ident, type="imsqti_xmlv1p2", href=quiz_file)
    ET.SubElement(resource, f"{{{CP_NS}}}file", href=quiz_file)
    for k, _picture in enumerate(pictures, start=1):
        ET.SubElement(resource, f"{{{CP_NS}}}dependency", identifierref=f"{ident}_picture_{k}")
    for k, picture in enumerate(pictures, start=1):
        web = ET.SubElement(
            resources, f"{{{CP_NS}}}resource", identifier=f"{ident}_picture_{k}", type="webcontent", href=picture
        )
        ET.SubElement(web, f"{{{CP_NS}}}file", href=picture)
    return _xml(root)


def assessment(quiz: Quiz, ident: str) -> bytes:
    """The questestinterop document: one section per scenario, a question group (section with a selection
    of one) per quantity when a scenario has variants."""
    ET.register_namespace("", QTI_NS)
    ET.register_namespace("xsi", XSI)
    q = f"{{{QTI_NS}}}"
    root = ET.Element(f"{q}questestinterop", {f"{{{XSI}}}schemaLocation": f"{QTI_NS} {QTI_XSD}"})
    title = quiz.groups[0].title if len(quiz.groups) == 1 else _("bptrace quiz")
    test = ET.SubElement(root, f"{q}assessment", ident=ident, title=title)
    _metadata(test, q, [("cc_maxattempts", "1")])
    top = ET.SubElement(test, f"{q}section", ident="root_section")
    for g, group in enumerate(quiz.groups, start=1):
        if len(group.exercises) == 1:
            for j, ask in enumerate(group.exercises[0].asks, start=1):
                top.append(item(group.exercises[0], ask, f"{ident}_g{g}_q{j}", q))
            continue
        for j, first in enumerate(group.exercises[0].asks, start=1):
            section = ET.SubElement(
                top, f"{q}section", ident=f"{ident}_g{g}_q{j}", title=f"{group.title} · {first.symbol}"
            )
            ordering = ET.SubElement(section, f"{q}selection_ordering")
            selection = ET.SubElement(ordering, f"{q}selection")
            ET.SubElement(selection, f"{q}selection_number").text = "1"
            extension = ET.SubElement(selection, f"{q}selection_extension")
            ET.SubElement(extension, f"{q}points_per_item").text = f"{first.points:g}"
            for e, exercise in enumerate(group.exercises, start=1):
                section.append(item(exercise, exercise.asks[j - 1], f"{ident}_g{g}_q{j}_v{e}", q))
    return _xml(root)


def _metadata(parent: ET.Element, q: str, fields: list[tuple[str, str]], tag: str = "qtimetadata") -> None:
    meta = ET.SubElement(parent, f"{q}{tag}")
    for label, entry in fields:
        field = ET.SubElement(meta, f"{q}qtimetadatafield")
        ET.SubElement(field, f"{q}fieldlabel").text = label
        ET.SubElement(field, f"{q}fieldentry").text = entry


def item(exercise: Exercise, ask: Ask, ident: str, q: str) -> ET.Element:
    """One Canvas numerical question: the statement, one typed answer, the right interval, the feedback."""
    k = scale_of(ask)
    element = ET.Element(f"{q}item", ident=ident, title=f"{exercise.title} · {ask.symbol}")
    metadata = ET.SubElement(element, f"{q}itemmetadata")
    _metadata(metadata, q, [("question_type", "numerical_question"), ("points_possible", f"{ask.points:g}")])
    presentation = ET.SubElement(element, f"{q}presentation")
    prompt = [
        content.statement_html(exercise, picture=picture_path(exercise)),
        "<p>" + html.escape(content.instructions(ask.digits)) + "</p>",
    ]
    if k:
        unit = unit_text(k)
        prompt.append(
            "<p>"
            + html.escape(
                _("Give {symbol} in units of {unit}: for 2.5 × {unit} enter 2.5.").format(symbol=ask.symbol, unit=unit)
            )
            + "</p>"
        )
        prompt.append(f"<p>{html.escape(ask.symbol)} = ? × {unit}</p>")
    else:
        prompt.append(f"<p>{html.escape(ask.symbol)} = ?</p>")
    _material(presentation, q, "\n".join(prompt))
    response = ET.SubElement(presentation, f"{q}response_str", ident="response1", rcardinality="Single")
    fib = ET.SubElement(response, f"{q}render_fib", fibtype="Decimal")
    ET.SubElement(fib, f"{q}response_label", ident="answer1")
    processing = ET.SubElement(element, f"{q}resprocessing")
    outcomes = ET.SubElement(processing, f"{q}outcomes")
    ET.SubElement(outcomes, f"{q}decvar", maxvalue="100", minvalue="0", varname="SCORE", vartype="Decimal")
    _other(processing, q, "general_fb")
    for interval in ask.right:  # the value's interval, then each early-rounding one (check accepts them)
        condition = ET.SubElement(processing, f"{q}respcondition", {"continue": "No"})
        _interval_condition(ET.SubElement(condition, f"{q}conditionvar"), q, interval.scaled(k))
        ET.SubElement(condition, f"{q}setvar", action="Set", varname="SCORE").text = "100"
        ET.SubElement(condition, f"{q}displayfeedback", feedbacktype="Response", linkrefid="correct_fb")
    _other(processing, q, "general_incorrect_fb")
    _feedback(element, q, "general_fb", content.solution_html(exercise))
    _feedback(element, q, "correct_fb", "<p>" + html.escape(content.right_feedback(ask)) + "</p>")
    _feedback(element, q, "general_incorrect_fb", incorrect_html(ask, k))
    return element


def _material(parent: ET.Element, q: str, text: str) -> None:
    material = ET.SubElement(parent, f"{q}material")
    ET.SubElement(material, f"{q}mattext", texttype="text/html").text = text


def _other(processing: ET.Element, q: str, feedback: str) -> None:
    condition = ET.SubElement(processing, f"{q}respcondition", {"continue": "Yes"})
    ET.SubElement(ET.SubElement(condition, f"{q}conditionvar"), f"{q}other")
    ET.SubElement(condition, f"{q}displayfeedback", feedbacktype="Response", linkrefid=feedback)


def _interval_condition(conditionvar: ET.Element, q: str, interval: Interval) -> None:
    """Canvas's exact answer with a margin: the centre, or between its bounds."""
    either = ET.SubElement(conditionvar, f"{q}or")
    ET.SubElement(either, f"{q}varequal", respident="response1").text = decimal_text(interval.centre)
    both = ET.SubElement(either, f"{q}and")
    ET.SubElement(both, f"{q}vargte", respident="response1").text = decimal_text(interval.low)
    ET.SubElement(both, f"{q}varlte", respident="response1").text = decimal_text(interval.high)


def _feedback(item_element: ET.Element, q: str, ident: str, text: str) -> None:
    feedback = ET.SubElement(item_element, f"{q}itemfeedback", ident=ident)
    flow = ET.SubElement(feedback, f"{q}flow_mat")
    _material(flow, q, text)


def incorrect_html(ask: Ask, k: int) -> str:
    """The incorrect-answer feedback: each value a misconception gives (in the item's unit), and why."""
    lines = [
        "<p>"
        + html.escape(
            _(
                "Not right. If your value is one of these, the sentence beside it says what went wrong; "
                "otherwise compare your steps with the worked solution."
            )
        )
        + "</p>"
    ]
    if ask.mistakes:
        lines.append("<p>" + html.escape(_("Values that known misconceptions give:")) + "</p>")
        lines.append("<ul>")
        for m in ask.mistakes:
            value = decimal_text(m.interval.scaled(k).centre)
            lines.append(f"<li><b>{html.escape(value)}</b>: {html.escape(m.feedback)}</li>")
        lines.append("</ul>")
    return "\n".join(lines)
