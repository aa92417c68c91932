// The UI's own script: live updates (server-sent events make htmx refresh what is on screen)
// and dragging a card on the pipeline board. Everything else is plain HTML forms and htmx.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var live = document.getElementById("live");
  var source = new EventSource("/events");
  source.addEventListener("change", function () {
    htmx.trigger(document.body, "crm-change");
  });
  source.onopen = function () { live.textContent = "live"; live.className = "live on"; };
  source.onerror = function () { live.textContent = "reconnecting"; live.className = "live"; };

  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest("[data-case]");
    if (card) e.dataTransfer.setData("text/plain", card.dataset.case);
  });
  document.addEventListener("dragover", function (e) {
    if (e.target.closest && e.target.closest("[data-stage]")) e.preventDefault();
  });
  document.addEventListener("drop", function (e) {
    var column = e.target.closest && e.target.closest("[data-stage]");
    if (!column) return;
    e.preventDefault();
    var id = e.dataTransfer.getData("text/plain");
    var stage = column.dataset.stage;
    var reason = "";
    if (stage === "lost") {
      reason = window.prompt("Why was this case lost?") || "";
      if (!reason.trim()) return;
    }
    htmx.ajax("POST", "/cases/" + encodeURIComponent(id) + "/move", {
      values: { stage: stage, reason: reason, back: "/cases", _csrf: csrf },
      headers: { "X-CSRF-Token": csrf },
      target: "#main", select: "#main", swap: "outerHTML"
    });
  });
})();
