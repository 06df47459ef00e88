"""The language bptrace speaks: English (the source text) or Simplified Chinese (a gettext catalog).

The standard gettext workflow: every user-facing message in the source is English, marked with `_()`
(translated where it is used) or `N_()` (a constant, marked for extraction and translated later with `_()`);
Babel extracts them into bptrace/locale/bptrace.pot, and bptrace/locale/zh_CN/LC_MESSAGES/bptrace.po holds
the Chinese (scripts/i18n.py: extract, update, check). The `.po` file is read at load time with Babel's
reader, once, and only when Chinese is asked for: English costs nothing.

    _("Forward pass")                           # 前向传播 under --lang zh
    _("{n} checks agree").format(n=3)           # placeholders are named, never f-strings inside _()
    ngettext("{n} answer", "{n} answers", n)    # plural forms (Chinese has one)

What is translated: prose (titles, headers, sentences, verdicts, errors, --help). What never is: quantity
names, formulas and numbers (`net_h1`, `∂E/∂w5`, `0.75136507`), and the JSON, so that a sheet and the JSON
are the same in every language.

Which language: `--lang` (any command), else BPTRACE_LANG, else the locale (LANGUAGE, LC_ALL, LC_MESSAGES,
LANG as gettext reads them: `zh_CN.UTF-8` means Chinese), else English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh")  # the languages bptrace speaks; en is the source text
LANGUAGE_NAMES = {"en": "English", "zh": "简体中文"}
CATALOGS = {"zh": "zh_CN"}  # language -> the catalog's locale folder under bptrace/locale
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "bptrace"

_language = "en"


def N_(message: str) -> str:
    """Mark a constant for extraction; translate it where it is shown, with `_(CONSTANT)`."""
    return message


def _(message: str) -> str:
    """`message` in the current language (the English source text when there is no translation)."""
    if _language == "en" or not message:
        return message
    return _catalog(_language).get(message) or message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message that fits the count `n`, in the current language."""
    if _language != "en":
        forms = _plural_catalog(_language).get(singular)
        if forms:
            return forms[0] if len(forms) == 1 else forms[min(_plural_index(n), len(forms) - 1)]
    return singular if n == 1 else plural


def _plural_index(n: int) -> int:
    return 0  # Simplified Chinese has one plural form (the catalog's Plural-Forms: nplurals=1; plural=0)


def language() -> str:
    """The language bptrace speaks now ("en" or "zh")."""
    return _language


def set_language(lang: str | None) -> str:
    """Speak `lang` ("en", "zh", "zh_CN", "zh-Hans", ...; None: from the environment). Returns the language."""
    global _language
    chosen = normalize(lang) if lang else from_environment()
    if chosen is None:
        raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    _language = chosen
    return chosen


def normalize(lang: str) -> str | None:
    """The language a name means: "zh", "zh_CN.UTF-8", "zh-Hans", "chinese" -> "zh"; "en_US" -> "en"; else None."""
    name = lang.strip().lower().replace("-", "_")
    base = name.split(".")[0].split("@")[0].split("_")[0]
    if base in ("zh", "chinese", "中文"):
        return "zh"
    if base in ("en", "english", "c", "posix"):
        return "en"
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """BPTRACE_LANG, else the locale (gettext's order: LANGUAGE, LC_ALL, LC_MESSAGES, LANG), else English.
    A value bptrace does not speak falls through to the next; LANGUAGE may list several (`zh_CN:en`)."""
    env = os.environ if environ is None else environ
    wanted = env.get("BPTRACE_LANG", "").strip()
    if wanted:
        return normalize(wanted) or "en"
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "").strip()
        if not value:
            continue
        if var == "LANGUAGE" and env.get("LC_ALL", env.get("LANG", "")).split(".")[0] in ("C", "POSIX"):
            continue  # gettext ignores LANGUAGE under the C locale
        for part in value.split(":"):
            found = normalize(part) if part else None
            if found:
                return found
        return "en"  # the first variable set decides, as in gettext: a locale bptrace does not speak is English
    return "en"


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / CATALOGS[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _catalogs(lang: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """The translated messages of `lang`'s catalog: singular msgid -> msgstr, and plural msgid -> forms.
    Untranslated and fuzzy entries are left out, so they show in English (and tests/test_i18n.py fails)."""
    from babel.messages.pofile import read_po

    with catalog_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=CATALOGS[lang])
    singular: dict[str, str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
            forms = tuple(str(form or "") for form in strings)
            if all(forms):
                plural[message.id[0]] = forms
                singular.setdefault(message.id[0], forms[0])
        elif message.string:
            singular[message.id] = str(message.string)
    return singular, plural


def _catalog(lang: str) -> dict[str, str]:
    return _catalogs(lang)[0]


def _plural_catalog(lang: str) -> dict[str, tuple[str, ...]]:
    return _catalogs(lang)[1]
