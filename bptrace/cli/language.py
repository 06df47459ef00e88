"""`--lang` on every command, and the command line itself in that language (--help, usage errors).

The language is decided before click parses anything (so `bptrace run --help --lang zh` is Chinese, whatever
the order): `--lang` on the command line, else BPTRACE_LANG, else the locale (bptrace.i18n). The help texts
stay English in the source (docstrings and `help=`); scripts/i18n.py extracts them by walking the command
tree, and `translate_commands` shows them translated. click's own words (Usage:, Options, its usage errors)
are translated by bptrace's catalog, from the list below.
"""

from __future__ import annotations

import gettext
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import click

from bptrace import i18n
from bptrace.i18n import N_

LANG_HELP = N_("The language of the output: en (English) or zh (简体中文). Default: BPTRACE_LANG, else the locale.")

# click's own messages that a bptrace user sees (click formats them with .format, so their placeholders are
# kept as click spells them). Translated in bptrace's catalog; a message click no longer uses is harmless.
CLICK_MESSAGES = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("Aborted!"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing command."),
    N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Invalid value: {message}"),
    N_("No such command {name!r}."),
    N_("No such option {name!r}."),
    N_("No such option: {name}"),
    N_("Option {name!r} does not take a value."),
    N_("Option {name!r} requires an argument."),
    N_("Option {name!r} requires {nargs} arguments."),
    N_("Got unexpected extra argument ({args})"),
    N_("Got unexpected extra arguments ({args})"),
    N_("Did you mean {possibility}?"),
    N_("(Did you mean one of: {possibilities}?)"),
    N_("{value!r} is not {choice}."),
    N_("{value!r} is not one of {choices}."),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."),
    N_("Could not open file {filename!r}: {message}"),
    N_("default: {default}"),
    N_("required"),
    N_("file"),
    N_("directory"),
    N_("path"),
    N_("integer"),
    N_("float"),
    N_("integer range"),
    N_("float range"),
    N_("text"),
    N_("boolean"),
    N_("filename"),
    N_("%(prog)s, version %(version)s"),
    N_("Choose from:\n\t{choices}"),
    N_("Argument {name!r} takes {nargs} values."),
    N_("Takes {nargs} values but 1 was given."),
    N_("Takes {nargs} values but {len} were given."),
)
# What click writes in a usage line: `Usage: bptrace run [OPTIONS] [SCENARIO]`, `bptrace COMMAND [ARGS]...`
OPTIONS_METAVAR = N_("[OPTIONS]")
SUBCOMMAND_METAVAR = N_("COMMAND [ARGS]...")
METAVARS = (N_("FILE"),)  # the metavars an option names itself that are words, not names (SCENARIO stays)


def lang_option() -> click.Option:
    return click.Option(
        ["--lang"],
        type=click.Choice(list(i18n.LANGUAGES)),
        default=None,
        expose_value=False,  # the language is set before parsing (choose_language); this option documents it
        is_eager=True,
        help=LANG_HELP,
    )


def add_lang_option(group: click.Command) -> None:
    """Give the group and every command under it a `--lang` option (one definition, here)."""
    for command in walk(group):
        if not any(param.name == "lang" for param in command.params):
            command.params.append(lang_option())


def walk(command: click.Command, everything: bool = False) -> Iterator[click.Command]:
    """The command and its subcommands. By default only the commands already imported (cli.main.BptraceGroup
    adds the others when they are first used); everything=True imports them all (the catalog's extraction)."""
    yield command
    if isinstance(command, click.Group):
        loaded: dict[str, click.Command] | None = getattr(command, "loaded_commands", None)
        commands = loaded if loaded is not None and not everything else command.commands
        for name in sorted(commands):
            yield from walk(commands[name], everything)


def requested(args: Sequence[str]) -> str | None:
    """The value of `--lang` on the command line (`--lang zh` or `--lang=zh`), if any; the last one wins."""
    found = None
    items = list(args)
    for index, arg in enumerate(items):
        if arg == "--":
            break
        if arg == "--lang" and index + 1 < len(items):
            found = items[index + 1]
        elif arg.startswith("--lang="):
            found = arg.split("=", 1)[1]
    return found


