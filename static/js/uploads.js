/* Upload areas (templates/files/partials/upload_field.html): drag and drop, a progress bar
 * (XMLHttpRequest upload progress), a file list whose scan state updates by polling, and hidden
 * inputs name="attachment_ids" for the surrounding form. Without JavaScript the plain file
 * input is posted with the form instead. */
(function () {
  "use strict";

  var ICONS = {
    "application/pdf": "bi-file-earmark-pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "bi-file-earmark-word"
  };
  var BADGES = {
    pending: ["text-bg-secondary", "Scanning…"],
    clean: ["text-bg-success", "Ready"],
    infected: ["text-bg-danger", "Blocked: virus found"],
    error: ["text-bg-warning", "Scan failed"]
  };
  var POLL_MS = 2000;
  var POLL_LIMIT = 90;

  var csrfToken = window.EliteDom.csrfToken;
  var el = window.EliteDom.el;

  function setBadge(item, status) {
    var badge = item.querySelector("[data-scan-badge]");
    var spec = BADGES[status] || BADGES.error;
    badge.className = "badge " + spec[0];
    badge.textContent = spec[1];
    item.setAttribute("data-scan", status);
  }

  function addLinks(item, file) {
    var links = item.querySelector("[data-links]");
    if (!links || links.childElementCount || !file.downloadable) { return; }
    if (file.preview_url) {
      var preview = el("a", "btn btn-sm btn-outline-secondary", "Preview");
      preview.href = file.preview_url;
      preview.target = "_blank";
      preview.rel = "noopener";
      preview.setAttribute("aria-label", "Preview " + file.name);
      links.appendChild(preview);
    }
    var download = el("a", "btn btn-sm btn-outline-primary", "Download");
    download.href = file.download_url;
    download.setAttribute("aria-label", "Download " + file.name);
    links.appendChild(download);
  }

  function renderItem(field, file) {
    var item = el("li", "list-group-item d-flex flex-wrap align-items-center gap-2");
    item.setAttribute("data-file-id", file.id);
    var hidden = el("input");
    hidden.type = "hidden";
    hidden.name = "attachment_ids";
    hidden.value = file.id;
    item.appendChild(hidden);
    var icon = el("i", "bi fs-4 " + (ICONS[file.content_type] || "bi-file-earmark"));
    icon.setAttribute("aria-hidden", "true");
    item.appendChild(icon);
    var name = el("span", "text-break flex-grow-1", file.name + " ");
    name.appendChild(el("small", "text-body-secondary", "(" + file.size_display + ")"));
    item.appendChild(name);
    var badge = el("span", "badge");
    badge.setAttribute("data-scan-badge", "");
    item.appendChild(badge);
    item.appendChild(el("span", "d-inline-flex gap-1", undefined)).setAttribute("data-links", "");
    if (!field.hasAttribute("data-standalone")) {
      var remove = el("button", "btn btn-sm btn-link text-danger", "Remove");
      remove.type = "button";
      remove.setAttribute("data-remove", "");
      remove.setAttribute("aria-label", "Remove " + file.name + " from this form");
      item.appendChild(remove);
    }
    setBadge(item, file.scan_status);
    addLinks(item, file);
    field.querySelector("[data-list]").appendChild(item);
    return item;
  }

  function showError(field, message) {
    var box = field.querySelector("[data-error]");
    if (!message) { box.classList.add("d-none"); box.textContent = ""; return; }
    box.textContent = message;
    box.classList.remove("d-none");
  }

  // A file the server (or the size check) refused stays "chosen" in the user's mind although nothing is
  // attached: remember it, so the form is not sent silently without it. The hidden input tells the server
  // that a file was refused, so its success message can say the form went without it.
  function markRefused(field, name, reason) {
    field._refused = (field._refused || []).concat([{ name: name, reason: reason }]);
    field._sendAnyway = false;
    var hidden = el("input");
    hidden.type = "hidden";
    hidden.name = "refused_files";
    hidden.value = name;
    hidden.setAttribute("data-refused", "");
    field.appendChild(hidden);
  }

  function clearRefused(field) {
    field._refused = [];
    field._sendAnyway = false;
    field.querySelectorAll("input[data-refused]").forEach(function (node) { node.remove(); });
  }

  function failProgress(field, label) {
    var bar = field.querySelector("[data-progress-bar]");
    bar.classList.remove("progress-bar-animated", "progress-bar-striped");
    bar.classList.add("bg-danger");
    bar.style.width = "100%";
    bar.textContent = "Failed";
    field.querySelector("[data-progress-label]").textContent = label;
  }

  function setProgress(field, percent, label) {
    var wrap = field.querySelector("[data-progress]");
    var bar = field.querySelector("[data-progress-bar]");
    bar.classList.remove("bg-danger");
    bar.classList.toggle("progress-bar-animated", percent < 100);
    bar.classList.toggle("progress-bar-striped", percent < 100);
    wrap.classList.remove("d-none");
    wrap.setAttribute("aria-valuenow", String(percent));
    bar.style.width = percent + "%";
    bar.textContent = percent + "%";
    field.querySelector("[data-progress-label]").textContent = label || "";
  }

  // `field` is an upload area or any [data-status-root] (e.g. the table of /files/).
  function poll(field) {
    if (field._polling) { return; }
    field._polling = true;
    var rounds = 0;
    function tick() {
      var pending = field.querySelectorAll("[data-file-id][data-scan=pending]");
      if (!pending.length || rounds++ > POLL_LIMIT) { field._polling = false; return; }
      var ids = Array.prototype.map.call(pending, function (item) { return item.getAttribute("data-file-id"); });
      var xhr = new XMLHttpRequest();
      xhr.open("GET", field.getAttribute("data-status-url") + "?ids=" + ids.join(","));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.onload = function () {
        if (xhr.status === 200) {
          JSON.parse(xhr.responseText).files.forEach(function (file) {
            var item = field.querySelector('[data-file-id="' + file.id + '"]');
            if (!item) { return; }
            setBadge(item, file.scan_status);
            addLinks(item, file);
          });
        }
        window.setTimeout(tick, POLL_MS);
      };
      xhr.onerror = function () { window.setTimeout(tick, POLL_MS * 2); };
      xhr.send();
    }
    window.setTimeout(tick, 500);
  }

  function uploadOne(field, file, done) {
    var max = parseInt(field.getAttribute("data-max-bytes"), 10);
    if (max && file.size > max) {
      showError(field, "“" + file.name + "” is too large. The limit is " + field.getAttribute("data-max-label") + ".");
      markRefused(field, file.name, "“" + file.name + "” is too large. The limit is " + field.getAttribute("data-max-label") + ".");
      done(false);
      return;
    }
    if (file.size === 0) {
      showError(field, "“" + file.name + "” is empty.");
      markRefused(field, file.name, "“" + file.name + "” is empty.");
      done(false);
      return;
    }
    var data = new FormData();
    data.append("file", file);
    data.append("category", field.getAttribute("data-category"));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", field.getAttribute("data-upload-url"));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken(field));
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable) {
        setProgress(field, Math.round((event.loaded / event.total) * 100), "Uploading " + file.name + "… " +
          Math.round((event.loaded / event.total) * 100) + "%");
      }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status === 201) {
        setProgress(field, 100, "Uploaded " + body.name);
        renderItem(field, body);
        poll(field);
        done(true);
      } else {
        failProgress(field, file.name + " was not uploaded.");
        showError(field, body.error || "The upload failed (error " + xhr.status + "). Please try again.");
        markRefused(field, file.name, body.error || "The upload of “" + file.name + "” failed.");
        done(false);
      }
    };
    xhr.onerror = function () {
      failProgress(field, file.name + " was not uploaded.");
      showError(field, "The upload failed: check your connection and try again.");
      markRefused(field, file.name, "The upload of “" + file.name + "” failed.");
      done(false);
    };
    setProgress(field, 0, "Uploading " + file.name + "… 0%");
    xhr.send(data);
  }

  function uploadAll(field, files) {
    var queue = Array.prototype.slice.call(files);
    var stored = 0;
    var failed = 0;
    showError(field, "");
    clearRefused(field);
    field.classList.add("is-uploading");
    function next(ok) {
      if (ok === true) { stored += 1; } else if (ok === false) { failed += 1; }
      if (queue.length) { uploadOne(field, queue.shift(), next); return; }
      field.classList.remove("is-uploading");
      // A page that lists the uploads (/files/) shows them in its table once all went well.
      if (stored && !failed && field.hasAttribute("data-reload-after-upload")) { window.location.reload(); }
    }
    next();
  }

  function setup(field) {
    if (field.getAttribute("data-ready")) { return; }
    field.setAttribute("data-ready", "1");
    var input = field.querySelector("input[type=file]");
    var drop = field.querySelector("[data-drop]");
    field.querySelectorAll("[data-js-only]").forEach(function (node) { node.classList.remove("d-none"); });
    input.addEventListener("change", function () {
      var chosen = input.files;
      if (!chosen.length) { return; }
      uploadAll(field, chosen);
      // The files travel by XHR; the form then posts only their ids, never the bytes again.
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("dragover");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.remove("dragover");
      });
    });
    drop.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) { uploadAll(field, event.dataTransfer.files); }
    });
    field.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove]");
      if (remove) { remove.closest("[data-file-id]").remove(); }
    });
    var form = field.closest("form");
    if (form) {
      form.addEventListener("submit", function (event) {
        if (field.classList.contains("is-uploading")) {
          event.preventDefault();
          showError(field, "Please wait until the upload has finished.");
          return;
        }
        // First press with a refused file: stop, say what is missing; a second press sends without it.
        var refused = field._refused || [];
        if (refused.length && !field._sendAnyway) {
          event.preventDefault();
          field._sendAnyway = true;
          var names = refused.map(function (r) { return "“" + r.name + "”"; }).join(", ");
          var button = event.submitter && event.submitter.textContent.trim();
          showError(field, refused[refused.length - 1].reason + " " + names + (refused.length > 1 ? " are" : " is") +
            " not attached: choose another file, or press " + (button ? "“" + button + "”" : "send") +
            " again to send without it.");
          field.querySelector("[data-error]").scrollIntoView({ block: "center" });
          input.focus();
        }
      });
    }
    poll(field);
  }

  // Destructive forms (delete a file) ask first; without JavaScript they submit directly.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  function init() {
    document.querySelectorAll("[data-upload-field]").forEach(setup);
    document.querySelectorAll("[data-status-root]").forEach(poll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
