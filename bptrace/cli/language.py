"""`--lang` on every command, and the command line itself in that language (--help, usage errors).

The language is decided before click parses anything (so `bptrace run --help --lang zh` is Chinese, whatever
the order): `--lang` on the command line, else BPTRACE_LANG, else the locale (bptrace.i18n). The help texts
stay English in the source (docstrings and `help=`); scripts/i18n.py extracts them by walking the command
tree, and `translate_commands` shows them translated. click's own words (Usage:, Options, its usage errors)
are translated by bptrace's catalog, from the list below.
"""

from __future__ import annotations

import gettext
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
)


def lang_option() -> click.Option:
    return click.Option(
        ["--lang"],
        type=click.Choice(list(i18n.LANGUAGES)),
        default=None,
        expose_value=False,  # the language is set before parsing (choose_language); this option documents it
        is_eager=True,
        help=LANG_HELP,
    )


def add_lang_option(group: click.Group) -> None:
    """Give the group and every command under it a `--lang` option (one definition, here)."""
    for command in walk(group):
        if not any(param.name == "lang" for param in command.params):
            command.params.append(lang_option())


def walk(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name])


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


def translate_commands(group: click.Group) -> None:
    for command in walk(group):
        for owner, attribute in help_texts(command):
            english = _english(owner).get(attribute, getattr(owner, attribute, None))
            if not english:
                continue
            _english(owner)[attribute] = english
            setattr(owner, attribute, _translated_help(english))


def _english(owner: Any) -> dict[str, str]:
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
    """click's messages through bptrace's catalog while bptrace speaks a language other than English."""
    lang = i18n.language()
    gettext_ = (lambda m: i18n._(m)) if lang != "en" else gettext.gettext
    ngettext_ = (lambda s, p, n: i18n.ngettext(s, p, n)) if lang != "en" else gettext.ngettext
    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if callable(getattr(module, "_", None)):
                setattr(module, "_", gettext_)  # noqa: B010  (click's module-level `from gettext import gettext as _`)
            if callable(getattr(module, "ngettext", None)):
                setattr(module, "ngettext", ngettext_)  # noqa: B010