def choose_language(group: click.Group, args: Sequence[str] | None) -> str:
    """Set the language for this invocation and show the command line in it."""
    wanted = requested(sys.argv[1:] if args is None else args)
    lang = (i18n.normalize(wanted) if wanted else None) or i18n.from_environment()
    i18n.set_language(lang)
    translate_commands(group)
    translate_click()
    return lang


_ENGLISH = "_bptrace_english"  # where a command or parameter keeps its English help


def help_texts(command: click.Command) -> Iterator[tuple[Any, str]]:
    """(object, attribute) of every help text of the command: its help, short help, epilog, options' help."""
    for attribute in ("help", "short_help", "epilog"):
        yield command, attribute
    for param in command.params:
        yield param, "help"


def translate_commands(group: click.Command) -> None:
    for command in walk(group):
        _english(command).setdefault("short_help_own", command.short_help)  # None: made from the help
        for owner, attribute in help_texts(command):
            if owner is command and attribute == "short_help" and not _english(command)["short_help_own"]:
                continue
            english = _english(owner).get(attribute, getattr(owner, attribute, None))
            if not english:
                continue
            _english(owner)[attribute] = english
            setattr(owner, attribute, _translated_help(english))
        _translate_words(command)


def _translate_words(command: click.Command) -> None:
    """The words of a usage line and of option metavars: [OPTIONS], COMMAND [ARGS]..., INTEGER, FILE.
    And, in a language other than English, the one-line help in the list of commands (click's own shortening
    counts English words, which a Chinese sentence has none of)."""
    english = _english(command)
    if hasattr(command, "_help_option"):
        command._help_option = None  # click keeps the --help option it made, with its help in that language
    english.setdefault("options_metavar", command.options_metavar)
    if english["options_metavar"] == OPTIONS_METAVAR:
        command.options_metavar = i18n._(OPTIONS_METAVAR)
    if isinstance(command, click.Group):
        english.setdefault("subcommand_metavar", command.subcommand_metavar)
        if english["subcommand_metavar"] == SUBCOMMAND_METAVAR:
            command.subcommand_metavar = i18n._(SUBCOMMAND_METAVAR)
    if not english["short_help_own"]:
        command.short_help = None if i18n.language() == "en" else short_help(command.help or "")
    for param in command.params:
        metavar = _english(param).setdefault("metavar", param.metavar)
        if metavar in METAVARS:
            param.metavar = i18n._(metavar)
        kind = param.type
        name = _english(kind).setdefault("name", getattr(kind, "name", None))
        if isinstance(name, str):
            kind.name = i18n._(name)


def short_help(text: str, limit: int = 44) -> str:
    """The first sentence of a (translated) help text, for the list of commands: 追踪……的一个训练步."""
    first = help_paragraphs(text)[0] if text.strip() else ""
    first = " ".join(first.replace("\b", "").split())
    sentence = first.split("。")[0]
    if cell_len(sentence) > limit:
        for mark in ("（", "；", "，"):
            if mark in sentence[4:]:
                sentence = sentence[: sentence.index(mark, 4)]
                break
    return sentence.rstrip("：:，,。") + ("。" if "。" in first else "")


def cell_len(text: str) -> int:
    """How many terminal cells `text` takes (a Chinese character takes two)."""
    from rich.cells import cell_len as cells

    return int(cells(text))


def _english(owner: Any) -> dict[str, Any]:
    if not hasattr(owner, _ENGLISH):
        setattr(owner, _ENGLISH, {})
    return getattr(owner, _ENGLISH)  # type: ignore[no-any-return]


def _translated_help(text: str) -> str:
    """A help text in the current language: the whole text if the catalog has it, else paragraph by paragraph
    (a docstring's example block, marked by click's \\b, is one paragraph of commands and stays as it is)."""
    whole = i18n._(text)
    if whole != text:
        return whole
    return "\n\n".join(i18n._(part) for part in help_paragraphs(text))


def help_paragraphs(text: str) -> list[str]:
    """A help text cut into the paragraphs a translator translates (what scripts/i18n.py extracts)."""
    import inspect

    return [part.strip("\n") for part in inspect.cleandoc(text).split("\n\n") if part.strip()]


