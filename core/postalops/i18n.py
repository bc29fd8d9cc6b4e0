"""Translation domains: one per plugin, the core's below them all.

Each package (the core ``postalops``, a plugin's ``postalops_payroll`` ...) keeps its catalogues in
its own ``translations/<lang>/LC_MESSAGES/messages.po``; that folder is its *domain*. A plugin's
strings are looked up in its own domain first, then in the core's; the core's strings only in the
core's. So two plugins may translate "Resolved" differently, and no plugin can change a core
string.

Where the domain comes from:

- **Python**: ``_ = translations(__name__).gettext`` (also ``ngettext``, ``pgettext``,
  ``npgettext`` and the ``lazy_*`` forms for labels defined at import time). The domain is the
  top-level package of ``__name__``.
- **Templates**: a template file inside a plugin's package uses that plugin's domain, one in the
  core uses the core's, whichever page renders it: the core renames ``_``/``gettext``/... of
  each template to its owner's functions when it compiles the template. So the shell's strings
  on a plugin page stay the core's, and a plugin's macro keeps its own strings on a core page.
- **flask_babel.gettext** (and templates from strings): the domain of the blueprint serving the
  request (a plugin's views and API), else the core's.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from babel import Locale, support
from flask import current_app, has_app_context, has_request_context, request
from flask.templating import Environment as FlaskEnvironment
from flask_babel import Domain
from jinja2 import nodes, pass_context
from markupsafe import Markup

__all__ = [
    "translations",
    "Translations",
    "N_",
]


CORE = "postalops"
"""The core's domain (its package name)."""

CATALOGUE = "messages"
"""File name of every catalogue: ``translations/<lang>/LC_MESSAGES/messages.po``."""

GETTEXT_NAMES = ("_", "gettext", "ngettext", "pgettext", "npgettext")


def package_of(name: str) -> str:
    """``"postalops_payroll.views"`` -> ``"postalops_payroll"``."""
    return name.split(".", 1)[0]


def package_dir(package: str) -> Path | None:
    """The folder of an importable top-level package (without importing it when possible)."""
    mod = sys.modules.get(package)
    file = getattr(mod, "__file__", None) if mod is not None else None
    if file:
        return Path(file).parent
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _catalogue_names(locale: Locale) -> list[str]:
    # Babel parses ``zh_CN`` as ``zh_Hans_CN`` and gettext would then only try ``zh_Hans_CN/``
    # and ``zh/``: look for ``zh_CN/`` first.
    names = [str(locale)]
    if locale.territory:
        names.insert(0, f"{locale.language}_{locale.territory}")
    return names


def load_catalogue(folder: Path | None, locale: Locale) -> support.NullTranslations:
    """The compiled catalogue of ``folder`` (a ``translations`` folder) for ``locale``."""
    if folder is None or not folder.is_dir():
        return support.NullTranslations()
    return support.Translations.load(str(folder), _catalogue_names(locale), CATALOGUE)


