// Renders the status document (see status.json) and refreshes it every few seconds.
// Every value from the data goes through esc() before it becomes markup.
(function () {
  "use strict";
  var REFRESH_MS = 3000;

  function esc(value) {
    return String(value === undefined || value === null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  function duration(s) {
    if (s === null || s === undefined) { return "unknown"; }
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) { return d + "d " + h + "h"; }
    if (h > 0) { return h + "h " + m + "m"; }
    if (m > 0) { return m + "m " + (s % 60) + "s"; }
    return s + "s";
  }

  function versions(list) {
    return list && list.length
      ? list.map(function (v) { return '<span class="v">' + esc(v) + "</span>"; }).join(", ")
      : '<span class="none">none</span>';
  }

  function row(label, html, cls) {
    return "<tr><th>" + esc(label) + '</th><td class="' + esc(cls || "") + '">' + html + "</td></tr>";
  }

  function download(d) {
    var pct = Math.max(0, Math.min(100, Number(d.percent) || 0));
    return '<div class="dl" data-version="' + esc(d.version) + '">' +
      "downloading <span class=\"v\">" + esc(d.version) + "</span>: " +
      esc(bytes(d.bytes_done)) + " of " + esc(bytes(d.bytes_total)) + " (" + esc(pct.toFixed(1)) + "%), " +
      "shards " + esc(d.shards_done) + "/" + esc(d.shards_total) + ", ETA " + esc(duration(d.eta_seconds)) +
      '<div class="bar"><div style="width:' + pct + '%"></div></div></div>';
  }

  function log(title, entries) {
    if (!entries || !entries.length) { return ""; }
    var rows = entries.slice().reverse().map(function (e) {
      return '<tr><td class="when" title="' + esc(e.at) + '">' + esc(String(e.at).replace("T", " ").replace("Z", "")) + '</td><td><span class="kind kind-' + esc(e.kind) + '">' +
        esc(e.kind) + "</span></td><td>" + (e.version ? '<span class="v">' + esc(e.version) + "</span> " : "") +
        esc(e.message) + "</td></tr>";
    }).join("");
    return '<div class="log"><h4>' + esc(title) + "</h4><table>" + rows + "</table></div>";
  }

  function domain(d) {
    var served = d.current_version ? '<span class="v">' + esc(d.current_version) + "</span>"
      : '<span class="none">nothing yet</span>';
    var rows = row("served", served, "served") +
      row("store CURRENT", d.store_current_version ? '<span class="v">' + esc(d.store_current_version) + "</span>"
        : '<span class="none">unknown</span>', "current") +
      row("in memory", versions(d.loaded_versions)) +
      row("on local disk", versions(d.local_versions)) +
      row("swaps", esc(d.swaps)) +
      row("last poll", esc(d.last_poll_at || "never")) +
      row("store", "<code>" + esc(d.store) + "</code>");
    if (d.note) { rows += row("note", esc(d.note)); }
    if (d.last_error) {
      rows += row("last error", (d.failed_version ? '<span class="v">' + esc(d.failed_version) + "</span>: " : "") +
        esc(d.last_error), "err");
    }
    return '<section class="domain" data-domain="' + esc(d.name) + '"><h3>' + esc(d.name) +
      ' <span class="state state-' + esc(d.state) + '">' + esc(d.state) + "</span></h3>" +
      (d.downloads || []).map(download).join("") +
      "<table>" + rows + "</table>" +
      log("recent errors", d.recent_errors) + log("moves", d.moves) + "</section>";
  }

  // One node's section; a fleet view renders one per node.
  function renderNode(status) {
    var n = status.node || {};
    var facts = [
      ["address", n.listen_addr], ["tusk", n.tusk_version], ["up", duration(n.uptime_seconds)],
      ["since", n.started_at], ["fingerprint", n.topology_fingerprint || "-"]
    ].map(function (f) { return "<span>" + esc(f[0]) + " <b>" + esc(f[1]) + "</b></span>"; }).join("");
    var domains = (status.domains || []).map(domain).join("");
    domains = domains ? '<div class="domains">' + domains + "</div>" : '<p class="none">no domains configured</p>';
    return '<section class="node" data-node="' + esc(n.node_name) + '"><h2>node ' + esc(n.node_name) +
      '</h2><div class="facts">' + facts + "</div>" + domains + "</section>";
  }

  var refreshes = 0;
  function render(status) {
    document.getElementById("nodes").innerHTML = renderNode(status);
  }
  function live(ok, text) {
    var el = document.getElementById("live");
    el.className = "live " + (ok ? "ok" : "error");
    el.textContent = text;
    document.body.setAttribute("data-live", ok ? "ok" : "error");
  }

  function refresh() {
    fetch("status.json", { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("status.json answered " + r.status); }
      return r.json();
    }).then(function (status) {
      render(status);
      refreshes++;
      document.body.setAttribute("data-refreshes", String(refreshes));
      live(true, "live · updated " + new Date().toLocaleTimeString());
    }).catch(function (e) {
      live(false, "cannot refresh: " + e.message);
    });
  }

  render(JSON.parse(document.getElementById("status-data").textContent));
  live(true, "as served");
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
