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

  // --- AI drafts, streamed into the editor as they are written ---------------------
  // The form posts normally without JavaScript; with it, the server's event stream is read
  // chunk by chunk. On failure the editor gets back exactly what it held before.
  function parseEvent(raw) {
    var name = "message", data = "";
    raw.split("\n").forEach(function (line) {
      if (line.indexOf("event: ") === 0) name = line.slice(7);
      else if (line.indexOf("data: ") === 0) data += line.slice(6);
    });
    return { name: name, data: data ? JSON.parse(data) : null };
  }

  async function streamDraft(form) {
    var editor = document.querySelector(form.dataset.target);
    var status = document.querySelector(form.dataset.status);
    var versions = document.querySelectorAll(form.dataset.version);
    var button = form.querySelector("button[type=submit]");
    if (editor.value.trim() && !window.confirm(form.dataset.confirm)) return;
    var previous = editor.value;
    var finished = false;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    editor.setAttribute("aria-busy", "true");
    status.textContent = status.dataset.writing;
    editor.value = "";
    try {
      var response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "Accept": "text/event-stream, application/json", "X-CSRFToken": csrfToken() },
      });
      if (!response.ok) {
        var problem = null;
        try { problem = (await response.json()).message; } catch (ignored) { /* not JSON */ }
        throw new Error(problem || form.dataset.failed);
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      for (;;) {
        var part = await reader.read();
        if (part.done) break;
        buffer += decoder.decode(part.value, { stream: true });
        var events = buffer.split("\n\n");
        buffer = events.pop();
        for (var i = 0; i < events.length; i++) {
          var event = parseEvent(events[i]);
          if (event.name === "chunk") {
            editor.value += event.data;
            editor.scrollTop = editor.scrollHeight;
          } else if (event.name === "done") {
            finished = true;
            versions.forEach(function (input) { input.value = event.data.version; });
            status.textContent = event.data.message || status.dataset.done;
            if (window.htmx) window.htmx.trigger(document.body, "review-changed");
          } else if (event.name === "failed") {
            var failure = new Error(event.data.message);
            failure.partial = event.data.partial || "";
            throw failure;
          }
        }
      }
      if (!finished) throw new Error(form.dataset.failed);
    } catch (error) {
      // What the AI wrote before it was stopped stays for the author to use (it is not saved).
      editor.value = error.partial ? error.partial : previous;
      status.textContent = "";
      showMessage(error.message || form.dataset.failed);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      editor.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-stream-draft]")) return;
    if (!window.fetch || !window.ReadableStream || !window.TextDecoder) return;
    event.preventDefault();
    streamDraft(form);
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

// --- API tokens: copy the token shown once (/account/tokens) -------------------------
(function () {
  "use strict";
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-from]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy-from"));
    if (!input) return;
    input.select();
    var done = function () { button.textContent = button.getAttribute("data-copied-label") || "Copied"; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  });
})();

// --- Ask your log: a live character counter (characters, so Korean counts right) ------
(function () {
  "use strict";
  function update(field) {
    var out = document.querySelector(field.dataset.charCounter);
    if (!out) return;
    var max = parseInt(out.dataset.max, 10);
    var n = Array.from(field.value.replace(/\r\n/g, "\n")).length;
    out.textContent = out.dataset.template.replace("{n}", n).replace("{max}", max);
    out.classList.toggle("over", n > max);
  }
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-char-counter]")) update(field);
  });
  // After an answer arrives, move focus to it so keyboard and screen-reader users find it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "answer" && target.firstElementChild) target.focus();
  });
})();

// --- The year heatmap: an ARIA grid with one tab stop -------------------------------------
// Arrow keys move a day (up/down) or a week (left/right), Home/End to the row's ends; Enter,
// Space or a click fills the filter form's From/To with that day and submits the form, so the
// other filters stay. The day the list is filtered to is marked here, from the URL, so the
// server can cache one copy of the heatmap for every filter.
(function () {
  "use strict";
  var DAY = 86400000;

  function grid() { return document.querySelector("[data-heatmap]"); }
  function cellFor(day) { return document.getElementById("hm-" + day); }
  function dayOf(cell) { return cell.id.slice(3); }
  function shift(day, days) {
    var t = Date.parse(day + "T00:00:00Z") + days * DAY;
    return new Date(t).toISOString().slice(0, 10);
  }

  function focusCell(cell) {
    var g = grid();
    if (!g || !cell) return;
    g.querySelectorAll('[role="gridcell"][tabindex="0"]').forEach(function (c) {
      if (c !== cell) c.setAttribute("tabindex", "-1");
    });
    cell.setAttribute("tabindex", "0");
    cell.focus();
  }

  function mark(day) {
    var g = grid();
    if (!g) return;
    g.querySelectorAll('[aria-selected="true"]').forEach(function (c) {
      c.removeAttribute("aria-selected");
      c.classList.remove("is-active");
    });
    var cell = day && cellFor(day);
    if (!cell) return;
    cell.setAttribute("aria-selected", "true");
    cell.classList.add("is-active");
    // The marked day is where Tab lands in the grid.
    g.querySelectorAll('[role="gridcell"][tabindex="0"]').forEach(function (c) {
      if (c !== cell) c.setAttribute("tabindex", "-1");
    });
    cell.setAttribute("tabindex", "0");
  }

  function markFromUrl() {
    var params = new URLSearchParams(window.location.search);
    var from = params.get("from"), to = params.get("to");
    mark(from && from === to ? from : null);
  }

  function activate(cell) {
    var day = dayOf(cell);
    var from = document.getElementById("f-from"), to = document.getElementById("f-to");
    var form = from && from.form;
    mark(day);
    if (!form || !to) {
      window.location.href = "/log?from=" + day + "&to=" + day;
      return;
    }
    from.value = day;
    to.value = day;
    var more = form.querySelector("details.filters-more");
    if (more) more.open = true;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  document.addEventListener("click", function (event) {
    var cell = event.target.closest && event.target.closest('[data-heatmap] [role="gridcell"]');
    if (!cell) return;
    focusCell(cell);
    activate(cell);
  });

  document.addEventListener("keydown", function (event) {
    var cell = event.target.closest && event.target.closest('[data-heatmap] [role="gridcell"]');
    if (!cell) return;
    var day = dayOf(cell), next = null;
    switch (event.key) {
      case "ArrowUp": next = cellFor(shift(day, -1)); break;
      case "ArrowDown": next = cellFor(shift(day, 1)); break;
      case "ArrowLeft": next = cellFor(shift(day, -7)); break;
      case "ArrowRight": next = cellFor(shift(day, 7)); break;
      case "Home": next = cell.parentNode.querySelector('[role="gridcell"]'); break;
      case "End": next = cell.parentNode.querySelector('[role="gridcell"]:last-of-type'); break;
      case "Enter": case " ": event.preventDefault(); activate(cell); return;
      default: return;
    }
    event.preventDefault();
    if (next) focusCell(next);
  });

  document.addEventListener("DOMContentLoaded", markFromUrl);
  document.addEventListener("htmx:pushedIntoHistory", markFromUrl);
  document.addEventListener("htmx:historyRestore", markFromUrl);
  window.addEventListener("popstate", markFromUrl);
})();
