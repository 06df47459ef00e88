"""A quiz as PrairieLearn questions: one question folder per scenario, its variants inside.

    GROUP/info.json                        uuid (derived from the seed and what is asked), title, topic, tags,
                                           type v3, singleVariant when there is one exercise
    GROUP/question.html                    the statement and picture, one <pl-number-input> per quantity
                                           (comparison="sigfig" with the rules' digits, or "relabs" when the
                                           rules give tolerances), the feedback, the worked solution
    GROUP/server.py                        generate(data) picks the variant from data["variant_seed"];
                                           grade(data) marks each answer against the embedded intervals: the
                                           right one (score 1), each misconception's (its share of the points and
                                           its feedback; where intervals overlap, the misconception whose value
                                           is nearest), anything else (0)
    GROUP/clientFilesQuestion/network-K.svg  the picture of variant K

server.py imports nothing but the standard library: every number (each variant's statement, right values,
intervals, misconception values and feedback) is data in the file, computed here by bptrace, so a course
needs no bptrace on the platform (PrairieLearn's question documentation: docs/question/server.md).
"""

from __future__ import annotations

import html
import json
import pprint
import uuid

from bptrace.i18n import _
from bptrace.quiz import content
from bptrace.quiz.model import Exercise, Group, Quiz

TOPIC = "Backpropagation"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/bptrace/quiz")


def question_uuid(quiz: Quiz, group: Group) -> str:
    """A uuid that depends only on the seed, the scenario, the quantities asked and the number of variants."""
    name = json.dumps([quiz.seed, group.ref, group.ident, group.names, len(group.exercises)])
    return str(uuid.uuid5(NAMESPACE, name))


def render(quiz: Quiz) -> dict[str, bytes]:
    """{relative path: content} of every file, one folder per group."""
    files: dict[str, bytes] = {}
    for group in quiz.groups:
        root = group.ident
        files[f"{root}/info.json"] = info_json(quiz, group).encode("utf-8")
        files[f"{root}/question.html"] = question_html(quiz, group).encode("utf-8")
        files[f"{root}/server.py"] = server_py(quiz, group).encode("utf-8")
        for exercise in group.exercises:
            files[f"{root}/clientFilesQuestion/{picture_name(exercise)}"] = content.picture(exercise.trace, "svg")
    return files


def picture_name(exercise: Exercise) -> str:
    return f"network-{exercise.number}.svg"


def info_json(quiz: Quiz, group: Group) -> str:
    info = {
        "uuid": question_uuid(quiz, group),
        "title": group.title,
        "topic": TOPIC,
        "tags": ["bptrace", "backpropagation"],
        "type": "v3",
        "singleVariant": len(group.exercises) == 1,
        "partialCredit": True,
        "comment": _("Made with: {command}").format(command=quiz.command),
    }
    return json.dumps(info, indent=2, ensure_ascii=False) + "\n"


def answer_name(k: int) -> str:
    """The answers-name of the k-th quantity (1-based): q1, q2, ... (quantity names hold '/' and '+')."""
    return f"q{k}"


def question_html(quiz: Quiz, group: Group) -> str:
    rules = quiz.rules
    first = group.exercises[0]
    if rules.rtol is None and rules.tolerance is None:
        comparison = f'comparison="sigfig" digits="{rules.min_digits}"'
    else:
        comparison = f'comparison="relabs" rtol="{rules.rtol or 0:g}" atol="{rules.tolerance or 0:g}"'
    lines = [
        "<pl-question-panel>",
        "{{{params.statement}}}",
        '<pl-figure file-name="{{params.picture}}" directory="clientFilesQuestion"></pl-figure>',
        "{{{params.given}}}",
        "<p>{{params.instructions}}</p>",
        "</pl-question-panel>",
        "",
    ]
    for k, ask in enumerate(first.asks, start=1):
        name = answer_name(k)
        weight = f' weight="{int(ask.points)}"' if ask.points == int(ask.points) and ask.points >= 1 else ""
        lines.append(
            f'<pl-number-input answers-name="{name}" {comparison}{weight} label="{{{{params.labels.{name}}}}}">'
            "</pl-number-input>"
        )
    lines += ["", "<pl-submission-panel>"]
    for k, _ask in enumerate(first.asks, start=1):
        name = answer_name(k)
        lines.append(
            f"{{{{#feedback.{name}}}}}<p>{{{{params.labels.{name}}}}} {{{{feedback.{name}}}}}</p>"
            f"{{{{/feedback.{name}}}}}"
        )
    lines += ["</pl-submission-panel>", "", "<pl-answer-panel>", "{{{params.solution}}}", "</pl-answer-panel>", ""]
    return "\n".join(lines)


