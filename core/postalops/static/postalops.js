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
          tr.setAttribute("data-status", job.status);
          tr.querySelector(".status").textContent = job.status;
          var bar = tr.querySelector("progress");
          bar.max = job.total || 1; bar.value = job.done;
          tr.querySelector(".count").textContent = job.done + "/" + job.total;
          tr.querySelector(".message").textContent = job.error || job.message || "";
        });
    });
    window.setTimeout(poll, 700);
  }
  window.setTimeout(poll, 300);
})();
