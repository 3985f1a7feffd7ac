// The bell's unread count is refreshed after htmx swaps elsewhere on the page (a review
// decided, a comment added), at most once every 5 seconds: no polling, no storms.
(function () {
  "use strict";
  var last = 0;
  var pending = null;
  var MIN_GAP = 5000;
  function refresh() {
    pending = null;
    last = Date.now();
    document.body.dispatchEvent(new CustomEvent("notifications-changed", { bubbles: true }));
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    var bell = document.getElementById("notification-bell");
    if (!bell || bell.contains(event.target) || pending) return;
    var wait = Math.max(0, MIN_GAP - (Date.now() - last));
    pending = setTimeout(refresh, wait);
  });
})();
