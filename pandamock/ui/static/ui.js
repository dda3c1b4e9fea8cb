/* pandamock dashboard: live overview (polls the JSON feed; the page works without this script). */
(function () {
  "use strict";
  var root = document.getElementById("overview");
  if (!root || !window.fetch) { return; }
  var feedUrl = root.getAttribute("data-feed-url");
  var jobsUrl = root.getAttribute("data-jobs-url");
  var every = (parseInt(root.getAttribute("data-refresh"), 10) || 3) * 1000;
  var live = document.getElementById("live");

  function num(value) { return Number(value).toLocaleString("en-US"); }
  function time(value) { return value ? String(value).slice(0, 19).replace("T", " ") : "—"; }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }
  function setText(selector, value) {
    document.querySelectorAll(selector).forEach(function (node) { node.textContent = value; });
  }
  function link(href, text) { return el("a", { href: href, text: text }); }
  function query(params) {
    return Object.keys(params).map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }

  function bars(id, rows) {
    var box = document.getElementById(id);
    if (!box) { return; }
    var base = box.getAttribute("data-link");
    var top = rows.reduce(function (m, r) { return Math.max(m, r.count); }, 0);
    var nodes = [];
    rows.forEach(function (row) {
      var label = el("span", { "class": "label" }, [base ? link(base + encodeURIComponent(row.status), row.status) : document.createTextNode(row.status)]);
      var bar = el("span", { "class": "bar " + row.category, style: "display: block; width: " + (top ? (100 * row.count / top).toFixed(1) : 0) + "%" });
      nodes.push(label, el("span", { "class": "track" }, [bar]), el("span", { "class": "count", text: num(row.count) }));
    });
    if (!nodes.length) { nodes.push(el("span", { "class": "empty", text: "none" })); }
    box.replaceChildren.apply(box, nodes);
  }

  function rows(id, items, cells, empty, columns) {
    var body = document.getElementById(id);
    if (!body) { return; }
    var out = items.map(function (item) { return el("tr", {}, cells(item)); });
    if (!out.length) { out.push(el("tr", {}, [el("td", { colspan: String(columns), "class": "empty", text: empty })])); }
    body.replaceChildren.apply(body, out);
  }
  function td(text, cls) { return el("td", cls ? { "class": cls, text: text } : { text: text }); }
  function tdLink(href, text, cls) { return el("td", cls ? { "class": cls } : {}, [link(href, text)]); }

  function apply(data) {
    Object.keys(data.totals).forEach(function (key) { setText('[data-total="' + key + '"]', num(data.totals[key])); });
    ["rules", "active"].forEach(function (key) { setText('[data-faults="' + key + '"]', String(data.faults[key])); });
    setText('[data-faults="fired"]', num(data.faults.fired));
    setText('[data-journal="kept"]', num(data.journal.kept));
    setText('[data-clock="now"]', time(data.clock.now));
    setText("#hdr-clock", time(data.clock.now));
    setText('[data-clock="mode"]', data.clock.frozen ? "frozen" : "running ×" + data.clock.speed);
    setText("#hdr-clock-mode", data.clock.frozen ? "frozen" : "×" + data.clock.speed);
    setText('[data-scenario="name"]', data.scenario.name || "—");
    setText("#hdr-scenario", data.scenario.name || "—");
    setText('[data-scenario="description"]', data.scenario.description || "");
    bars("bars-tasks", data.tasks);
    bars("bars-jobs", data.jobs);
    bars("bars-event_ranges", data.event_ranges);
    bars("bars-workers", data.workers);
    rows("queues-body", data.queues, function (q) {
      return [
        tdLink(jobsUrl + "?" + query({ queue: q.name }), q.name), td(q.type || ""), td(q.status || ""),
        td(num(q.queued), "num"), tdLink(jobsUrl + "?" + query({ queue: q.name, status: "activated" }), num(q.activated), "num"),
        td(num(q.starting), "num"), tdLink(jobsUrl + "?" + query({ queue: q.name, status: "running" }), num(q.running), "num"),
        td(num(q.holding), "num"), td(num(q.finished), "num"), td(num(q.failed), "num"), td(num(q.workers), "num")
      ];
    }, "no queues", 11);
    rows("harvesters-body", data.harvesters, function (h) {
      return [td(h.harvester_ID), td(h.hostName || ""), td(h.owner || ""), td(time(h.lastUpdate)), td(num(h.workers), "num")];
    }, "no harvester has sent a heartbeat", 5);
    rows("latest-body", data.journal.latest, function (e) {
      return [td(String(e.seq), "num"), td(time(e.time)), td(e.endpoint || ""), td(e.identity || ""),
        td(String(e.status) + (e.success === false ? " ✗" : ""), "num"), td(e.fault.join(", "))];
    }, "no request yet", 6);
  }

  function schedule() { window.setTimeout(poll, every); }
  function poll() {
    if (document.hidden) { schedule(); return; }
    fetch(feedUrl, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        apply(data);
        root.setAttribute("data-updated", data.clock.now);
        if (live) { live.className = "live"; live.textContent = "live · updated " + time(data.clock.now); }
      })
      .catch(function (error) {
        if (live) { live.className = "live stale"; live.textContent = "feed unavailable (" + error.message + "), retrying"; }
      })
      .then(schedule);
  }
  schedule();
}());
