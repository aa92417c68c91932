// The UI's own script: live updates (server-sent events make htmx refresh what is on screen)
// and dragging a card on the pipeline board. Everything else is plain HTML forms and htmx.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var live = document.getElementById("live");
  var source = new EventSource("/events");
  // Each event carries the store's change order; `main` carries the one it was drawn at. Only
  // a later change redraws it (a page drawn after a commit keeps its "Saved." banner). The
  // last order heard and the number of redraws asked for are kept on #live for tests to see.
  var redraws = 0;
  source.addEventListener("change", function (e) {
    var seq = Number(e.data);
    var main = document.getElementById("main");
    live.dataset.heard = String(seq);
    if (main && seq > Number(main.dataset.seq || 0)) {
      main.dataset.seq = String(seq);
      redraws += 1;
      live.dataset.redraws = String(redraws);
      htmx.trigger(document.body, "crm-change");
    }
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
