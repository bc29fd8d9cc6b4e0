"""Each plugin translates in its own domain (postalops.i18n), through HTTP: two plugins
translating the same msgid differently each show their own, a plugin cannot change a core
string, and ``postalops catalogs`` keeps the catalogues of any installed plugin, a third-party
one pip-installed outside this repo included."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from postalops.models import PluginEnablement
from postalops.tenancy import Scope

from tests.fixtures.translated_plugins import write_plugin
from tests.test_plugin_faults import client_for

ZZ = "cn.henan.zhengzhou"

ALPHA = {
    "Resolved": "已解除",
    "Created": "已创建",
    "Tickets": "工单",
    "ticket|Open": "待处理",
    "%(num)d ticket": "%(num)d 张工单",
    "ticket|%(num)d ticket": "%(num)d 张工单",
    "Log out": "ALPHA 改写",  # tries to change a core string
    "Cancel": "ALPHA 取消",
}
BETA = {
    "Resolved": "已解决",
    "Created": "已登记",
    "Tickets": "投诉工单",
    "ticket|Open": "未受理",
    "%(num)d ticket": "%(num)d 件投诉",
    "ticket|%(num)d ticket": "%(num)d 件投诉",
    "Log out": "BETA 改写",
}


def _text(html: str, id_: str) -> str:
    m = re.search(rf'<p id="{id_}">(.*?)</p>', html, re.S)
    assert m, html[:400]
    return m.group(1)


@pytest.fixture
def two_plugins(po_app, tenants, tmp_path, monkeypatch):
    from postalops.app import create_app
    from postalops.catalogs import Domain, compile_

    modules = []
    for key, zh in (("tr_alpha", ALPHA), ("tr_beta", BETA)):
        dist = write_plugin(tmp_path, key, zh)
        monkeypatch.syspath_prepend(str(dist))
        package = f"postalops_{key}"
        assert compile_(Domain(key, package, dist / package)) == []
        modules.append(importlib.import_module(f"{package}.plugin"))
    settings = po_app.extensions["postalops.settings"]
    app = create_app(settings, extra_plugins=tuple(modules), entry_points=False)
    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        for key in ("tr_alpha", "tr_beta"):
            s.add(PluginEnablement(unit_code="cn", plugin_key=key, enabled=True))
    yield app
    for key in ("tr_alpha", "tr_beta"):
        for name in [m for m in sys.modules if m.startswith(f"postalops_{key}")]:
            del sys.modules[name]


def test_two_plugins_translating_one_msgid_each_show_their_own(two_plugins):
    c = client_for(two_plugins, "tr_zz", ZZ, "ops")
    alpha = c.get("/p/tr_alpha/").get_data(as_text=True)
    beta = c.get("/p/tr_beta/").get_data(as_text=True)
    # templates, Python (gettext, lazy_gettext, pgettext, npgettext) and flask_babel's gettext
    assert _text(alpha, "own") == _text(alpha, "py") == "已解除"
    assert _text(beta, "own") == _text(beta, "py") == "已解决"
    assert _text(alpha, "status") == "已创建" and _text(beta, "status") == "已登记"
    assert _text(alpha, "ctx") == "待处理|待处理" and _text(beta, "ctx") == "未受理|未受理"
    assert _text(alpha, "plural") == "3 张工单|2 张工单"
    assert _text(beta, "plural") == "3 件投诉|2 件投诉"
    assert "<title>工单" in alpha and "<title>投诉工单" in beta
    assert c.get("/p/tr_alpha/plain").get_data(as_text=True) == "已解除"
    assert c.get("/p/tr_beta/plain").get_data(as_text=True) == "已解决"
    # the same page in English: the msgids
    c.post("/lang", data={"lang": "en", "csrf_token": c.csrf})
    en = c.get("/p/tr_alpha/").get_data(as_text=True)
    assert _text(en, "own") == "Resolved" and _text(en, "plural") == "3 tickets|2 tickets"


def test_a_plugin_cannot_change_a_core_string(two_plugins):
    c = client_for(two_plugins, "tr_zz2", ZZ, "ops")
    alpha = c.get("/p/tr_alpha/").get_data(as_text=True)
    # its own template may word "Log out" its way; the core's shell around it keeps the core's
    assert _text(alpha, "core") == "ALPHA 改写"
    assert "退出登录" in alpha.replace(_text(alpha, "core"), "")
    assert alpha.count("ALPHA 改写") == 1 and "ALPHA 取消" not in alpha and "取消" in alpha
    assert "BETA" not in alpha
    for page in ("/", "/jobs", "/no-such-page"):
        html = c.get(page).get_data(as_text=True)
        assert "退出登录" in html and "改写" not in html and "ALPHA" not in html, page


def test_catalogs_cli_keeps_a_third_party_plugins_catalogues(tmp_path):
    """pip-installed outside this repo, found through its entry point: extract, update (pgettext
    and npgettext with their context, missing Chinese listed) and compile."""
    dist = write_plugin(tmp_path / "src", "tr_gamma", {"Resolved": "已办结"})
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(dist)],
        check=True,
    )  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(target), POSTALOPS_INSTANCE_PATH=str(tmp_path / "i"))

    def catalogs(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "postalops.cli", "catalogs", *args],
            env=env,
            capture_output=True,
            text=True,
        )

    folder = target / "postalops_tr_gamma" / "translations"
    out = catalogs("extract", "--plugin", "tr_gamma")
    assert out.returncode == 0, out.stderr
    pot = read_po((folder / "messages.pot").open("rb"))
    assert pot.get("Open", "ticket") is not None
    assert pot.get(("%(num)d ticket", "%(num)d tickets"), "ticket") is not None

    out = catalogs("update", "--plugin", "tr_gamma")
    assert out.returncode == 1  # Chinese missing, listed by msgid
    assert "tr_gamma: 5 string(s) lack a Chinese translation" in out.stdout, out.stdout
    assert "  Tickets" in out.stdout and "  Resolved" not in out.stdout
    zh_po = folder / "zh_CN" / "LC_MESSAGES" / "messages.po"
    zh = read_po(zh_po.open("rb"))
    assert zh.get("Resolved").string == "已办结"  # kept
    assert zh.get("Log out").string == "退出登录"  # a string the core translates starts from it
    assert zh.get("Open", "ticket") is not None and zh.get("Open") is None
    en = read_po((folder / "en" / "LC_MESSAGES" / "messages.po").open("rb"))
    assert en.get("Open", "ticket").string == "Open"

    # another plugin's wording is only offered: fuzzy, so not compiled, and listed as lacking
    created = zh.get("Created")
    assert created.fuzzy and created.string == "新建" and "payroll" in created.user_comments[0]
    assert "  Created (fuzzy)" in out.stdout
    # a translation written before its code is kept (obsolete) and comes back with the code
    zh.add("Escalated", "已升级")
    # translate the rest, then compile
    for msg in zh:
        if msg.id and isinstance(msg.id, tuple):
            msg.string = ("%(num)d 张",)
        elif msg.id and not msg.string:
            msg.string = f"[{msg.id}]"
        msg.flags.discard("fuzzy")
    from babel.messages.pofile import write_po

    with zh_po.open("wb") as f:
        write_po(f, zh)
    out = catalogs("compile", "--plugin", "tr_gamma")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (folder / "zh_CN" / "LC_MESSAGES" / "messages.mo").stat().st_size > 0

    out = catalogs("update", "--plugin", "tr_gamma")
    assert out.returncode == 0 and "1 string(s) no longer in the code kept" in out.stdout
    assert "Escalated" in zh_po.read_text(encoding="utf-8")  # as #~ obsolete
    plugin_py = target / "postalops_tr_gamma" / "plugin.py"
    plugin_py.write_text(plugin_py.read_text() + '\nLATER = t.lazy_gettext("Escalated")\n')
    out = catalogs("update", "--plugin", "tr_gamma")
    assert out.returncode == 0, out.stdout
    assert read_po(zh_po.open("rb")).get("Escalated").string == "已升级"

    out = catalogs("update", "--plugin", "no_such_plugin")
    assert out.returncode == 2 and "unknown plugin no_such_plugin" in out.stderr


def test_catalogs_cli_defaults_to_the_core_and_every_installed_plugin():
    from click.testing import CliRunner
    from postalops.catalogs import installed_domains
    from postalops.cli import main

    keys = [d.key for d in installed_domains()]
    assert keys[0] == "core" and {"payroll", "sorter"} <= set(keys)
    result = CliRunner().invoke(main, ["catalogs", "--help"])
    assert result.exit_code == 0 and "extract" in result.output and "compile" in result.output


def test_every_domain_is_a_folder_of_its_own_package():
    from postalops.catalogs import installed_domains

    for d in installed_domains():
        assert d.root == Path(importlib.import_module(d.package).__file__).parent
