// licensehooks console: small enhancements over pages that work without
// script. Loaded from the server itself (the CSP allows no inline script).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // postJSON posts a form with the CSRF header and parses the JSON answer.
  function postJSON(form) {
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      body: new URLSearchParams(new FormData(form))
    }).then(function (res) {
      return res.json().catch(function () {
        return { error: "The server answered " + res.status + "." };
      }).then(function (body) {
        if (!res.ok && !body.error) body.error = "The server answered " + res.status + ".";
        return body;
      });
    });
  }

  // Copy buttons: data-copy names the element whose text is copied.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  function initCopy() {
    document.querySelectorAll("button[data-copy]").forEach(function (btn) {
      if (btn.id !== "copy-secret") btn.hidden = false;
      btn.addEventListener("click", function () {
        var target = document.getElementById(btn.getAttribute("data-copy"));
        if (!target) return;
        var label = btn.textContent;
        copyText(target.textContent.trim()).then(function () {
          btn.textContent = "Copied";
        }, function () {
          btn.textContent = "Press Ctrl+C";
          var range = document.createRange();
          range.selectNodeContents(target);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
        }).then(function () {
          setTimeout(function () { btn.textContent = label; }, 1600);
        });
      });
    });
  }

  // Event picker: a "Select all" box per resource type.
  function initSelectAll() {
    document.querySelectorAll(".js-select-all").forEach(function (all) {
      var group = all.getAttribute("data-group");
      var boxes = Array.prototype.filter.call(
        document.querySelectorAll('input[name="subscriptions"]'),
        function (b) { return b.getAttribute("data-group") === group; });
      function sync() {
        var n = boxes.filter(function (b) { return b.checked; }).length;
        all.checked = n === boxes.length && n > 0;
        all.indeterminate = n > 0 && n < boxes.length;
      }
      all.closest("label").hidden = false;
      all.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        sync();
      });
      boxes.forEach(function (b) { b.addEventListener("change", sync); });
      sync();
    });
  }

  // Custom headers: "Add header" appends an empty row.
  function initHeaders() {
    document.querySelectorAll(".js-add-header").forEach(function (btn) {
      var rows = document.getElementById(btn.getAttribute("data-target"));
      if (!rows) return;
      btn.hidden = false;
      btn.addEventListener("click", function () {
        var last = rows.querySelector(".header-row:last-child");
        if (!last) return;
        var row = last.cloneNode(true);
        var n = rows.querySelectorAll(".header-row").length;
        row.querySelectorAll("input").forEach(function (input, i) {
          var kind = i === 0 ? "name" : "value";
          input.value = "";
          input.id = "header-" + kind + "-" + n;
        });
        row.querySelectorAll("label").forEach(function (label, i) {
          var kind = i === 0 ? "name" : "value";
          label.setAttribute("for", "header-" + kind + "-" + n);
          label.textContent = "Header " + kind + " " + (n + 1);
        });
        rows.appendChild(row);
        row.querySelector("input").focus();
      });
    });
  }

  // Test: send the test event and show the result in place.
  function showTestResult(box, r) {
    box.textContent = "";
    box.hidden = false;
    box.className = "test-result " + (r.ok ? "test-ok" : "test-fail");
    var head = el("p", "test-head");
    if (r.error && !r.deliveryUrl) {
      head.appendChild(el("strong", "", "The test could not be sent: "));
      head.appendChild(document.createTextNode(r.error));
      box.appendChild(head);
      return;
    }
    var what = r.ok ? "Delivered" : "Failed";
    var status = r.statusCode ? "HTTP " + r.statusCode + (r.statusText ? " " + r.statusText : "") : (r.errorKind || "no answer");
    head.appendChild(el("strong", "test-status", what + ": " + status));
    head.appendChild(document.createTextNode(" in " + r.duration + " · "));
    var link = el("a", "", "Open the delivery");
    link.href = r.deliveryUrl;
    head.appendChild(link);
    box.appendChild(head);
    if (r.errorWords || r.error) {
      var err = el("p", "test-error");
      err.appendChild(el("strong", "", r.errorWords || r.errorKind));
      if (r.error) err.appendChild(el("span", "muted", " " + r.error));
      box.appendChild(err);
    }
    if (r.body) {
      box.appendChild(el("p", "small muted", "Response body"));
      box.appendChild(el("pre", "code test-body", r.body));
    }
  }

  function initTest() {
    document.querySelectorAll("form.js-test").forEach(function (form) {
      var box = document.getElementById(form.getAttribute("data-result"));
      var btn = form.querySelector("button");
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var label = btn.textContent;
        btn.disabled = true;
        btn.textContent = "Sending…";
        postJSON(form).then(function (r) {
          showTestResult(box, r);
        }, function () {
          showTestResult(box, { error: "The console could not reach the server." });
        }).then(function () {
          btn.disabled = false;
          btn.textContent = label;
        });
      });
    });
  }

  // Secret: revealed on demand, hidden again with the same button.
  function initReveal() {
    document.querySelectorAll("form.js-reveal").forEach(function (form) {
      var target = document.getElementById(form.getAttribute("data-target"));
      var btn = form.querySelector("button");
      var copy = document.getElementById("copy-secret");
      var prev = document.getElementById("secret-previous");
      var masked = target.getAttribute("data-masked");
      var shown = false;
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (shown) {
          target.textContent = masked;
          btn.textContent = "Reveal";
          if (copy) copy.hidden = true;
          if (prev) prev.hidden = true;
          shown = false;
          return;
        }
        postJSON(form).then(function (r) {
          if (r.error) { target.textContent = r.error; return; }
          target.textContent = r.current;
          btn.textContent = "Hide";
          if (copy) copy.hidden = false;
          if (prev && r.previous) {
            prev.textContent = "Previous secret, signing until " + r.previousExpiresAt + ": " + r.previous;
            prev.hidden = false;
          }
          shown = true;
        });
      });
    });
  }

  // Masked header values: Reveal shows one value, and hides the one shown
  // before, so only one is ever in view.
  function initRevealHeader() {
    var open = null; // the reveal now shown: {span, btn}
    function hide(o) {
      o.span.textContent = o.span.getAttribute("data-masked");
      o.btn.textContent = "Reveal";
      o.span.classList.remove("revealed");
    }
    document.querySelectorAll("form.js-reveal-header").forEach(function (form) {
      var span = form.parentNode.querySelector(".masked");
      var btn = form.querySelector("button");
      var mine = { span: span, btn: btn };
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (open && open.span === span) { hide(open); open = null; return; }
        postJSON(form).then(function (r) {
          if (r.error) { span.textContent = r.error; return; }
          if (open) hide(open);
          span.textContent = r.value;
          span.classList.add("revealed");
          btn.textContent = "Hide";
          open = mine;
        });
      });
    });
  }

  // A form the server sent back with errors: the first field it marks
  // gets the focus, so typing goes where the problem is.
  function initInvalidFocus() {
    var first = document.querySelector('form [aria-invalid="true"]');
    if (!first) return;
    if (first.tagName === "FIELDSET") first = first.querySelector("input:not(.js-select-all), select, textarea") || first;
    first.focus();
  }

  // Times: the server writes UTC; shown here in the browser's time zone,
  // "5 min ago" when within the hour, with UTC kept on hover.
  function relative(ms) {
    var s = Math.round(Math.abs(ms) / 1000);
    var words = s < 45 ? (s < 5 ? "" : s + " s") : Math.round(s / 60) + " min";
    if (!words) return "just now";
    return ms >= 0 ? words + " ago" : "in " + words;
  }
  function initTimes() {
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
    } catch (e) { return; }
    var now = Date.now();
    document.querySelectorAll("time.js-time").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d)) return;
      var ago = now - d.getTime();
      t.textContent = Math.abs(ago) < 55 * 60 * 1000 ? relative(ago) : fmt.format(d);
      t.setAttribute("title", t.getAttribute("title") + " · " + fmt.format(d));
    });
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = ""; }
    document.querySelectorAll(".js-tz-note").forEach(function (n) {
      n.textContent = "Times are in your time zone" + (zone ? " (" + zone + ")" : "") + "; hover one for UTC.";
    });
  }

  // Logs: refresh on their own every 5 s when the person turns it on
  // (off by default; the choice is kept in this browser).
  function initAutoRefresh() {
    var box = document.getElementById("auto-refresh");
    if (!box) return;
    var key = "licensehooks.logs.autorefresh";
    var timer = null;
    function arm() {
      if (timer) clearTimeout(timer);
      timer = box.checked ? setTimeout(function () { location.reload(); }, 5000) : null;
    }
    box.closest("label").hidden = false;
    try { box.checked = localStorage.getItem(key) === "on"; } catch (e) { box.checked = false; }
    box.addEventListener("change", function () {
      try { localStorage.setItem(key, box.checked ? "on" : "off"); } catch (e) { /* private mode */ }
      arm();
    });
    arm();
  }

  // Charts that scroll sideways on small screens start at the latest hour.
  function initCharts() {
    document.querySelectorAll(".chart-scroll").forEach(function (el) {
      el.scrollLeft = el.scrollWidth;
    });
  }

  function init() {
    initCharts();
    initCopy();
    initSelectAll();
    initHeaders();
    initTest();
    initReveal();
    initRevealHeader();
    initInvalidFocus();
    initTimes();
    initAutoRefresh();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