def variant_data(exercise: Exercise) -> dict[str, object]:
    """Everything server.py needs of one variant, as plain data (str, float, int, list, dict)."""
    from bptrace.render import html as html_render

    blocks = content.statement_blocks(exercise, heading=False)
    answers = {}
    labels = {}
    for k, ask in enumerate(exercise.asks, start=1):
        name = answer_name(k)
        labels[name] = f"${ask.latex} =$"
        answers[name] = {
            "quantity": ask.name,
            "value": ask.value,
            "points": ask.points,
            "right": [[float(i.low), float(i.high)] for i in ask.right],
            "right_feedback": content.right_feedback(ask),
            "rounded_feedback": [content.rounded_feedback(r.digits) for r in ask.rounded],
            "mistakes": [
                {
                    "codes": list(m.codes),
                    "value": m.value,
                    "interval": [float(m.interval.low), float(m.interval.high)],
                    "credit": m.credit,
                    "feedback": m.feedback,
                }
                for m in ask.mistakes
            ],
            "other_feedback": content.other_feedback(),
        }
    from bptrace.quiz.followthrough import rules

    world = rules(exercise.trace, [a.name for a in exercise.asks])

    def depends(name: str, seen: set[str]) -> set[str]:
        for dep in world.get(name, [None, []])[1]:
            if dep and dep not in seen:
                seen.add(dep)
                depends(dep, seen)
        return seen

    for answer in answers.values():
        # marked in the order of the step (a quantity after everything it rests on), as check marks
        answer["rank"] = len(depends(str(answer["quantity"]), set()))
    return {
        "title": exercise.title,
        "seed": exercise.seed if exercise.seed is not None else -1,
        "command": exercise.command or "",
        "statement": html_render.body(blocks[:-1], inline=True),
        "given": html_render.body(blocks[-1:], inline=True),
        "picture": picture_name(exercise),
        "instructions": content.instructions(exercise.asks[0].digits),
        "solution": content.solution_html(exercise),
        "labels": labels,
        "answers": answers,
        "world": world,
        "follow_feedback": _("right, given your {names}"),
    }