class Catalogues:
    """The app's domains: which package owns which blueprint and template, and the cached
    translations of each domain per locale (``app.extensions["postalops.i18n"]``)."""

    def __init__(self, packages: dict[str, str]) -> None:
        self.packages = dict(packages)  # plugin key -> package
        self.packages.setdefault("core", CORE)
        self.blueprints: dict[str, str] = {}  # blueprint name -> package
        self._dirs: dict[str, Path | None] = {}
        self._cache: dict[tuple[str, str], support.NullTranslations] = {}
        roots = [(package_dir(pkg), pkg) for pkg in set(self.packages.values())]
        # longest first: a plugin folder nested in another package still finds its own domain
        self._roots = sorted(
            ((d.resolve(), pkg) for d, pkg in roots if d is not None),
            key=lambda r: len(str(r[0])),
            reverse=True,
        )

    def translations_dir(self, package: str) -> Path | None:
        if package not in self._dirs:
            d = package_dir(package)
            self._dirs[package] = d / "translations" if d is not None else None
        return self._dirs[package]

    def get(self, package: str, locale: Locale | None) -> support.NullTranslations:
        """``package``'s catalogue falling back to the core's (the core's alone for the core)."""
        if locale is None:
            return support.NullTranslations()
        key = (package, str(locale))
        found = self._cache.get(key)
        if found is None:
            found = load_catalogue(self.translations_dir(CORE), locale)
            if package != CORE:
                own = load_catalogue(self.translations_dir(package), locale)
                if not isinstance(own, support.Translations):
                    own = support.Translations()  # no catalogue (yet): the core's strings
                own.add_fallback(found)
                found = own
            self._cache[key] = found
        return found

    def owner_of_file(self, filename: str | None) -> str | None:
        """The package whose folder holds ``filename`` (a template), or None."""
        if not filename:
            return None
        path = Path(filename).resolve()
        for root, pkg in self._roots:
            if path.is_relative_to(root):
                return pkg
        return None

    def request_package(self) -> str:
        """The domain of the current request: its blueprint's plugin, else the core."""
        if has_request_context() and request.blueprint:
            return self.blueprints.get(request.blueprint.split(".", 1)[0], CORE)
        return CORE


def _catalogues() -> Catalogues | None:
    if not has_app_context():
        return None
    return current_app.extensions.get("postalops.i18n")


def _locale() -> Locale | None:
    from flask_babel import get_locale

    return get_locale()


def catalogue(package: str) -> support.NullTranslations:
    """The current locale's translations of ``package`` (with the core's as fallback)."""
    cats = _catalogues()
    if cats is None:
        return support.NullTranslations()
    return cats.get(package, _locale())


class Translations:
    """The gettext functions of one domain. Get it with :func:`translations`."""

    def __init__(self, package: str) -> None:
        self.package = package

    def _t(self) -> support.NullTranslations:
        return catalogue(self.package)

    def gettext(self, string: str, **variables: Any) -> str:
        s = self._t().ugettext(string)
        return s % variables if variables else s

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return self._t().ungettext(singular, plural, num) % variables

    def pgettext(self, context: str, string: str, **variables: Any) -> str:
        s = self._t().upgettext(context, string)
        return s % variables if variables else s

    def npgettext(
        self, context: str, singular: str, plural: str, num: int, **variables: Any
    ) -> str:
        variables.setdefault("num", num)
        return self._t().unpgettext(context, singular, plural, num) % variables

    def lazy_gettext(self, string: str, **variables: Any) -> Any:
        from flask_babel.speaklater import LazyString

        return LazyString(self.gettext, string, **variables)

    def lazy_ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> Any:
        from flask_babel.speaklater import LazyString

        return LazyString(self.ngettext, singular, plural, num, **variables)

    def lazy_pgettext(self, context: str, string: str, **variables: Any) -> Any:
        from flask_babel.speaklater import LazyString

        return LazyString(self.pgettext, context, string, **variables)

    def __repr__(self) -> str:
        return f"<Translations {self.package}>"


_instances: dict[str, Translations] = {}


def translations(name: str) -> Translations:
    """The domain of the package holding module ``name``: ``translations(__name__)``."""
    package = package_of(name)
    found = _instances.get(package)
    if found is None:
        found = _instances[package] = Translations(package)
    return found


core = translations(CORE)
"""The core's own domain (core code uses it, so plugins cannot change core strings)."""


class RequestDomain(Domain):
    """flask_babel's domain: ``flask_babel.gettext`` and templates compiled from strings look
    up the domain of the blueprint serving the request (a plugin's own pages and API), else
    the core's."""

    def get_translations(self) -> Any:
        cats = _catalogues()
        if cats is None:
            return support.NullTranslations()
        return cats.get(cats.request_package(), _locale())


# --- templates ----------------------------------------------------------------------------------


def _slug(package: str) -> str:
    return re.sub(r"\W", "_", package)


