// Portal behaviour that needs no framework: live job progress on the jobs page.
(function () {
  "use strict";
  var table = document.getElementById("jobs-table");
  if (!table) { return; }
  function active() {
    return Array.prototype.slice.call(table.querySelectorAll("tr[data-job]")).filter(function (tr) {
      var s = tr.getAttribute("data-status");
      return s === "queued" || s === "running";
    });
  }
  function poll() {
    var rows = active();
    if (!rows.length) { return; }
    rows.forEach(function (tr) {
      fetch("/api/v1/jobs/" + tr.getAttribute("data-job"), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (job) {
          if (!job) { return; }
          if (job.status !== tr.getAttribute("data-status")) {
            // a new status: its translated badge from the page's template, and a link to
            // refresh the page for the result (no automatic reload while the user reads)
            tr.setAttribute("data-status", job.status);
            var badges = document.getElementById("job-badges");
            var badge = badges && badges.content.querySelector('[data-status="' + job.status + '"]');
            var cell = tr.querySelector("td.status");
            if (badge && cell) { cell.replaceChildren(badge.cloneNode(true)); }
            var result = tr.querySelector("td.po-job-result");
            var refresh = badges && badges.content.querySelector("[data-refresh]");
            if (result && refresh && (job.status === "succeeded" || job.status === "failed")) {
              var link = refresh.cloneNode(true);
              link.setAttribute("href", window.location.href);
              result.replaceChildren(link);
            }
          }
          var bar = tr.querySelector(".progress");
          var count = tr.querySelector(".count");
          if (bar && job.total) {
            bar.setAttribute("aria-valuenow", job.done);
            bar.firstElementChild.style.width = Math.floor(100 * job.done / job.total) + "%";
          }
          if (count && job.total) {
            count.textContent = job.done.toLocaleString() + "/" + job.total.toLocaleString();
          }
        });
    });
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 500);
})();
