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
            document.dispatchEvent(new CustomEvent("review-saved", { detail: event.data }));
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
// --- Toasts: messages in view, plain ones fade, actions stay --------------------------
(function () {
  "use strict";
  var FADE_MS = 10000;  // long enough to read a sentence twice
  var MAX_TOASTS = 4;

  function schedule(box) {
    if (box.dataset.scheduled || box.hasAttribute("data-action") || box.classList.contains("flash-error")) return;
    box.dataset.scheduled = "1";
    var tick = function () {
      // Never pull a message from under the pointer or the keyboard.
      if (box.matches(":hover") || box.contains(document.activeElement)) {
        window.setTimeout(tick, 2000);
      } else {
        box.remove();
      }
    };
    window.setTimeout(tick, FADE_MS);
  }

  function tidy() {
    var region = document.getElementById("flashes");
    if (!region) return;
    var boxes = region.querySelectorAll(":scope > .flash");
    for (var i = MAX_TOASTS; i < boxes.length; i++) {
      if (!boxes[i].contains(document.activeElement)) boxes[i].remove();
    }
    region.querySelectorAll(":scope > .flash").forEach(schedule);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tidy();
    var region = document.getElementById("flashes");
    if (region && window.MutationObserver) new MutationObserver(tidy).observe(region, { childList: true });
  });

  // After a delete, focus goes to the next row (or the previous, or the list's heading),
  // not to <body>: the keyboard stays where the user was working.
  // (The row and its form leave the document, so htmx's later events never reach it.)
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!elt || !elt.matches || !elt.matches("[data-delete-row]")) return;
    var row = event.detail.target;
    var rows = Array.prototype.slice.call(document.querySelectorAll("#entry-list .entry-row"));
    var at = rows.indexOf(row);
    var next = rows[at + 1] || rows[at - 1];
    var goal = next ? next.querySelector(".entry-title a") : document.getElementById("entries-heading");
    var tries = 0;
    var move = function () {
      if (document.contains(row) && tries++ < 50) { window.setTimeout(move, 20); return; }
      if (goal && document.contains(goal)) goal.focus();
    };
    window.setTimeout(move, 0);
  });
})();

// --- Nothing typed is lost: unsaved-changes guard, review autosave, Esc in inline edit --
(function () {
  "use strict";
  function region() { return document.getElementById("flashes") || document.body; }

  function isDirty(form) {
    for (var i = 0; i < form.elements.length; i++) {
      var f = form.elements[i];
      if (f.type === "hidden" || f.disabled) continue;
      if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) if (f.options[j].selected !== f.options[j].defaultSelected) return true;
      } else if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) return true;
      } else if ("defaultValue" in f && f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }
  function markClean(form) {
    for (var i = 0; i < form.elements.length; i++) {
      var f = form.elements[i];
      if (f.tagName === "TEXTAREA" || (f.tagName === "INPUT" && f.type !== "hidden")) f.defaultValue = f.value;
    }
  }
  function guarded(root) {
    var forms = [];
    if (root.matches && root.matches("form[data-guard], form.entry-edit")) forms.push(root);
    root.querySelectorAll && root.querySelectorAll("form[data-guard], form.entry-edit").forEach(function (f) { forms.push(f); });
    return forms.filter(function (f) { return !f.dataset.submitting && isDirty(f); });
  }
  function unsavedMessage() { return region().dataset.unsavedMessage || "You have unsaved changes. Leave anyway?"; }

  // Full navigations: the browser's own "Leave site?" question.
  window.addEventListener("beforeunload", function (event) {
    if (guarded(document).length) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("form")) event.target.dataset.submitting = "1";
  }, true);

  // htmx swaps: asking before one replaces a form with unsaved text (a filter change or
  // the pager replacing the list with an inline edit in it, the edit's own Cancel).
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt, target = event.detail.target;
    if (!target || !elt) return;
    var inside = elt.closest && elt.closest("form");
    var dirty = guarded(target).filter(function (form) {
      // A form's own submit saves the text, so it is not a loss.
      return !(inside === form && event.detail.verb !== "get");
    });
    if (!dirty.length) return;
    event.preventDefault();
    if (window.confirm(unsavedMessage())) event.detail.issueRequest(true);
  });

  // Esc cancels an inline edit (the guard above asks first if it has changes).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    var form = event.target.closest && event.target.closest("form.entry-edit");
    var cancel = form && form.querySelector("[data-cancel-edit]");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  });

  // Review drafts save themselves a moment after typing stops. The version travels with
  // each save, so a save from an outdated page is refused (409) and the text stays.
  var timers = new WeakMap();
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  async function autosave(form) {
    var status = document.querySelector(form.dataset.autosaveStatus);
    if (form.dataset.autosaveStopped || !isDirty(form)) return;
    if (form.dataset.saving) { form.dataset.again = "1"; return; }
    form.dataset.saving = "1";
    var textarea = form.querySelector("textarea[name=body]");
    var sent = textarea.value;
    var data = new FormData(form);
    data.set("action", "save");
    if (status) status.textContent = status.dataset.saving;
    try {
      var response = await fetch(form.dataset.autosaveUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": csrf() },
      });
      var answer = await response.json();
      if (!response.ok) {
        form.dataset.autosaveStopped = "1";  // stale or not editable: the author decides
        if (status) status.textContent = answer.message || "";
        return;
      }
      document.querySelectorAll(".review-version").forEach(function (input) { input.value = answer.version; });
      textarea.defaultValue = sent;
      if (status) status.textContent = textarea.value === sent ? answer.message : status.dataset.unsaved;
      var badge = document.querySelector("#review-status .badge");
      if (badge && answer.status) {
        badge.className = "badge status-" + answer.status;
        badge.textContent = answer.status_label;
      }
    } catch (error) {
      if (status) status.textContent = status.dataset.unsaved;
    } finally {
      delete form.dataset.saving;
      if (form.dataset.again) { delete form.dataset.again; autosave(form); }
    }
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (!form || !form.dataset.autosaveUrl) return;
    var status = document.querySelector(form.dataset.autosaveStatus);
    if (status && !form.dataset.autosaveStopped) status.textContent = status.dataset.unsaved;
    window.clearTimeout(timers.get(form));
    timers.set(form, window.setTimeout(function () { autosave(form); }, 1200));
  });
  // An AI draft saved on the server: the editor's text is the saved text now.
  document.addEventListener("review-saved", function (event) {
    var form = document.querySelector("form[data-autosave-url]");
    if (form) markClean(form);
    var badge = document.querySelector("#review-status .badge");
    if (badge && event.detail && event.detail.status) {
      badge.className = "badge status-" + event.detail.status;
      badge.textContent = event.detail.status_label;
    }
  });
})();