def translate_click() -> None:
    """click's messages through bptrace's catalog while bptrace speaks a language other than English; and
    its help laid out in terminal cells (a Chinese character takes two), broken between Chinese characters."""
    lang = i18n.language()
    gettext_ = (lambda m: i18n._(m)) if lang != "en" else gettext.gettext
    ngettext_ = _click_ngettext if lang != "en" else gettext.ngettext
    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if callable(getattr(module, "_", None)):
                setattr(module, "_", gettext_)  # noqa: B010 (a module's own name, set from outside)
            if callable(getattr(module, "ngettext", None)):
                setattr(module, "ngettext", ngettext_)  # noqa: B010
    _layout_in_cells(lang != "en")


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    """click's plural messages: CLICK_MESSAGES lists both forms, each translated on its own."""
    found = i18n.ngettext(singular, plural, n)
    return found if found not in (singular, plural) else i18n._(singular if n == 1 else plural)


_CLICK_ORIGINALS: dict[tuple[str, str], Any] = {}


def _layout_in_cells(on: bool) -> None:
    """Swap click's width measure and text wrapper for ones that count terminal cells (and back)."""
    import click._textwrap
    import click.formatting

    places = ((click.formatting, "term_len"), (click._textwrap, "term_len"), (click._textwrap, "TextWrapper"))
    for module, attribute in places:
        _CLICK_ORIGINALS.setdefault((module.__name__, attribute), getattr(module, attribute))
    if not on:
        for module, attribute in places:
            setattr(module, attribute, _CLICK_ORIGINALS[(module.__name__, attribute)])
        return
    original_len = _CLICK_ORIGINALS[("click.formatting", "term_len")]
    wrapper = _CLICK_ORIGINALS[("click._textwrap", "TextWrapper")]

    def term_len(x: str) -> int:
        return cell_len(x) - len(x) + int(original_len(x))  # ANSI codes still count nothing

    class CellWrapper(wrapper):  # type: ignore[misc, valid-type]
        """click's wrapper, with a break allowed between two Chinese characters (never inside a name or a
        number, never before a closing mark such as ，。）or after an opening one such as （《)."""

        def _split(self, text: str) -> list[str]:
            chunks: list[str] = []
            for part in _CITED.split(text):  # a cited title (《Towards Data Science》) is kept on one line
                if _CITED.fullmatch(part) and cell_len(part) <= self.width - 2:
                    chunks.append(part)
                elif part:
                    chunks.extend(piece for chunk in super()._split(part) for piece in cjk_chunks(chunk))
            return chunks

    click.formatting.term_len = term_len
    click._textwrap.term_len = term_len
    click._textwrap.TextWrapper = CellWrapper  # type: ignore[misc]


_CITED = re.compile(r"(《[^》]*》)")
_CLOSING = set("，。：；！？、）》」』】…’”")
_OPENING = set("（《「『【‘“([{")


def cjk_chunks(chunk: str) -> list[str]:
    """A word of a help text cut where a line may break: between Chinese characters, not inside a run of
    other characters (`net_h1`, `0.5`, `--force`), not before ，。）and not after （《."""
    import unicodedata

    pieces: list[str] = []
    for ch in chunk:
        wide = unicodedata.east_asian_width(ch) in "WF"
        if not pieces:
            pieces.append(ch)
        elif ch in _CLOSING or pieces[-1][-1] in _OPENING:
            pieces[-1] += ch
        elif wide or unicodedata.east_asian_width(pieces[-1][-1]) in "WF" and not ch.isspace():
            pieces.append(ch)
        else:
            pieces[-1] += ch
    return pieces


def wrap_cells(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` terminal cells, broken at spaces and between Chinese characters
    (never inside a name or a number): for the lines bptrace writes itself, such as `bptrace scenarios`."""
    pieces: list[str] = []
    for part in _CITED.split(text):  # a cited title stays on one line when it fits
        if part.startswith("《") and cell_len(part) <= width:
            pieces.append(part)
            continue
        for token in re.split(r"(\s+)", part):
            if token:
                pieces.extend([" "] if token.isspace() else cjk_chunks(token))
    lines: list[str] = []
    line = ""
    for piece in pieces:
        if piece == " ":
            line += " " if line else ""
        elif not line.strip() or cell_len(line + piece) <= width:
            line += piece
        else:
            lines.append(line.rstrip())
            line = piece
    lines.append(line.rstrip())
    return lines
