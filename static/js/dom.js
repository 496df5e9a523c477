/* Small DOM helpers the page scripts share (chat.js, uploads.js), loaded first by base.html.
 * Markup itself comes from the server: `fragment` turns HTML the server rendered (escaped by its
 * templates) or a server-rendered <template> into a node to insert. */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // The CSRF token of the form around `root` (or any form on the page), else the cookie's.
  function csrfToken(root) {
    var form = root && root.closest ? root.closest("form") : null;
    var input = (form || document).querySelector("input[name=csrfmiddlewaretoken]") ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) { return input.value; }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // The first element of server-rendered HTML, or a fresh copy of a <template>'s content.
  function fragment(source) {
    var holder = source instanceof HTMLTemplateElement ? source : document.createElement("template");
    if (holder !== source) { holder.innerHTML = source; }
    return holder.content.firstElementChild.cloneNode(true);
  }

  window.EliteDom = { el: el, csrfToken: csrfToken, fragment: fragment };
})();
