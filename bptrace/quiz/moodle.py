"""A quiz as Moodle XML: one question per exercise, a question category per scenario's variants.

Moodle's XML question format (docs.moodle.org, "Moodle XML format"; read by question/format/xml):

    <quiz>
      <question type="category"> <category><text>$course$/top/bptrace/TITLE</text></category> ... </question>
      <question type="numerical">            one quantity asked: a numerical question
        <name>, <questiontext format="html"> (with the picture as a base64 <file>), <generalfeedback>,
        <defaultgrade>, <penalty>, <hidden>, <idnumber>,
        <answer fraction="100"><text>0.751</text><feedback/><tolerance>0.001</tolerance></answer>
        <answer fraction="0">  one per value a misconception gives, its sentences as feedback
        <answer fraction="0"><text>*</text>   anything else
        <unitgradingtype>, <unitpenalty>, <showunits>, <unitsleft>
      </question>
      <question type="cloze">                 several quantities: one NUMERICAL blank each,
        {2:NUMERICAL:=0.751:0.001#right~%0%0.717:0.001#feedback~%0%*#anything else}
    </quiz>

Moodle checks answers in their order and takes the first that matches, so the right answer comes first and
a misconception's interval that overlaps it never takes a right answer away. A random question drawn
from a category gives each student one variant.
"""

from __future__ import annotations

import base64
import html
import xml.etree.ElementTree as ET

from bptrace.errors import BptraceError
from bptrace.i18n import _, ngettext
from bptrace.quiz import content
from bptrace.quiz.model import Ask, Exercise, Group, Quiz, decimal_text

# Moodle's grade options (question_bank::fraction_options_full, in percent): an imported fraction must be one
GRADES = (100, 90, 83.33333, 80, 75, 70, 66.66667, 60, 50, 40, 33.33333, 30, 25, 20, 16.66667, 14.28571, 12.5,
          11.11111, 10, 5, 0)  # fmt: skip
PENALTY = "0.3333333"  # the share lost per wrong try in interactive mode (Moodle's default)


def grade(share: float) -> str:
    """A share of the points (0..1) as the nearest of Moodle's grade options, in percent."""
    best = min(GRADES, key=lambda g: abs(g - 100 * share))
    return f"{best:g}"


def category_path(group: Group) -> str:
    """The category of a group's questions: $course$/top/bptrace/TITLE ('/' in a title is written '//')."""
    return "$course$/top/bptrace/" + group.title.replace("/", "//")


def picture_name(exercise: Exercise) -> str:
    return f"network-{exercise.ident}.png"


def render(quiz: Quiz) -> bytes:
    """The quiz as a Moodle XML file (UTF-8)."""
    root = ET.Element("quiz")
    for group in quiz.groups:
        root.append(_category(group, quiz.command))
        for exercise in group.exercises:
            root.append(_question(exercise))
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _text(parent: ET.Element, tag: str, value: str, fmt: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if fmt is not None:
        element.set("format", fmt)
    ET.SubElement(element, "text").text = value
    return element


def _category(group: Group, command: str) -> ET.Element:
    q = ET.Element("question", type="category")
    _text(q, "category", category_path(group))
    info = ngettext(
        "Made by bptrace: {n} exercise; add a random question from this category to give each student one.",
        "Made by bptrace: {n} exercises; add a random question from this category to give each student one.",
        len(group.exercises),
    )
    made = _("Made with: {command}").format(command=command)
    text = f"<p>{html.escape(info.format(n=len(group.exercises)))}</p>\n<p><code>{html.escape(made)}</code></p>"
    _text(q, "info", text, "html")
    return q


def _question(exercise: Exercise) -> ET.Element:
    single = len(exercise.asks) == 1
    q = ET.Element("question", type="numerical" if single else "cloze")
    name = exercise.title if not single else f"{exercise.title} · {exercise.asks[0].symbol}"
    _text(q, "name", name)
    picture = picture_name(exercise)
    body = [
        content.statement_html(exercise, picture="@@PLUGINFILE@@/" + picture),
        "<p>" + html.escape(content.instructions(exercise.asks[0].digits)) + "</p>",
    ]
    if single:
        body.append(f"<p>{html.escape(exercise.asks[0].symbol)} = ?</p>")
    else:
        body += [f"<p>{html.escape(a.symbol)} = {_cloze(a)}</p>" for a in exercise.asks]
    text = _text(q, "questiontext", "\n".join(body), "html")
    file = ET.SubElement(text, "file", name=picture, path="/", encoding="base64")
    file.text = base64.b64encode(content.picture(exercise.trace, "png")).decode("ascii")
    _text(q, "generalfeedback", content.solution_html(exercise), "html")
    if single:
        ET.SubElement(q, "defaultgrade").text = f"{exercise.asks[0].points:g}"
    ET.SubElement(q, "penalty").text = PENALTY
    ET.SubElement(q, "hidden").text = "0"
    ET.SubElement(q, "idnumber").text = exercise.ident
    if single:
        for fraction, value, tolerance, feedback in _answers(exercise.asks[0]):
            answer = ET.SubElement(q, "answer", fraction=fraction, format="moodle_auto_format")
            ET.SubElement(answer, "text").text = value
            _text(answer, "feedback", "<p>" + html.escape(feedback) + "</p>", "html")
            ET.SubElement(answer, "tolerance").text = tolerance
        for tag, value in (
            ("unitgradingtype", "0"),
            ("unitpenalty", "0.1000000"),
            ("showunits", "3"),
            ("unitsleft", "0"),
        ):
            ET.SubElement(q, tag).text = value
    return q


def _answers(ask: Ask) -> list[tuple[str, str, str, str]]:
    """(fraction, value, tolerance, feedback) of every answer, in the order Moodle tries them."""
    right = content.right_feedback(ask)
    out = [("100", decimal_text(ask.interval.centre), decimal_text(ask.interval.tolerance), right)]
    for r in ask.rounded:
        feedback = f"{right} {content.rounded_feedback(r.digits)}"
        out.append(("100", decimal_text(r.interval.centre), decimal_text(r.interval.tolerance), feedback))
    for m in ask.mistakes:
        out.append((grade(m.credit), decimal_text(m.interval.centre), decimal_text(m.interval.tolerance), m.feedback))
    out.append(("0", "*", "0", content.other_feedback()))
    return out


def _cloze(ask: Ask) -> str:
    """One NUMERICAL blank of a cloze question: {WEIGHT:NUMERICAL:=right:tol#fb~%0%wrong:tol#fb~...~%0%*#fb}."""
    if ask.points != int(ask.points) or ask.points < 1:
        raise BptraceError(
            _("{name}: a Moodle cloze blank is worth a whole number of points, not {points:g}").format(
                name=ask.name, points=ask.points
            ),
            hint=_("give the key's questions whole points, or ask one quantity (a numerical question)"),
        )
    alternatives = []
    for fraction, value, tolerance, feedback in _answers(ask):
        mark = "=" if fraction == "100" else f"%{fraction}%"
        number = value if value == "*" else f"{value}:{tolerance}"
        alternatives.append(f"{mark}{number}#{_cloze_feedback(feedback)}")
    return "{" + f"{int(ask.points)}:NUMERICAL:" + "~".join(alternatives) + "}"


def _cloze_feedback(text: str) -> str:
    """Feedback inside a cloze blank: Moodle ends it at an unescaped ~ or } and then decodes HTML entities
    once, so the text is escaped twice and ~ } are written as entities."""
    escaped = html.escape(text, quote=False).replace("&", "&amp;")
    return escaped.replace("}", "&#125;").replace("~", "&#126;")
