// The UI kit's behaviour (docs/ui.md): confirmation of destructive actions.
// A form with data-confirm="what will happen" asks in the shell's Bootstrap modal before it is
// submitted; data-confirm-label names the button ("停用插件"). Without Bootstrap's script the
// browser's own confirm() asks; without JavaScript the server-side confirm page does
// (ui.confirm_form renders a hidden "confirmed" field only this script sets).
(function () {
  "use strict";
  var modalEl = document.getElementById("po-confirm");

  function ask(form, submitter) {
    var text = form.getAttribute("data-confirm");
    var go = function () {
      var flag = form.querySelector("input[name=confirmed]");
      if (flag) { flag.value = "1"; }
      form.dataset.confirmed = "1";
      if (submitter && submitter.name) {  // keep the clicked button's name=value
        var h = document.createElement("input");
        h.type = "hidden"; h.name = submitter.name; h.value = submitter.value;
        form.appendChild(h);
      }
      form.submit();
    };
    if (!modalEl || !window.bootstrap) {
      if (window.confirm(text)) { go(); }
      return;
    }
    document.getElementById("po-confirm-text").textContent = text;
    var ok = document.getElementById("po-confirm-ok");
    ok.textContent = form.getAttribute("data-confirm-label") || ok.getAttribute("data-default") || ok.textContent;
    var modal = window.bootstrap.Modal.getOrCreateInstance(modalEl);
    ok.onclick = function () { ok.onclick = null; modal.hide(); go(); };
    modal.show();
  }

  var okBtn = document.getElementById("po-confirm-ok");
  if (okBtn) { okBtn.setAttribute("data-default", okBtn.textContent); }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) { return; }
    if (form.dataset.confirmed === "1") { return; }
    ev.preventDefault();
    ask(form, ev.submitter);
  }, true);
})();

// A table that scrolls inside its own box (phones, long lists) can be reached and scrolled with
// the keyboard: the box becomes a tab stop while it scrolls (WCAG 2.1.1, axe
// scrollable-region-focusable).
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll(".po-table-box, table.grid").forEach(function (el) {
      var scrolls = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.setAttribute("data-po-scroll", "1");
      } else if (!scrolls && el.getAttribute("data-po-scroll") === "1") {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-po-scroll");
      }
    });
  }
  mark();
  window.addEventListener("resize", mark);
  // the layout settles after the first paint (web fonts, charts, late content): look again then
  window.addEventListener("load", mark);
  if (window.ResizeObserver) {
    var watcher = new ResizeObserver(mark);
    document.querySelectorAll(".po-table-box, table.grid").forEach(function (el) {
      watcher.observe(el);
      if (el.firstElementChild) { watcher.observe(el.firstElementChild); }
    });
  }
})();
