// The bell's unread count is fetched again after a change made through htmx elsewhere on the
// page (a review decided, a comment added: any non-GET request), at most once every 5 seconds.
// Page loads and GET fragments do not refetch it: no polling, no loops.
(function () {
  "use strict";
  var MIN_GAP = 5000;
  var last = 0;
  var pending = null;
  function refresh() {
    pending = null;
    last = Date.now();
    document.body.dispatchEvent(new CustomEvent("notifications-changed", { bubbles: true }));
  }
  document.addEventListener("htmx:afterRequest", function (event) {
    var config = event.detail && event.detail.requestConfig;
    if (!config || String(config.verb).toLowerCase() === "get" || pending) return;
    pending = setTimeout(refresh, Math.max(0, MIN_GAP - (Date.now() - last)));
  });
})();
