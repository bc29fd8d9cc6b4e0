"""``postalops catalogs extract|update|compile [--plugin KEY]``: keep each domain's catalogues.

A domain is one package (the core ``postalops`` or a plugin's package, found through its
``postalops.plugins`` entry point, so a third-party plugin installed anywhere works too) with
its ``translations/{zh_CN,en}/LC_MESSAGES/messages.po``:

- ``extract`` writes ``translations/messages.pot`` from ``*.py`` and ``templates/**.html``
  (``_``, ``gettext``, ``ngettext``, ``pgettext``, ``npgettext`` and the ``lazy_*`` forms);
- ``update`` merges it into both catalogues: existing translations are kept (by msgid and
  context), translated strings no longer in the code are kept as obsolete (``#~``) entries and
  come back with their code, a new string the core already translates starts from the core's
  translation (another domain's is offered as fuzzy), the ``en`` catalogue's strings are the
  English msgids unless set, and the strings still lacking a Chinese translation are listed;
- ``compile`` writes the ``.mo`` files; fuzzy entries are left out.

``update`` and ``compile`` exit with status 1 when a Chinese translation is missing or fuzzy.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from . import i18n

LANGS = ("zh_CN", "en")
METHODS = [
    ("**/tests/**", "ignore"),
    ("**/migrations/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
]
KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "N_": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}
WIDTH = 100


@dataclass(frozen=True)
class Domain:
    """One package's catalogues: ``key`` is the plugin key (``core`` for the core)."""

    key: str
    package: str
    root: Path

    @property
    def translations(self) -> Path:
        return self.root / "translations"

    def po(self, lang: str) -> Path:
        return self.translations / lang / "LC_MESSAGES" / f"{i18n.CATALOGUE}.po"


def installed_domains() -> list[Domain]:
    """The core and every installed plugin (by entry point), core first."""
    from importlib import metadata

    from .plugins import ENTRY_POINT_GROUP

    out = [Domain("core", i18n.CORE, _root(i18n.CORE))]
    seen = {i18n.CORE}
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        package = i18n.package_of(ep.module)
        if package in seen:
            continue
        root = i18n.package_dir(package)
        if root is None:
            continue
        seen.add(package)
        out.append(Domain(ep.name, package, root))
    return out


def _root(package: str) -> Path:
    root = i18n.package_dir(package)
    if root is None:
        raise click.ClickException(f"package {package} is not importable")
    return root


def select(keys: Iterable[str]) -> list[Domain]:
    domains = installed_domains()
    wanted = list(keys)
    if not wanted:
        return domains
    by_key = {d.key: d for d in domains} | {d.package: d for d in domains}
    unknown = [k for k in wanted if k not in by_key]
    if unknown:
        known = ", ".join(d.key for d in domains)
        raise click.BadParameter(f"unknown plugin {', '.join(unknown)} (installed: {known})")
    return [by_key[k] for k in wanted]


# --- the three steps ----------------------------------------------------------------------------


