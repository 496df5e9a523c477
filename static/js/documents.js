// Documents pages: turn a text selection inside one block of the reading view into a comment form,
// and make the version picker jump on change. Works with the server-rendered forms (no inline JS: CSP).
(function () {
  "use strict";

  function blockOf(node) {
    var el = node && (node.nodeType === 1 ? node : node.parentElement);
    return el ? el.closest("[data-block]") : null;
  }

  function setUpComments() {
    var form = document.querySelector("[data-comment-form]");
    var text = document.querySelector("[data-doc-text]");
    if (!form || !text) return;
    var quote = form.querySelector("textarea[name=quote]");
    var block = form.querySelector("input[name=block]");
    var body = form.querySelector("textarea[name=body]");
    var hint = document.querySelector("[data-comment-hint]");

    function capture() {
      var selection = window.getSelection();
      if (!selection || selection.isCollapsed || selection.rangeCount === 0) return;
      var range = selection.getRangeAt(0);
      var start = blockOf(range.startContainer);
      var end = blockOf(range.endContainer);
      if (!start || start !== end || !text.contains(start)) return;
      var words = selection.toString().replace(/\s+/g, " ").trim();
      if (!words) return;
      quote.value = words.slice(0, 1000);
      block.value = start.getAttribute("data-block");
      form.hidden = false;
      if (hint) hint.hidden = true;
      form.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }

    // selectionchange covers mouse, keyboard and a phone's selection handles alike; wait for it to settle.
    var timer = null;
    document.addEventListener("selectionchange", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(capture, 150);
    });
    form.querySelector("[data-comment-cancel]").addEventListener("click", function () {
      form.hidden = true;
      if (hint) hint.hidden = false;
    });
    form.addEventListener("submit", function () { if (body) body.required = true; });
  }

  function setUpPickers() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      var button = select.form.querySelector("[data-autosubmit-button]");
      if (button) button.hidden = true;
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  setUpComments();
  setUpPickers();
})();