// --- The keyboard path: shortcuts, the account menu ------------------------------------
(function () {
  "use strict";
  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]");
  }
  function logUrl() {
    var dialog = document.getElementById("shortcuts");
    return dialog ? dialog.dataset.logUrl : "/log";
  }
  function focusField(id, hash) {
    var field = document.getElementById(id);
    if (field) {
      var more = field.closest("details");
      if (more) more.open = true;
      field.focus();
      field.scrollIntoView({ block: "center" });
    } else {
      window.location.href = logUrl() + hash;
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (window.location.hash === "#new-title" || window.location.hash === "#q") {
      var field = document.getElementById(window.location.hash.slice(1));
      if (field) field.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (event.key === "Escape") {
      var open = document.querySelector("details.dropdown[open]");
      if (open) {
        open.open = false;
        open.querySelector("summary").focus();
      }
      return;
    }
    if (typing(event.target) || document.querySelector("dialog[open]")) return;
    if (event.key === "n" || event.key === "c") {
      event.preventDefault();
      focusField("new-title", "#new-title");
    } else if (event.key === "/") {
      event.preventDefault();
      focusField("q", "#q");
    } else if (event.key === "?") {
      var dialog = document.getElementById("shortcuts");
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
    } else if (event.key === "z") {
      var undos = document.querySelectorAll("#flashes .flash-undo");
      if (undos.length) { event.preventDefault(); undos[0].click(); }
    }
  });
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-shortcuts-open]");
    var dialog = document.getElementById("shortcuts");
    if (opener && dialog) dialog.showModal();
    if (event.target.closest && event.target.closest("[data-shortcuts-close]") && dialog) dialog.close();
    // A click outside the account menu closes it.
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });
})();

// --- Filters that hold --------------------------------------------------------------------
(function () {
  "use strict";
  // Empty fields stay out of the URL: /log?q=x, never /log?q=x&from=&to=&category=.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    var params = event.detail.parameters;
    var names = [];
    if (params instanceof FormData || (params && typeof params.forEach === "function" && params.delete)) {
      params.forEach(function (value, name) { if (value === "") names.push(name); });
      names.forEach(function (name) { params.delete(name); });
    } else if (params) {
      Object.keys(params).forEach(function (name) { if (params[name] === "") delete params[name]; });
    }
  });
  // The one "clear" control: empty the form, then let it ask for the list again.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-clear-filters]");
    if (!link || !window.htmx) return;
    var form = document.querySelector(link.getAttribute("data-clear-filters"));
    if (!form) return;
    event.preventDefault();
    form.querySelectorAll("input:not([type=hidden]), select").forEach(function (field) {
      if (field.tagName === "SELECT") field.selectedIndex = 0; else field.value = "";
    });
    window.htmx.trigger(form, "submit");
    var search = form.querySelector("input[type=search]");
    if (search) search.focus();
  });
})();

