// finroute console: the one script. It only keeps the SLA clocks of the
// queue ticking; every page works without it.
(function () {
  "use strict";
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + (m < 10 ? "0" : "") + m + "m";
    if (m > 0) return m + "m";
    return s + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var due = Number(el.getAttribute("data-due"));
      if (!isFinite(due) || due > 8.64e15) return;
      if (now >= due) {
        el.textContent = el.getAttribute("data-over") + " " + span(now - due);
        el.classList.add("over");
      } else {
        el.textContent = span(due - now) + " " + el.getAttribute("data-left");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