def extract(domain: Domain) -> Catalog:
    """Every translatable string of the domain's package (tests and migrations excluded)."""
    template = Catalog(project=domain.package, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(domain.root), METHODS, keywords=KEYWORDS
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def read(path: Path, lang: str) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _key(msg: Message) -> str:
    return msg.id if isinstance(msg.id, str) else msg.id[0]


def _translated(msg: Message | None) -> bool:
    if msg is None or msg.fuzzy:
        return False
    strings = msg.string if isinstance(msg.string, (tuple, list)) else (msg.string,)
    return all(bool(s) for s in strings)


def missing(domain: Domain, lang: str = "zh_CN") -> list[str]:
    """msgids of the domain's catalogue lacking a (non-fuzzy) translation in ``lang``."""
    cat = read(domain.po(lang), lang)
    if cat is None:
        return ["<no catalogue>"]
    return [_key(m) for m in cat if m.id and not _translated(m)]


def _msg_key(
    msgid: str | tuple[str, ...] | list[str], context: str | None
) -> tuple[str, str | None]:
    return (msgid if isinstance(msgid, str) else msgid[0], context)


def _previous(old: Catalog | None, msg: Message) -> Message | None:
    """The catalogue's entry for ``msg``, also among its obsolete ones (``#~``): a string
    translated before its code was written, or whose code came back, keeps its translation."""
    if old is None:
        return None
    found = old.get(msg.id, msg.context)
    if found is None:
        key, context = _msg_key(msg.id, msg.context)
        found = old.obsolete.get(key if context is None else (key, context))
    return found


def suggestions(domains: Iterable[Domain]) -> dict[tuple[str, str | None], tuple[str, Message]]:
    """Every domain's Chinese translations by (msgid, context): ``update`` offers one to a
    domain lacking the string, as a fuzzy entry (not shown to users until a translator clears
    the flag: another plugin's wording may not fit)."""
    out: dict[tuple[str, str | None], tuple[str, Message]] = {}
    for d in domains:
        cat = read(d.po("zh_CN"), "zh_CN")
        for m in cat or ():
            if m.id and _translated(m):
                out.setdefault(_msg_key(m.id, m.context), (d.key, m))
    return out


def update(
    domain: Domain,
    template: Catalog | None = None,
    others: dict[tuple[str, str | None], tuple[str, Message]] | None = None,
) -> tuple[list[str], int]:
    """Merge the extracted strings into the ``zh_CN`` and ``en`` catalogues; returns the
    msgids lacking Chinese and the number of strings no longer in the code (kept as obsolete
    ``#~`` entries when translated, so they come back with their code).

    A new string starts from the core's translation when the core has one (the wording a
    plugin page would show anyway), else from another domain's (``others``) as fuzzy."""
    template = template if template is not None else extract(domain)
    if not any(m.id for m in template) and not domain.po("zh_CN").exists():
        return [], 0  # nothing to translate (yet): no empty catalogues
    core = None
    if domain.package != i18n.CORE:
        core = read(Domain("core", i18n.CORE, _root(i18n.CORE)).po("zh_CN"), "zh_CN")
    lacking: list[str] = []
    dropped = 0
    for lang in LANGS:
        old = read(domain.po(lang), lang)
        cat = Catalog(locale=lang, project=domain.package, fuzzy=False)
        if old is not None:  # a run that changes no string leaves the file as it was
            cat.creation_date, cat.revision_date = old.creation_date, old.revision_date
        for msg in template:
            if not msg.id:
                continue
            prev = _previous(old, msg)
            comments: list[str] = []
            if lang == "en":
                string = prev.string if prev is not None and _translated(prev) else msg.id
                fuzzy = False
            else:
                if prev is None and core is not None:
                    c = core.get(msg.id, msg.context)
                    prev = c if _translated(c) else None
                suggested = None
                if prev is None and others:
                    suggested = others.get(_msg_key(msg.id, msg.context))
                if suggested is not None and suggested[0] != domain.key:
                    prev = suggested[1]
                    comments = [f"suggested from the {suggested[0]} catalogue"]
                    fuzzy = True
                else:
                    fuzzy = bool(prev is not None and prev.fuzzy)
                string = prev.string if prev is not None else ""
                if prev is None or fuzzy or not _translated(prev):
                    lacking.append(_key(msg) + (" (fuzzy)" if fuzzy else ""))
            cat.add(
                msg.id,
                string,
                msg.locations,
                auto_comments=msg.auto_comments,
                user_comments=comments or (prev.user_comments if prev is not None else []),
                flags=("fuzzy",) if fuzzy else (),
                context=msg.context,
            )
        for m in list(old or ()) + list(old.obsolete.values() if old is not None else ()):
            if m.id and cat.get(m.id, m.context) is None and _translated(m):
                key, context = _msg_key(m.id, m.context)
                cat.obsolete[key if context is None else (key, context)] = m
                dropped += 1 if lang == "zh_CN" else 0
        path = domain.po(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            # file names without line numbers: editing code elsewhere in a file does not
            # touch the catalogues (fewer clashes between people adding strings)
            write_po(f, cat, width=WIDTH, sort_output=True, include_lineno=False)
    return lacking, dropped


def compile_(domain: Domain) -> list[str]:
    """Write the ``.mo`` of each catalogue; returns the msgids lacking Chinese."""
    for lang in LANGS:
        cat = read(domain.po(lang), lang)
        if cat is None:
            continue
        with domain.po(lang).with_suffix(".mo").open("wb") as f:
            write_mo(f, cat)  # fuzzy entries left out: a guess is not shown to users
    return missing(domain)


# --- the command --------------------------------------------------------------------------------


def _plugin_option(fn):  # type: ignore[no-untyped-def]
    return click.option(
        "--plugin",
        "plugins",
        multiple=True,
        metavar="KEY",
        help="a plugin key (or 'core'); repeatable; default: the core and every installed plugin",
    )(fn)


def _report(domain: Domain, lacking: list[str]) -> None:
    if lacking:
        click.echo(f"{domain.key}: {len(lacking)} string(s) lack a Chinese translation:")
        for m in lacking:
            click.echo(f"  {m}")


@click.group("catalogs")
def catalogs() -> None:
    """Translation catalogues, one domain per plugin (docs/plugins.md, Translations)."""


@catalogs.command("extract")
@_plugin_option
def extract_cmd(plugins: tuple[str, ...]) -> None:
    """Write each domain's translations/messages.pot."""
    for domain in select(plugins):
        template = extract(domain)
        domain.translations.mkdir(parents=True, exist_ok=True)
        out = domain.translations / f"{i18n.CATALOGUE}.pot"
        with out.open("wb") as f:
            write_po(f, template, width=WIDTH, sort_output=True)
        click.echo(f"{domain.key}: {len(template)} string(s) -> {out}")


@catalogs.command("update")
@_plugin_option
def update_cmd(plugins: tuple[str, ...]) -> None:
    """Merge the code's strings into the zh_CN and en catalogues."""
    status = 0
    others = suggestions(installed_domains())
    for domain in select(plugins):
        lacking, dropped = update(domain, others=others)
        if not domain.po("zh_CN").exists():
            click.echo(f"{domain.key}: no translatable string")
            continue
        click.echo(
            f"{domain.key}: {domain.translations} updated"
            + (f", {dropped} string(s) no longer in the code kept as obsolete" if dropped else "")
        )
        _report(domain, lacking)
        status = status or (1 if lacking else 0)
    sys.exit(status)


@catalogs.command("compile")
@_plugin_option
def compile_cmd(plugins: tuple[str, ...]) -> None:
    """Write the .mo files (fuzzy entries left out)."""
    status = 0
    for domain in select(plugins):
        if not domain.translations.is_dir():
            continue
        lacking = compile_(domain)
        click.echo(f"{domain.key}: compiled {domain.translations}")
        _report(domain, lacking)
        status = status or (1 if lacking else 0)
    sys.exit(status)
