"""The translation catalogs: extract the messages, update the Chinese catalog, report what is missing.

    python scripts/i18n.py extract     # bptrace/locale/bptrace.pot from every _(), N_() and ngettext() in bptrace/
    python scripts/i18n.py update      # extract, then merge the template into the zh_CN catalog (no fuzzy guesses)
    python scripts/i18n.py missing     # list the messages with no Chinese translation (exit 1 if any)
    python scripts/i18n.py union A.po B.po   # after a merge conflict: one catalog with the translations of both
    python scripts/i18n.py todo > todo.json     # the untranslated messages as JSON {"msgid": ""}
    python scripts/i18n.py fill todo.json       # put the translations of a JSON {"msgid": "msgstr"} into the catalog

The catalogs are sorted by message and carry no source locations and no dates, so that two branches that
translate different messages merge cleanly. The workflow is Babel's (pybabel extract/update); this script only
fixes its options. tests/test_i18n.py fails when the template is stale or a message lacks its translation.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bptrace.i18n import CATALOGS, DOMAIN, LOCALE_DIR, catalog_path

TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
HEADER = {"project": "bptrace", "copyright_holder": "the bptrace authors", "msgid_bugs_address": ""}


def extracted() -> Catalog:
    """Every marked message of the package, as a template catalog."""
    catalog = Catalog(**HEADER, fuzzy=False)
    for _file, _line, message, comments, _context in extract_from_dir(
        str(ROOT / "bptrace"), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        catalog.add(message, None, auto_comments=comments)
    for text in cli_help_texts():
        catalog.add(text, None, auto_comments=["a --help text of the command line"])
    return catalog


def cli_help_texts() -> list[str]:
    """The help of every command and option, paragraph by paragraph, as bptrace/cli/language.py shows it."""
    from bptrace.cli.language import help_paragraphs, help_texts, walk
    from bptrace.cli.main import main

    texts: list[str] = []
    for command in walk(main, everything=True):  # every command, the lazily loaded ones too
        for owner, attribute in help_texts(command):
            text = getattr(owner, attribute, None)
            if text:
                texts.extend(help_paragraphs(text))
    return texts


def _text(catalog: Catalog) -> str:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=120, no_location=True, omit_header=False, sort_output=True, ignore_obsolete=True)
    text = buffer.getvalue().decode("utf-8")
    # no dates and no generator version in the header: they would make every branch's catalog conflict
    return re.sub(r'^"(POT-Creation-Date|PO-Revision-Date|Generated-By): .*\\n"\n', "", text, flags=re.M)


def template_text() -> str:
    return _text(extracted())


def updated(lang: str = "zh") -> Catalog:
    """The language's catalog merged with a fresh template: new messages added untranslated, old ones dropped."""
    with catalog_path(lang).open("rb") if catalog_path(lang).exists() else io.BytesIO(b"") as handle:
        catalog = read_po(handle, locale=CATALOGS[lang])
    catalog.project, catalog.copyright_holder = HEADER["project"], HEADER["copyright_holder"]
    catalog.fuzzy = False
    catalog.last_translator = catalog.language_team = "the bptrace authors"
    catalog.update(extracted(), no_fuzzy_matching=True)
    catalog.obsolete.clear()
    return catalog


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def missing(lang: str = "zh") -> list[str]:
    with catalog_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=CATALOGS[lang])
    known = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    out = []
    for message in extracted():
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        entry = known.get(key)
        strings = entry.string if entry is not None else None
        if entry is None or entry.fuzzy or not strings or (isinstance(strings, tuple) and not all(strings)):
            out.append(key)
    return out


def fill(translations: dict[str, str], lang: str = "zh") -> str:
    """Put translations (msgid -> msgstr) into the catalog; an msgid the template does not have is refused."""
    catalog = updated(lang)
    unknown = [key for key in translations if key not in catalog]
    for key, text in translations.items():
        if key in catalog and text:
            message = catalog[key]
            message.string = tuple([text] * len(message.id)) if isinstance(message.id, tuple) else text
            message.flags.discard("fuzzy")
    write(catalog_path(lang), _text(catalog))
    left = len(missing(lang))
    return f"filled {len(translations) - len(unknown)}; unknown (not in the template): {unknown}; {left} still missing"


def union(first: Path, second: Path) -> str:
    """The catalog with every translation of both (the first wins where both translate a message)."""
    with first.open("rb") as a, second.open("rb") as b:
        one, two = read_po(a, locale="zh_CN"), read_po(b, locale="zh_CN")
    for message in two:
        if not (message.id and message.string) or message.fuzzy:
            continue
        mine = one.get(message.id)
        if mine is None:
            one[message.id] = message
        elif not mine.string or mine.fuzzy:
            # (Catalog's item assignment would merge comments and keep the empty string: set it)
            mine.string = message.string
            mine.flags.discard("fuzzy")
    return _text(one)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "update"
    if command == "extract":
        write(TEMPLATE, template_text())
    elif command == "update":
        write(TEMPLATE, template_text())
        write(catalog_path("zh"), _text(updated("zh")))
        left = missing("zh")
        print(f"{len(left)} messages without a Chinese translation", file=sys.stderr)
    elif command == "missing":
        left = missing("zh")
        print("\n".join(left))
        return 1 if left else 0
    elif command == "todo":
        print(json.dumps({key: "" for key in missing("zh")}, ensure_ascii=False, indent=1))
    elif command == "fill":
        print(fill(json.loads(Path(argv[1]).read_text(encoding="utf-8"))), file=sys.stderr)
    elif command == "union":
        write(Path(argv[1]), union(Path(argv[1]), Path(argv[2])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
