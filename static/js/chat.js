/* Conversation page: live messages over ws/threads/<id>/, with the plain form as the fallback.
 *
 * A message shows "Sending…" until the server confirms it (message:ack or message:new with the
 * same client_token). Unconfirmed messages are resent after a reconnect (the server saves a
 * client_token once), and every reconnect first fetches what was missed (?after=<last id>).
 */
(function () {
  "use strict";

  var log = document.getElementById("chat-log");
  if (!log || log.dataset.viewingOlder === "1") return; // an older page is plain history

  var me = Number(log.dataset.userId);
  var participants = log.dataset.participants.split(",").map(Number);
  var isParticipant = log.dataset.isParticipant === "1";
  var messagesUrl = log.dataset.messagesUrl;
  var latestId = Number(log.dataset.latestId) || 0;
  var otherRead = Number(log.dataset.otherRead) || 0;
  var form = document.getElementById("chat-form");
  var textarea = form ? form.querySelector("textarea[name=body]") : null;
  var errorBox = document.getElementById("chat-error");
  var typingBox = document.getElementById("chat-typing");
  var connBadge = document.getElementById("chat-connection");
  var pendingTemplate = document.getElementById("chat-pending-template");
  var statusTemplates = {
    sent: document.getElementById("chat-status-sent"), read: document.getElementById("chat-status-read"),
  };
  var TYPING_SEND_EVERY = 3000;
  var TYPING_SHOW_FOR = 5000;

  var pending = new Map(); // client_token -> {body, attachment_ids}
  var typingTimers = new Map();
  var ws = null;
  var attempts = 0;
  var reconnectTimer = null;
  var heartbeat = null;
  var pongDeadline = null;
  var lastTypingSent = 0;
  var lastReadSent = 0;

  // --- helpers ------------------------------------------------------------------------

  var el = window.EliteDom.el;
  var fragment = window.EliteDom.fragment;

  function newToken() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, pad16).join("");
  }
  function pad16(b) { return (b < 16 ? "0" : "") + b.toString(16); }

  function csrfToken() { return window.EliteDom.csrfToken(form); }

  function showError(text) {
    if (!errorBox) return;
    errorBox.textContent = text;
    errorBox.classList.toggle("d-none", !text);
  }

  function setConnection(state) {
    if (!connBadge) return;
    var labels = { live: "Live", connecting: "Connecting…", offline: "Reconnecting…" };
    connBadge.textContent = labels[state];
    connBadge.className = "badge " + (state === "live" ? "text-bg-success" : "text-bg-secondary");
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToBottom() { log.scrollTop = log.scrollHeight; }

  // --- rendering: every node comes from the server's messaging/partials templates ---------

  function renderMessage(m) { return fragment(m.html); }

  function renderPending(token, body) {
    var node = fragment(pendingTemplate);
    node.dataset.clientToken = token;
    node.querySelector(".chat-text").textContent = body;
    return node;
  }

  function statusNode(id) { return fragment(statusTemplates[id <= otherRead ? "read" : "sent"]); }

  function pendingNode(token) {
    var nodes = log.querySelectorAll(".chat-pending");
    for (var i = 0; i < nodes.length; i++) if (nodes[i].dataset.clientToken === token) return nodes[i];
    return null;
  }

  function addMessage(m) {
    if (document.getElementById("m" + m.id)) return;
    var stick = nearBottom() || m.sender_id === me;
    var empty = log.querySelector("[data-empty]");
    if (empty) empty.remove();
    var node = renderMessage(m);
    var placeholder = m.client_token && m.sender_id === me ? pendingNode(m.client_token) : null;
    if (placeholder) {
      placeholder.replaceWith(node);
      pending.delete(m.client_token);
    } else {
      var after = null;
      var rows = log.querySelectorAll("[data-message-id]");
      for (var i = 0; i < rows.length; i++) {
        if (Number(rows[i].dataset.messageId) > m.id) { after = rows[i]; break; }
      }
      if (after) log.insertBefore(node, after);
      else {
        var firstPending = log.querySelector(".chat-pending");
        if (firstPending) log.insertBefore(node, firstPending); else log.append(node);
      }
    }
    if (m.id > latestId) latestId = m.id;
    if (m.sender_id !== me) {
      clearTyping(m.sender_id);
      markReadSoon();
    }
    if (stick) scrollToBottom();
  }

  function refreshReadMarks() {
    log.querySelectorAll(".chat-mine[data-message-id]").forEach(function (node) {
      var status = node.querySelector("[data-status]");
      if (status) status.replaceWith(statusNode(Number(node.dataset.messageId)));
    });
  }

  // --- typing ------------------------------------------------------------------------------

  function showTyping(userId, name) {
    clearTimeout(typingTimers.get(userId));
    typingTimers.set(userId, setTimeout(function () { clearTyping(userId); }, TYPING_SHOW_FOR));
    typingBox.dataset["user" + userId] = name;
    renderTyping();
  }

  function clearTyping(userId) {
    clearTimeout(typingTimers.get(userId));
    typingTimers.delete(userId);
    delete typingBox.dataset["user" + userId];
    renderTyping();
  }

  function renderTyping() {
    var names = Object.keys(typingBox.dataset).filter(function (k) { return k.indexOf("user") === 0; })
      .map(function (k) { return typingBox.dataset[k]; });
    typingBox.textContent = names.length ? names.join(", ") + (names.length > 1 ? " are" : " is") + " typing…" : "";
  }

  // --- read receipts -------------------------------------------------------------------------

  function markReadSoon() {
    if (!isParticipant || document.visibilityState !== "visible") return;
    if (latestId <= lastReadSent) return;
    if (ws && ws.readyState === WebSocket.OPEN) {
      lastReadSent = latestId;
      ws.send(JSON.stringify({ type: "message:read", message_id: latestId }));
    }
  }

  document.addEventListener("visibilitychange", markReadSoon);

  // --- the socket ------------------------------------------------------------------------------

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + log.dataset.wsPath;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    setConnection(attempts ? "offline" : "connecting");
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    ws.onopen = function () {
      attempts = 0;
      setConnection("live");
      startHeartbeat();
      catchUp().then(function () {
        pending.forEach(function (item, token) { sendFrame(token, item); });
        markReadSoon();
      });
    };
    ws.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (err) { return; }
      handle(data);
    };
    ws.onclose = function () {
      stopHeartbeat();
      setConnection("offline");
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
    attempts += 1;
    reconnectTimer = setTimeout(connect, delay);
  }

  function startHeartbeat() {
    stopHeartbeat();
    heartbeat = setInterval(function () {
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ type: "ping" }));
      clearTimeout(pongDeadline);
      pongDeadline = setTimeout(function () { ws.close(); }, 10000);
    }, 25000);
  }

  function stopHeartbeat() {
    clearInterval(heartbeat);
    clearTimeout(pongDeadline);
  }

  function catchUp() {
    var url = messagesUrl + "?after=" + latestId;
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return null;
        data.messages.forEach(addMessage);
        if (data.other_read_up_to > otherRead) { otherRead = data.other_read_up_to; refreshReadMarks(); }
        return data.has_more ? catchUp() : null;
      })
      .catch(function () { return null; });
  }

  function handle(data) {
    switch (data.type) {
      case "message:new":
        addMessage(data.message);
        break;
      case "message:ack":
        addMessage(data.message);
        break;
      case "message:read":
        if (data.user_id !== me && participants.indexOf(data.user_id) !== -1 && data.message_id > otherRead) {
          otherRead = data.message_id;
          refreshReadMarks();
        }
        break;
      case "thread:typing":
        showTyping(data.user_id, data.name);
        break;
      case "pong":
        clearTimeout(pongDeadline);
        break;
      case "error":
        failPending(data.client_token, data.message);
        break;
    }
  }

  function failPending(token, message) {
    showError(message);
    if (!token) return;
    var item = pending.get(token);
    pending.delete(token);
    var node = pendingNode(token);
    if (node) node.remove();
    if (item && textarea && !textarea.value) textarea.value = item.body;
  }

  // --- sending ---------------------------------------------------------------------------

  function sendFrame(token, item) {
    ws.send(JSON.stringify({
      type: "message:send", client_token: token, body: item.body, attachment_ids: item.attachment_ids,
    }));
  }

  function postOverHttp(formData) {
    formData.set("csrfmiddlewaretoken", csrfToken());
    return fetch(form.action, {
      method: "POST", body: formData, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var refused = new Error(data.error || "The message could not be sent.");
          refused.refused = true; // the server answered no: sending it again would not help
          throw refused;
        }
        return data.message;
      });
    });
  }

  function clearAttachments() {
    form.querySelectorAll("input[name=attachment_ids]").forEach(function (input) {
      var row = input.closest("[data-file-id]");
      (row || input).remove();
    });
    // The upload widget's last progress belongs to the message just sent.
    form.querySelectorAll("[data-progress]").forEach(function (bar) { bar.classList.add("d-none"); });
    form.querySelectorAll("[data-progress-label]").forEach(function (label) { label.textContent = ""; });
  }

  if (form && textarea) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      showError("");
      var body = textarea.value.trim();
      var fileInput = form.querySelector("input[type=file][name=files]");
      var ids = Array.prototype.map.call(form.querySelectorAll("input[name=attachment_ids]"), function (input) {
        return Number(input.value);
      }).filter(function (n) { return n > 0; });
      var hasFiles = fileInput && fileInput.files.length > 0;
      if (!body && !ids.length && !hasFiles) {
        showError("Write a message or attach a file before sending.");
        textarea.focus();
        return;
      }
      var token = newToken();
      var button = form.querySelector("button[type=submit]");
      if (hasFiles) {
        // Files travel over HTTP (idempotent by token); the form keeps them if that fails.
        var data = new FormData(form);
        data.set("client_token", token);
        button.disabled = true;
        postOverHttp(data).then(function (message) {
          addMessage(message);
          form.reset();
          clearAttachments();
        }).catch(function (err) {
          showError(err.refused ? err.message : "Could not reach the server. Check your connection and send again.");
        }).finally(function () { button.disabled = false; });
        return;
      }
      pending.set(token, { body: body, attachment_ids: ids });
      var empty = log.querySelector("[data-empty]");
      if (empty) empty.remove();
      log.append(renderPending(token, body));
      scrollToBottom();
      var formData = new FormData(form);
      formData.set("client_token", token);
      textarea.value = "";
      clearAttachments();
      lastTypingSent = 0;
      if (ws && ws.readyState === WebSocket.OPEN) {
        sendFrame(token, pending.get(token));
        return;
      }
      // The socket is down: try plain HTTP (the page server may still be up). If that cannot reach
      // the server either, the message stays pending and is sent again once the socket is back.
      postOverHttp(formData).then(addMessage).catch(function (err) {
        if (err.refused) failPending(token, err.message);
      });
    });

    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    textarea.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastTypingSent < TYPING_SEND_EVERY || !textarea.value.trim()) return;
      if (ws && ws.readyState === WebSocket.OPEN) {
        lastTypingSent = now;
        ws.send(JSON.stringify({ type: "thread:typing" }));
      }
    });
  }

  // --- attachments still being scanned ----------------------------------------------------

  var scanPolling = false;
  var scanPolls = 0;

  function pollScans() {
    var rows = log.querySelectorAll('[data-scan="pending"]');
    scanPolling = rows.length > 0 && scanPolls < 200; // every 3 s for 10 minutes at most
    if (!scanPolling) return;
    scanPolls += 1;
    var ids = Array.prototype.map.call(rows, function (row) { return row.dataset.attachmentId; });
    fetch(log.dataset.scanStatusUrl + "?ids=" + ids.join(","), {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    }).then(function (response) { return response.ok ? response.json() : { files: [] }; })
      .then(function (data) {
        data.files.forEach(function (file) {
          log.querySelectorAll('[data-attachment-id="' + file.id + '"]').forEach(function (row) {
            if (file.scan_status === "pending") return;
            row.dataset.scan = file.scan_status;
            var info = row.querySelector("[data-attachment-info]");
            if (file.download_url) {
              var link = el("a", "", file.name);
              link.href = file.download_url;
              link.rel = "noopener";
              row.replaceChildren(row.firstElementChild, " ", link, " ", info);
              info.textContent = "(" + file.size_display + ")";
            } else {
              info.textContent = "(" + file.size_display + ", " + file.scan_label.toLowerCase() + ")";
            }
          });
        });
      })
      .catch(function () { return null; })
      .finally(function () { setTimeout(pollScans, 3000); });
  }

  // A message with a file still being scanned may arrive at any time.
  new MutationObserver(function () { if (!scanPolling) { scanPolls = 0; pollScans(); } })
    .observe(log, { childList: true });

  // --- older messages ------------------------------------------------------------------

  var olderLink = document.querySelector("[data-load-older]");
  if (olderLink) {
    olderLink.addEventListener("click", function (event) {
      event.preventDefault();
      var url = messagesUrl + "?before=" + olderLink.dataset.before;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var height = log.scrollHeight;
          var first = log.querySelector("[data-message-id]");
          data.messages.forEach(function (m) {
            if (!document.getElementById("m" + m.id)) log.insertBefore(renderMessage(m), first);
          });
          log.scrollTop = log.scrollHeight - height;
          if (data.messages.length) olderLink.dataset.before = data.messages[0].id;
          if (!data.has_more) olderLink.remove();
        });
    });
  }

  // --- the composer on a phone --------------------------------------------------------------

  var attachPanel = document.getElementById("chat-attach");
  var clip = document.getElementById("chat-clip");
  var fileInput = attachPanel ? attachPanel.querySelector("input[type=file]") : null;
  var phone = window.matchMedia("(max-width: 767.98px)");

  function setAttachOpen(open) {
    attachPanel.classList.toggle("chat-attach-collapsed", !open);
    clip.setAttribute("aria-expanded", open ? "true" : "false");
  }

  if (attachPanel && clip && fileInput) {
    // Files already listed (a re-rendered form) stay in sight; otherwise the drop zone waits for the clip.
    setAttachOpen(attachPanel.querySelector("[data-file-id]") !== null);
    clip.classList.remove("d-none");
    clip.addEventListener("click", function () {
      var opening = attachPanel.classList.contains("chat-attach-collapsed");
      setAttachOpen(opening);
      if (opening) fileInput.click();
    });
    form.addEventListener("dragenter", function (event) {
      if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") !== -1) {
        setAttachOpen(true);
      }
    });
  }

  /* On a phone the header, the log and the composer share one screen, so the log gets what is left
   * (the composer is also sticky, for screens too short for even that). */
  function fitToViewport() {
    var stick = nearBottom();
    if (!phone.matches) {
      log.style.height = "";
    } else {
      var section = log.closest("section");
      var composer = form || document.querySelector("[data-chat-readonly]");
      var viewport = window.visualViewport ? window.visualViewport.height : window.innerHeight;
      var logRect = log.getBoundingClientRect();
      var below = section.getBoundingClientRect().bottom - logRect.bottom +
        parseFloat(window.getComputedStyle(section).marginBottom) + (composer ? composer.offsetHeight : 0);
      var height = Math.floor(viewport - (logRect.top + window.scrollY) - below - 8);
      log.style.height = Math.max(160, height) + "px";
    }
    if (stick) scrollToBottom();
  }

  fitToViewport();
  window.addEventListener("resize", fitToViewport);
  if (window.ResizeObserver) {
    // The composer grows with attachments; the header rewraps when the connection badge changes.
    var resized = new ResizeObserver(fitToViewport);
    if (form) resized.observe(form);
    var header = document.getElementById("chat-header");
    if (header) resized.observe(header);
  }
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(fitToViewport);

  scrollToBottom();
  pollScans();
  connect();
})();
