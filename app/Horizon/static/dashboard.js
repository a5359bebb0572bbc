// Live refresh and actions for the queue dashboard. Plain JS, shipped with the project (no CDN).
(function () {
  "use strict";
  var content = document.getElementById("content");
  var banner = document.getElementById("banner");
  var flash = document.getElementById("flash");
  var dot = document.getElementById("live-dot");
  var liveText = document.getElementById("live-text");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var busy = false;

  function showBanner(text) {
    banner.textContent = text;
    banner.hidden = !text;
  }

  function showFlash(text, bad) {
    flash.textContent = text;
    flash.className = bad ? "flash bad" : "flash";
    flash.hidden = false;
    window.clearTimeout(showFlash.timer);
    showFlash.timer = window.setTimeout(function () { flash.hidden = true; }, 4000);
  }

  function userIsBusy() {
    var active = document.activeElement;
    if (active && content.contains(active) && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) return true;
    return !!content.querySelector('input[type="checkbox"]:checked') || busy;
  }

  function refresh() {
    if (userIsBusy() || document.hidden) return Promise.resolve();
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    return fetch(url.toString(), { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (html) {
          if (response.ok) {
            content.innerHTML = html;
            showBanner("");
          } else {
            showBanner(response.headers.get("X-Dashboard-Error") || ("The dashboard answered " + response.status));
            if (response.status !== 503) content.innerHTML = html;
          }
          dot.className = response.ok ? "dot" : "dot stale";
          liveText.textContent = "updated " + new Date().toLocaleTimeString();
        });
      })
      .catch(function () {
        dot.className = "dot stale";
        showBanner("The dashboard server does not answer; retrying.");
      });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
        return data;
      });
    });
  }

  function act(element, body) {
    if (element.dataset.confirm && !window.confirm(element.dataset.confirm)) return;
    if (element.dataset.collect) {
      var ids = Array.prototype.map.call(
        content.querySelectorAll('input[name="' + element.dataset.collect + '"]:checked'), function (box) { return box.value; });
      if (!ids.length) { showFlash("Select at least one job first.", true); return; }
      body = { ids: ids };
    } else if (element.dataset.body) {
      body = JSON.parse(element.dataset.body);
    }
    busy = true;
    element.disabled = true;
    post(element.dataset.post, body).then(function (data) {
      var message = element.dataset.done || "Done";
      if (typeof data.retried === "number") message += " (" + data.retried + ")";
      showFlash(message, false);
      busy = false;
      if (element.dataset.then) { window.location.href = element.dataset.then; return; }
      content.querySelectorAll('input[type="checkbox"]').forEach(function (box) { box.checked = false; });
      refresh();
    }).catch(function (error) {
      busy = false;
      element.disabled = false;
      showFlash(error.message, true);
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-post]");
    if (target && target.tagName === "BUTTON") {
      event.preventDefault();
      act(target);
    }
    var all = event.target.closest("[data-select-all]");
    if (all) {
      content.querySelectorAll('input[name="' + all.dataset.selectAll + '"]').forEach(function (box) { box.checked = all.checked; });
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset.post) return;
    event.preventDefault();
    var body = {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    post(form.dataset.post, body).then(function () {
      showFlash("Saved", false);
      form.reset();
      refresh();
    }).catch(function (error) { showFlash(error.message, true); });
  });

  var every = parseInt(content.dataset.refresh || "0", 10);
  if (every > 0) window.setInterval(refresh, every);
})();
