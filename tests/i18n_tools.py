"""What the Chinese tests share: the language switch, and a finder of English prose left in Chinese output.

English prose is a run of ordinary English words; what is never translated is allowed (docs/glossary.zh.md):
quantity names and formulas (they carry digits, underscores, ∂ or operators), function, loss and option names,
file names and the names of tools.
"""

from __future__ import annotations

import re

# Words that stay English in Chinese output: function and loss names, math operators, tools and formats.
NEVER_TRANSLATED = {
    # activations, losses and their spelled names (registry names in bptrace/functions.py)
    "sigmoid",
    "relu",
    "tanh",
    "softmax",
    "linear",
    "softplus",
    "elu",
    "leaky",
    "identity",
    "step",
    "sse",
    "half",
    "mse",
    "bce",
    "cross",
    "entropy",
    "max",
    "margin",
    "hinge",
    "logistic",
    # mathematical names written in formulas
    "exp",
    "log",
    "ln",
    "min",
    "sum",
    "mean",
    "eta",
    "alpha",
    "beta",
    "gamma",
    "lambda",
    "sigma",
    "delta",
    "net",
    "out",
    "argmax",
    "sqrt",
    "abs",
    "sign",
    "var",
    "std",
    "tgt",
    # tools, formats, file and command names
    "bptrace",
    "sympy",
    "numpy",
    "autograd",
    "pytorch",
    "json",
    "yaml",
    "csv",
    "html",
    "mathml",
    "latex",
    "pdf",
    "markdown",
    "gradescope",
    "chromium",
    "xelatex",
    "pdflatex",
    "ctex",
    "png",
    "svg",
    "utf",
    "gbk",
    "ascii",
    "python",
    "pip",
    "stackoverflow",
    "debian",
    "ubuntu",
    "apt",
    "install",
    "texlive",
    "tex",
    "mazur",
    "ng",
    "cs224n",
    "coursera",
    "jupyter",
    "moodle",
    "canvas",
    "unicode",
}

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]*")


def english_words(text: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The English words of `text` that are prose: alphabetic tokens of 3+ letters, not glued to digits,
    underscores, dots, slashes or hyphens (then they are names: net_h1, mazur.yaml, --format, dE/dw5),
    and not in NEVER_TRANSLATED or `allowed`."""
    found = []
    text = re.sub(r"《[^》]*》", "《》", text)  # a cited title (《A Step by Step Backpropagation Example》) is a name
    text = re.sub(r"'bptrace [^']*'", "''", text)  # so is a quoted command ('bptrace template SCENARIO')
    for m in _TOKEN.finditer(text):
        word = m.group(0).rstrip("'’")
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end()] if m.end() < len(text) else " "
        if len(word) < 3 or before in "_-./\\@$%{<&#=+:" or after in "_-./\\@$(}{[>0123456789+⁺⁽₀₁₂₃₄₅₆₇₈₉":
            continue
        if word.lower() in NEVER_TRANSLATED or word in allowed or word.lower() in allowed:
            continue
        found.append(word)
    return found


def prose_lines(text: str, allowed: set[str] | frozenset[str] = frozenset(), least: int = 2) -> list[str]:
    """The lines of `text` holding `least` or more English prose words: what a Chinese reader would see as
    untranslated. One stray word (a name we did not foresee) is not a sentence."""
    return [line for line in text.splitlines() if len(english_words(line, allowed)) >= least]
