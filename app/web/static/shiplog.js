/* shiplog web timeline: local times, copy buttons and live updates. Pages work without it. Licence: LICENSE.txt. */
(function () {
  "use strict";
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.textContent = d.toLocaleString(undefined, {year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"});
      el.dataset.local = "1";
    });
  }
  // Copy buttons (templates/_ident.html) stay hidden until this script can make them work.
  function copyButtons(root) {
    root.querySelectorAll("button.copy[hidden]").forEach(function (b) { b.hidden = false; });
  }
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {  // plain http on another host: the old way
      var area = document.createElement("textarea");
      area.value = text; area.setAttribute("readonly", ""); area.className = "ident-cut";
      document.body.appendChild(area); area.select();
      var done = document.execCommand("copy");
      area.remove();
      if (done) resolve(); else reject(new Error("copy refused"));
    });
  }
  function announce(words) {
    var status = document.getElementById("copy-status");
    if (!status) {
      status = document.createElement("p");
      status.id = "copy-status"; status.className = "visually-hidden";
      status.setAttribute("role", "status");
      document.body.appendChild(status);
    }
    status.textContent = words;
  }
  function onCopy(event) {
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    if (!button) return;
    copyText(button.dataset.copy).then(function () {
      button.classList.add("copied");
      announce("Copied " + button.dataset.copy);
      setTimeout(function () { button.classList.remove("copied"); }, 1500);
    }, function () { announce("Could not copy; select the text instead"); });
  }
  // A table wider than the screen scrolls inside its box: let the keyboard reach and scroll it.
  function scrollableTables(root) {
    root.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth <= wrap.clientWidth || wrap.hasAttribute("tabindex")) return;
      var caption = wrap.querySelector("caption");
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", (caption ? caption.textContent : "Table") + " (scrolls sideways)");
    });
  }
  function liveTimeline() {
    var body = document.querySelector("tbody[data-live]");
    if (!body || !window.EventSource) return;
    var source = new EventSource(body.dataset.live);
    var status = document.querySelector("[data-live-status]");
    source.addEventListener("open", function () { if (status) status.dataset.state = "open"; });
    source.addEventListener("row", function (e) {
      var tpl = document.createElement("template");
      tpl.innerHTML = e.data.trim();
      var row = tpl.content.firstElementChild;
      if (!row || document.getElementById(row.id)) return;
      localTimes(row);
      copyButtons(row);
      body.insertBefore(row, body.firstChild);
      var empty = document.getElementById("timeline-empty");
      if (empty) empty.remove();
    });
  }
  function liveLogs() {
    document.querySelectorAll("pre[data-live-log]").forEach(function (pre) {
      var source = new EventSource(pre.dataset.liveLog);
      source.addEventListener("line", function (e) {
        pre.appendChild(document.createTextNode(e.data + "\n"));
        pre.scrollTop = pre.scrollHeight;
      });
      pre.liveSource = source;
    });
  }
  function liveRun() {
    var summary = document.querySelector("[data-live-summary]");
    if (!summary || !window.EventSource) return;
    var run = summary.dataset.liveSummary.split("/")[2];
    var source = new EventSource("/live/timeline?stream=run-" + encodeURIComponent(run) + "&after=" + (summary.dataset.after || "0:0"));
    var pending = null;
    source.addEventListener("row", function () {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        fetch(summary.dataset.liveSummary).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
          if (!html) return;
          var tpl = document.createElement("template");
          tpl.innerHTML = html.trim();
          var fresh = tpl.content.firstElementChild;
          localTimes(fresh);
          copyButtons(fresh);
          summary.replaceWith(fresh);
          var url = fresh.dataset.liveSummary;
          summary = fresh;
          if (!url) { source.close(); document.querySelectorAll("pre[data-live-log]").forEach(function (p) { setTimeout(function () { if (p.liveSource) p.liveSource.close(); }, 3000); }); }
          else { summary.dataset.liveSummary = url; }
        });
      }, 300);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    copyButtons(document);
    scrollableTables(document);
    document.addEventListener("click", onCopy);
    liveTimeline();
    liveLogs();
    liveRun();
  });
})();
