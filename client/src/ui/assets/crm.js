// The UI's own script: live updates (server-sent events make htmx refresh what is on screen)
// and dragging a card on the pipeline board (Pointer Events). Everything else is plain HTML forms and htmx.
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

  // Dragging a card on the pipeline board, with Pointer Events (mouse, pen and touch alike):
  // the card follows the pointer, the column under it lights up, and dropping it on another
  // column submits the card's own move form with that stage (the same POST as its Move
  // button). Lost asks for the reason first, in the #lost-reason dialog. A press that moves
  // less than a few pixels stays a click (the card's link and form keep working).
  var drag = null;
  function columnAt(x, y) {
    var under = document.elementFromPoint(x, y);
    return under && under.closest ? under.closest("section.column[data-stage]") : null;
  }
  function endDrag() {
    if (!drag) return;
    if (drag.ghost) drag.ghost.remove();
    if (drag.over) drag.over.classList.remove("drop-here");
    drag.card.classList.remove("dragged");
    drag = null;
  }
  function moveCard(id, stage) {
    var form = document.querySelector('article[data-case="' + id + '"] form.move');
    if (!form) return;
    form.elements.stage.value = stage;
    if (stage !== "lost") { form.requestSubmit(); return; }
    var dialog = document.getElementById("lost-reason");
    if (!dialog) return;
    dialog.dataset.case = id;
    dialog.dataset.stage = stage;
    dialog.querySelector("input[name=reason]").value = "";
    dialog.showModal();
  }
  document.addEventListener("pointerdown", function (e) {
    if (e.button !== 0 || !e.target.closest) return;
    var card = e.target.closest("article.card[data-case]");
    if (!card || e.target.closest("a, button, input, select, textarea, label")) return;
    drag = { card: card, id: card.dataset.case, x: e.clientX, y: e.clientY, ghost: null, over: null,
             from: card.closest("section.column[data-stage]") };
  });
  document.addEventListener("pointermove", function (e) {
    if (!drag) return;
    if (!drag.ghost) {
      if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) < 6) return;
      var box = drag.card.getBoundingClientRect();
      drag.dx = drag.x - box.left; drag.dy = drag.y - box.top;
      drag.ghost = drag.card.cloneNode(true);
      drag.ghost.removeAttribute("data-case");
      drag.ghost.classList.add("ghost");
      drag.ghost.style.width = box.width + "px";
      document.body.appendChild(drag.ghost);
      drag.card.classList.add("dragged");
    }
    e.preventDefault();
    drag.ghost.style.left = (e.clientX - drag.dx) + "px";
    drag.ghost.style.top = (e.clientY - drag.dy) + "px";
    var column = columnAt(e.clientX, e.clientY);
    if (column !== drag.over) {
      if (drag.over) drag.over.classList.remove("drop-here");
      if (column && column !== drag.from) column.classList.add("drop-here");
      drag.over = column;
    }
  });
  document.addEventListener("pointerup", function (e) {
    if (!drag) return;
    var dragged = drag.ghost !== null, id = drag.id, from = drag.from;
    endDrag();
    if (!dragged) return;
    var column = columnAt(e.clientX, e.clientY);
    if (column && column !== from) moveCard(id, column.dataset.stage);
  });
  document.addEventListener("pointercancel", endDrag);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") endDrag(); });
  // The lost dialog: its reason goes into the card's form, which then posts the move.
  document.addEventListener("submit", function (e) {
    var dialog = e.target.closest && e.target.closest("dialog#lost-reason");
    if (!dialog) return;
    e.preventDefault();
    var reason = dialog.querySelector("input[name=reason]").value;
    var form = document.querySelector('article[data-case="' + dialog.dataset.case + '"] form.move');
    dialog.close();
    if (!form || e.submitter && e.submitter.value === "cancel") return;
    form.elements.stage.value = dialog.dataset.stage;
    form.elements.reason.value = reason;
    form.requestSubmit();
  });
})();