SERVER = '''\
"""{title}

A PrairieLearn question written by bptrace ({command}).
It needs no bptrace: every number below was computed by bptrace and is data. generate() picks the variant
from data["variant_seed"]; grade() marks each answer against the intervals of the marking rules, in the
order of the step: the right value (score 1); a value right given the student's own wrong earlier answers
(follow-through: FOLLOW_THROUGH of the points, "right, given your ..."), recomputed by the variant's "world"
rules from those answers; a value a known misconception gives (its share of the points and its feedback);
or anything else (0).
"""

import math

DIGITS = {digits}
RTOL = {rtol}
ATOL = {atol}
FOLLOW_THROUGH = {follow_through}
MATH = {{{math}}}
VARIANTS = {variants}


def generate(data):
    index = int(data.get("variant_seed", 0)) % len(VARIANTS)
    variant = VARIANTS[index]
    data["params"]["variant"] = index
    for key in ("statement", "given", "picture", "instructions", "solution", "labels"):
        data["params"][key] = variant[key]
    for name, answer in variant["answers"].items():
        data["correct_answers"][name] = answer["value"]


def grade(data):
    variant = VARIANTS[int(data["params"]["variant"])]
    world = World(variant["world"])
    total = 0.0
    possible = 0.0
    for name, answer in sorted(variant["answers"].items(), key=lambda item: item[1]["rank"]):
        score, feedback = mark(answer, data["submitted_answers"].get(name), world, variant["follow_feedback"])
        part = data["partial_scores"].setdefault(name, {{}})
        part["score"] = score
        part["feedback"] = feedback
        data["feedback"][name] = feedback
        total += score * answer["points"]
        possible += answer["points"]
    data["score"] = total / possible if possible else 0.0


def mark(answer, submitted, world, follow_feedback):
    """(score, feedback) of one submitted number; the world learns the answer and whether it was right."""
    quantity = answer["quantity"]
    try:
        x = float(submitted)
    except (TypeError, ValueError):
        return 0.0, answer["other_feedback"]
    if not math.isfinite(x):
        return 0.0, answer["other_feedback"]
    for k, interval in enumerate(answer["right"]):
        if inside(x, interval):
            world.learn(quantity, x, ())
            rounded = answer["rounded_feedback"][k - 1] if k else ""
            return 1.0, (answer["right_feedback"] + " " + rounded).strip()
    # follow-through: right for the student's own wrong earlier answers (as bptrace check --key marks)
    again = world.recompute(quantity)
    if again is not None and again[1] and near(x, again[0]):
        world.learn(quantity, x, again[1])
        names = ", ".join(sorted(again[1], key=world.order))
        return FOLLOW_THROUGH, follow_feedback.format(names=names)
    world.learn(quantity, x, (quantity,))
    # intervals of neighbouring values overlap: the misconception whose own value is nearest explains it
    near_ones = [m for m in answer["mistakes"] if inside(x, m["interval"])]
    if near_ones:
        mistake = min(near_ones, key=lambda m: abs(x - m["value"]))
        return float(mistake["credit"]), mistake["feedback"]
    return 0.0, answer["other_feedback"]


def inside(x, interval):
    low, high = interval
    return low <= x <= high


def near(x, y):
    """x is y to DIGITS significant digits (y rounded, one unit either way), or within RTOL or ATOL."""
    if abs(x - y) <= max(RTOL * abs(y), ATOL):
        return True
    if y == 0:
        return x == 0
    unit = 10.0 ** (math.floor(math.log10(abs(y))) - DIGITS + 1)
    centre = round(y / unit) * unit
    return abs(x - centre) <= unit * (1 + 1e-9)


class World:
    """The step as the student's answers make it: an answered quantity has the student's value, any other
    is recomputed from its direct inputs by its rule; each value carries the wrong answers it rests on."""

    def __init__(self, rules):
        self.rules = rules
        self.given = {{}}
        self.memo = {{}}
        self.seen = []

    def order(self, name):
        return self.seen.index(name) if name in self.seen else len(self.seen)

    def learn(self, name, value, rests_on):
        self.given[name] = (value, frozenset(rests_on))
        self.seen.append(name)
        self.memo = {{}}

    def get(self, name):
        if name == "":
            return 0.0, frozenset()
        if name in self.given:
            return self.given[name]
        if name not in self.memo:
            self.memo[name] = self.compute(name)
        return self.memo[name]

    def recompute(self, name):
        if name not in self.rules:
            return None
        try:
            value, roots = self.compute(name)
        except (ArithmeticError, ValueError):
            return None
        return (value, roots) if math.isfinite(value) else None

    def compute(self, name):
        op, inputs, data = self.rules[name]
        pairs = [self.get(i) for i in inputs]
        values = [v for v, _ in pairs]
        roots = frozenset().union(*(r for _, r in pairs)) if pairs else frozenset()
        if op == "const":
            return data, roots
        if op == "dot":
            return sum(w * v for w, v in zip(data, values)) + data[-1], roots
        if op == "act":
            space = dict(MATH, net=values[0], out=values[1])
            exec(data, space)
            return space["result"], roots
        if op == "loss":
            space = dict(MATH, **{{f"o{{j}}": v for j, v in enumerate(values)}})
            exec(data, space)
            return space["result"], roots
        if op == "softmax":
            top = max(values)
            exps = [math.exp(v - top) for v in values]
            return exps[data] / sum(exps), roots
        if op == "softmax_delta":
            half = len(values) // 2
            gs, outs = values[:half], values[half:]
            return outs[data] * (gs[data] - sum(g * o for g, o in zip(gs, outs))), roots
        if op == "sum":
            return data[0] * sum(values) + data[1], roots
        if op == "mul":
            return values[0] * values[1] + data, roots
        if op == "affine":
            return data[0] + data[1] * values[0], roots
        raise ValueError(op)
'''


def server_py(quiz: Quiz, group: Group) -> str:
    data = [variant_data(e) for e in group.exercises]
    variants = pprint.pformat(data, width=120, sort_dicts=False)
    title = html.unescape(group.title).replace('"""', "'''")
    command = quiz.command.replace('"""', "'''")
    from bptrace.functions import KERNEL_MATH

    rules = quiz.rules
    math_names = ", ".join(f'"{k}": math.{f.__name__}' for k, f in sorted(KERNEL_MATH.items()))
    return SERVER.format(
        title=title,
        command=command,
        variants=variants,
        digits=rules.min_digits,
        rtol=float(rules.rtol or 0.0),
        atol=float(rules.tolerance or 0.0),
        follow_through=float(rules.follow_through),
        math=math_names,
    )
