/* Live unread counts for a signed-in user (ws/live/): the navbar's notification bell, its Messages badge and, where a page
 * shows a list of conversations (dashboard panel, /threads/), each row's badge and last message.
 */
(function () {
  "use strict";

  var badges = document.querySelectorAll("[data-unread-badge=messages]");
  var bells = document.querySelectorAll("[data-unread-badge=notifications]");
  var lists = document.querySelectorAll("[data-thread-list]");
  if (!badges.length && !bells.length && !lists.length) return;

  var attempts = 0;
  var heartbeat = null;

  function setBadge(total) {
    badges.forEach(function (badge) {
      badge.textContent = total;
      badge.classList.toggle("d-none", !total);
      var link = badge.closest("a");
      if (link) link.setAttribute("aria-label", "Messages" + (total ? ", " + total + " unread" : ""));
    });
  }

  function setBell(unread) {
    bells.forEach(function (badge) {
      badge.textContent = unread;
      badge.classList.toggle("d-none", !unread);
      var link = badge.closest("a");
      if (link) link.setAttribute("aria-label", "Notifications" + (unread ? ", " + unread + " unread" : ""));
    });
  }

  function updateRow(event) {
    lists.forEach(function (list) {
      var row = list.querySelector('[data-thread-row="' + event.thread + '"]');
      if (!row && event.last_message) {
        row = document.createElement("a");
        row.className = "list-group-item list-group-item-action";
        row.href = "/threads/" + event.thread + "/";
        row.setAttribute("data-thread-row", event.thread);
        var head = document.createElement("div");
        head.className = "d-flex justify-content-between gap-2";
        var title = document.createElement("span");
        title.className = "fw-semibold text-truncate";
        title.textContent = event.title || "Conversation";
        var count = document.createElement("span");
        count.className = "badge rounded-pill bg-danger align-self-start";
        count.setAttribute("data-thread-unread", "");
        head.append(title, count);
        var preview = document.createElement("div");
        preview.className = "small text-body-secondary text-truncate";
        preview.setAttribute("data-thread-preview", "");
        row.append(head, preview);
        var empty = list.querySelector("[data-thread-empty]");
        if (empty) empty.remove();
      }
      if (!row) return;
      var unread = row.querySelector("[data-thread-unread]");
      if (unread && typeof event.thread_unread === "number") {
        unread.textContent = event.thread_unread;
        unread.classList.toggle("d-none", !event.thread_unread);
      }
      if (event.last_message) {
        var previewNode = row.querySelector("[data-thread-preview]");
        if (previewNode) {
          previewNode.textContent = "";
          var who = document.createElement("strong");
          who.textContent = event.last_message.sender_name + ":";
          previewNode.append(who, " " + event.last_message.body);
        }
        list.prepend(row); // newest activity first
      }
    });
  }

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live/";
    var ws;
    try { ws = new WebSocket(url); } catch (err) { return retry(); }
    ws.onopen = function () {
      attempts = 0;
      heartbeat = setInterval(function () { ws.send(JSON.stringify({ type: "ping" })); }, 30000);
    };
    ws.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (err) { return; }
      if (data.type === "notifications" && typeof data.unread === "number") return setBell(data.unread);
      if (data.type !== "unread") return;
      if (typeof data.total === "number") setBadge(data.total);
      if (data.thread) updateRow(data);
    };
    ws.onclose = function () {
      clearInterval(heartbeat);
      retry();
    };
  }

  function retry() {
    var delay = Math.min(60000, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
    attempts += 1;
    setTimeout(connect, delay);
  }

  connect();
})();