def _template_functions(package: str) -> dict[str, Callable[..., Any]]:
    """Jinja's new-style gettext functions of one domain (autoescape and ``%(name)s``
    formatting as ``jinja2.ext.i18n`` does them)."""
    t = translations(package)

    @pass_context
    def gettext(__context: Any, __string: str, **variables: Any) -> str:
        rv: str = t._t().ugettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    @pass_context
    def ngettext(
        __context: Any, __singular: str, __plural: str, __num: int, **variables: Any
    ) -> str:
        variables.setdefault("num", __num)
        rv: str = t._t().ungettext(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    @pass_context
    def pgettext(__context: Any, __ctx: str, __string: str, **variables: Any) -> str:
        variables.setdefault("context", __ctx)
        rv: str = t._t().upgettext(__ctx, __string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    @pass_context
    def npgettext(
        __context: Any, __ctx: str, __singular: str, __plural: str, __num: int, **variables: Any
    ) -> str:
        variables.setdefault("context", __ctx)
        variables.setdefault("num", __num)
        rv: str = t._t().unpgettext(__ctx, __singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return {"gettext": gettext, "ngettext": ngettext, "pgettext": pgettext, "npgettext": npgettext}


class I18nEnvironment(FlaskEnvironment):
    """Compiles each template with its owner's gettext: ``_("Resolved")`` in a file of
    ``postalops_sorter`` calls the sorter domain's gettext, wherever the template is used."""

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        cats = self.app.extensions.get("postalops.i18n")
        owner = cats.owner_of_file(filename) if cats is not None else None
        if owner is None:
            return tree  # a template from a string: the request's domain
        functions = None
        for node in tree.find_all(nodes.Name):
            if node.ctx != "load" or node.name not in GETTEXT_NAMES:
                continue
            kind = "gettext" if node.name == "_" else node.name
            new = f"_postalops_i18n_{_slug(owner)}_{kind}"
            if new not in self.globals:
                functions = functions or _template_functions(owner)
                self.globals[new] = functions[kind]
            node.name = new
        return tree


# --- messages with values: import reports ---------------------------------------------------------


def N_(string: str) -> str:  # noqa: N802 - the gettext convention
    """Marks a msgid for ``postalops catalogs extract`` without translating it (yet)."""
    return string


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _pattern(msgid: str) -> re.Pattern[str]:
    parts, last = [], 0
    for m in _PLACEHOLDER.finditer(msgid):
        parts.append(re.escape(msgid[last : m.start()]))
        parts.append(f"(?P<{m.group(1)}>.+?)")
        last = m.end()
    parts.append(re.escape(msgid[last:]))
    return re.compile("".join(parts), re.S)


def _code(value: str) -> Markup:
    """A value from the file, as typed: ``'a' or 'b'`` -> ``a``, ``b`` as code."""
    items = re.findall(r"'([^']*)'", value)
    if not items:
        items = [value.strip().strip("'\"")]
    return Markup(", ").join(Markup("<code>%s</code>") % i for i in items)


class Messages:
    """English messages carrying values (``"at most 64 characters"``), matched to the msgids
    they were made from (``"at most %(n)s characters"``) and translated in a domain; the values
    are shown as code. ``Messages(translations(__name__), N_("required"), ...)``."""

    def __init__(self, domain: Translations, *msgids: str) -> None:
        self.domain = domain
        self.exact = {m for m in msgids if not _PLACEHOLDER.search(m)}
        self.patterns = [(_pattern(m), m) for m in msgids if _PLACEHOLDER.search(m)]

    def translate(self, message: str) -> Markup | None:
        """``message`` in the user's language, or None when it is none of these msgids."""
        if message in self.exact:
            return Markup.escape(self.domain.gettext(message))
        for pattern, msgid in self.patterns:
            m = pattern.fullmatch(message)
            if m is not None:
                values = {k: _code(v) for k, v in m.groupdict().items()}
                return Markup.escape(self.domain.gettext(msgid)) % values
        return None


# The core's wording of pydantic's messages (by error type, and a few carrying a limit).
_PYDANTIC_TYPES = {
    "missing": N_("required"),
    "string_type": N_("must be text"),
    "int_parsing": N_("not a whole number"),
    "int_type": N_("not a whole number"),
    "int_from_float": N_("not a whole number"),
    "float_parsing": N_("not a number"),
    "float_type": N_("not a number"),
    "decimal_parsing": N_("not a number"),
    "decimal_type": N_("not a number"),
    "decimal_max_places": N_("too many decimal places"),
    "date_parsing": N_("not a date (YYYY-MM-DD)"),
    "date_type": N_("not a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("not a date (YYYY-MM-DD)"),
    "datetime_parsing": N_("not a date and time"),
    "datetime_type": N_("not a date and time"),
    "datetime_from_date_parsing": N_("not a date and time"),
    "bool_parsing": N_("not yes or no"),
    "extra_forbidden": N_("not a known column"),
}
_CORE_MESSAGES = (
    N_("required"),
    N_("missing"),
    N_("not a number"),
    N_("unknown unit"),
    N_("outside scope"),
    N_("String should have at most %(n)s characters"),
    N_("String should have at least %(n)s characters"),
    N_("Input should be greater than or equal to %(n)s"),
    N_("Input should be greater than %(n)s"),
    N_("Input should be less than or equal to %(n)s"),
    N_("Input should be less than %(n)s"),
    N_("Input should be %(expected)s"),
)


def row_problems(
    details: Any, columns: dict[str, str] | None = None, messages: Messages | None = None
) -> list[dict[str, Any]]:
    """An import's refused rows for a page, in the user's language: ``[{"row": n, "problems":
    [(column, message)]}]`` (Markup), from ``{"row", "errors": [{"field", "message"}]}`` or
    ``{"row", "errors": {field: message}}`` details. ``columns`` maps a file column to its label
    (a msgid of the plugin's domain), shown with the column as code; ``messages`` translates the
    plugin's messages, then the core's and pydantic's are tried, else the message is shown."""
    core_messages = Messages(core, *_CORE_MESSAGES)
    domain = messages.domain if messages is not None else core
    out: list[dict[str, Any]] = []
    for detail in details or []:
        if not isinstance(detail, dict):
            out.append({"row": None, "problems": [(None, Markup.escape(str(detail)))]})
            continue
        errors = detail.get("errors")
        if errors is None:
            errors = [detail]
        elif isinstance(errors, dict):
            errors = [{"field": f, "message": m} for f, m in errors.items()]
        problems = []
        for err in errors:
            field = str(err.get("field") or "")
            problems.append(
                (_column(field, columns, domain), _message(err, messages, core_messages))
            )
        out.append({"row": detail.get("row"), "problems": problems})
    return out


def _column(field: str, columns: dict[str, str] | None, domain: Translations) -> Markup | None:
    if not field or field == "body":
        return None
    label = (columns or {}).get(field) or (columns or {}).get(field.split(".", 1)[0])
    if label is None:
        return Markup("<code>%s</code>") % field
    return Markup.escape(core.gettext("%(label)s (%(column)s)")) % {
        "label": domain.gettext(label),
        "column": Markup("<code>%s</code>") % field,
    }


def _message(err: dict[str, Any], messages: Messages | None, core_messages: Messages) -> Markup:
    text = str(err.get("message") or err.get("msg") or "")
    text = text.removeprefix("Value error, ")
    found = messages.translate(text) if messages is not None else None
    if found is not None:
        return found
    by_type = _PYDANTIC_TYPES.get(str(err.get("type") or ""))
    if by_type is not None:
        return Markup.escape(core.gettext(by_type))
    found = core_messages.translate(text)
    return found if found is not None else Markup.escape(text)
