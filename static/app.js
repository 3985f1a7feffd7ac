// Worklog's only script: htmx wiring that the CSP forbids doing inline.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Every htmx request carries the CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  function showMessage(text) {
    var region = document.getElementById("flashes");
    if (!region) return;
    var box = document.createElement("div");
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    var span = document.createElement("span");
    span.className = "flash-text";
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "flash-close";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", region.dataset.dismissLabel || "Dismiss");
    close.textContent = "×";
    box.appendChild(span);
    box.appendChild(close);
    region.prepend(box);
  }

  // The server could not be reached at all: say so instead of doing nothing.
  document.addEventListener("htmx:sendError", function () {
    var region = document.getElementById("flashes");
    showMessage((region && region.dataset.offlineMessage) ||
      "Could not reach Worklog. Check your connection and try again.");
  });

  // A message's own action (e.g. Undo) closes the message once it has worked.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!event.detail.successful || !elt || !elt.querySelector) return;
    if (elt.querySelector("[data-dismiss-after]")) {
      var box = elt.closest(".flash");
      if (box) box.remove();
    }
  });

  // Dismiss buttons on messages (event delegation, so swapped-in messages work too).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var box = button.closest(".flash");
      if (box) box.remove();
    }
  });
})();
