/* pcheck's HTML report: draws the page from its JSON blocks (pcheck/output/htmlreport.py).
   Text from the records is only ever set with textContent, never parsed as markup. */
(function () {
  "use strict";
  var OUTCOMES = ["broken", "blocked", "invalid", "unchecked", "alive", "excluded"];
  var PROBLEM = { broken: true, blocked: true, invalid: true, unchecked: true };
  var UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
  var SVG = "http://www.w3.org/2000/svg";
  var main = document.getElementById("report");

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (k) {
      if (k === "text") node.textContent = props[k];
      else if (k.slice(0, 5) === "data-" || k.slice(0, 5) === "aria-") node.setAttribute(k, props[k]);
      else node[k] = props[k];
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  /* Control and bidi characters as visible escapes, as the text report shows them. */
  function visible(s) {
    return String(s).replace(UNSAFE, function (c) {
      var h = c.charCodeAt(0).toString(16);
      return c.charCodeAt(0) < 256 ? "\\x" + ("0" + h).slice(-2) : "\\u" + ("000" + h).slice(-4);
    });
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }

  var summary, C = {}, records = [];
  try {
    summary = JSON.parse(document.getElementById("pcheck-summary").textContent);
    summary.cells.forEach(function (name, i) { C[name] = i; });
    Array.prototype.forEach.call(document.querySelectorAll("script.pcheck-records"), function (block) {
      var rows = JSON.parse(block.textContent);
      for (var i = 0; i < rows.length; i++) records.push(rows[i]);
      block.remove();  // the text is parsed: let it go
    });
  } catch (e) {
    main.appendChild(el("p", { text: "This report could not be read: " + e }));
    document.body.setAttribute("data-ready", "error");
    return;
  }

  function place(r) {
    var source = r[C.source], line = r[C.line], col = r[C.column];
    if (source === null) return "(command line)";
    if (line === null) return source;
    return source + ":" + line + (col === null ? "" : ":" + col);
  }
  function kindOf(r) {
    var t = r[C.transient];
    return t === null ? "" : (t ? "transient" : "definitive");
  }
  function errorKind(r) {
    if (r[C.error]) return r[C.error];
    return r[C.status] !== null ? "HTTP " + r[C.status] : r[C.outcome];
  }
  function urlCell(td, r) {
    var url = r[C.url];
    if (/^https?:\/\//i.test(url) && r[C.outcome] !== "invalid") {
      td.appendChild(el("a", { href: url, text: visible(url), rel: "noopener noreferrer nofollow", target: "_blank" }));
    } else {
      td.textContent = visible(url);
    }
  }
  function median(values) {
    if (!values.length) return null;
    values.sort(function (a, b) { return a - b; });
    var mid = values.length >> 1;
    return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  }

  /* A sortable, paged table: columns {key, label, num, value(row), cell(td, row)}. */
  function Table(id, columns, sortKey, onClick) {
    var self = this;
    this.columns = columns; this.sortKey = sortKey; this.dir = 1; this.page = 0; this.size = 100;
    this.onClick = onClick; this.rows = [];
    var head = el("tr", null, columns.map(function (c) {
      var th = el("th", { className: "sortable" + (c.num ? " num" : ""), text: c.label, "data-key": c.key });
      th.addEventListener("click", function () {
        if (self.sortKey === c.key) self.dir = -self.dir; else { self.sortKey = c.key; self.dir = c.num ? -1 : 1; }
        self.sort(); self.page = 0; self.draw();
      });
      return th;
    }));
    this.heads = head.children;
    this.body = el("tbody", { id: id + "-body" });
    this.status = el("span", { id: id + "-pager" });
    this.prev = el("button", { id: id + "-prev", text: "\u2190 previous", type: "button" });
    this.next = el("button", { id: id + "-next", text: "next \u2192", type: "button" });
    this.sizes = el("select", { id: id + "-size", title: "rows a page" }, [100, 500, 1000].map(function (n) {
      return el("option", { value: String(n), text: n + " a page" });
    }));
    this.prev.addEventListener("click", function () { if (self.page > 0) { self.page--; self.draw(); } });
    this.next.addEventListener("click", function () { if (self.page < self.pages() - 1) { self.page++; self.draw(); } });
    this.sizes.addEventListener("change", function () { self.size = Number(self.sizes.value); self.page = 0; self.draw(); });
    this.root = el("div", { id: id }, [el("table", null, [el("thead", null, [head]), this.body]),
      el("div", { className: "pager" }, [this.prev, this.status, this.next, this.sizes])]);
  }
  Table.prototype.pages = function () { return Math.max(1, Math.ceil(this.rows.length / this.size)); };
  Table.prototype.show = function (rows) { this.rows = rows; this.page = 0; this.sort(); this.draw(); };
  Table.prototype.sort = function () {
    var col = this.columns.filter(function (c) { return c.key === this.sortKey; }, this)[0], dir = this.dir;
    var keyed = this.rows.map(function (r, i) { return [col.value(r), i, r]; });
    keyed.sort(function (a, b) {
      var x = a[0], y = b[0];
      if (x === y) return a[1] - b[1];
      if (x === null || x === "") return 1;
      if (y === null || y === "") return -1;
      return (x < y ? -1 : 1) * dir;
    });
    this.rows = keyed.map(function (k) { return k[2]; });
    Array.prototype.forEach.call(this.heads, function (th) {
      var key = th.getAttribute("data-key");
      if (key === this.sortKey) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }, this);
  };
  Table.prototype.draw = function () {
    var start = this.page * this.size, rows = this.rows.slice(start, start + this.size), self = this;
    var fragment = document.createDocumentFragment();
    rows.forEach(function (r) {
      var tr = el("tr", { className: self.onClick ? "clickable" : "" });
      self.columns.forEach(function (c) {
        var td = el("td", { className: (c.num ? "num " : "") + (c.css || "") });
        if (c.cell) c.cell(td, r); else { var v = c.value(r); td.textContent = v === null ? "" : (c.num ? fmt(v) : visible(v)); }
        tr.appendChild(td);
      });
      if (self.onClick) tr.addEventListener("click", function (e) { if (e.target.tagName !== "A") self.onClick(r); });
      fragment.appendChild(tr);
    });
    this.body.textContent = "";
    this.body.appendChild(fragment);
    this.status.textContent = "page " + (this.page + 1) + " of " + this.pages() + " \u00b7 " + fmt(this.rows.length) + " rows";
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= this.pages() - 1;
  };

  function barChart(title, id, items) {
    var max = Math.max.apply(null, items.map(function (i) { return i.value; }).concat([1]));
    var rowH = 22, labelW = 150, barW = 220, height = Math.max(1, items.length) * rowH + 4;
    var chart = svg("svg", { id: id, width: labelW + barW + 70, height: height, role: "img", "aria-label": title });
    items.forEach(function (item, i) {
      var y = i * rowH + 2, w = Math.max(2, Math.round(barW * item.value / max));
      chart.appendChild(svg("text", { x: labelW - 6, y: y + 15, "text-anchor": "end" }, visible(item.label)));
      chart.appendChild(svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 6, "class": item.cls }));
      chart.appendChild(svg("text", { x: labelW + w + 6, y: y + 15 }, fmt(item.value)));
    });
    return el("div", { className: "chart" }, [el("h3", { text: title }), chart]);
  }

  /* The head: what the run was, its counts and its charts. */
  var counts = summary.counts;
  main.appendChild(el("h1", null, [document.createTextNode("pcheck report"),
    el("span", { className: "state " + summary.state, text: summary.state, id: "state" })]));
  main.appendChild(el("p", { className: "muted", id: "headline", text: visible(summary.headline) }));
  main.appendChild(el("p", { className: "muted", text: "pcheck " + summary.version + ", " + summary.generated }));
  var cards = el("div", { className: "cards", id: "counts" }, [
    el("div", { className: "card", "data-outcome": "total" }, [el("b", { text: fmt(summary.total) }), document.createTextNode("links")])]);
  OUTCOMES.forEach(function (o) {
    if (!counts[o]) return;
    var under = o === "broken" ? summary.transient + " transient, " + (counts.broken - summary.transient) + " definitive" : "";
    cards.appendChild(el("div", { className: "card " + o, "data-outcome": o },
      [el("b", { text: fmt(counts[o]) }), document.createTextNode(o), under ? el("div", { className: "muted", text: under }) : null]));
  });
  main.appendChild(cards);
  if (summary.notes.length) main.appendChild(el("ul", { className: "notes" }, summary.notes.map(function (n) { return el("li", { text: visible(n) }); })));

  var kinds = {};
  records.forEach(function (r) { if (PROBLEM[r[C.outcome]]) { var k = errorKind(r); kinds[k] = (kinds[k] || 0) + 1; } });
  var kindItems = Object.keys(kinds).map(function (k) { return { label: k, value: kinds[k], cls: "bar-error" }; })
    .sort(function (a, b) { return b.value - a.value || (a.label < b.label ? -1 : 1); });
  if (kindItems.length > 12) {
    var rest = kindItems.slice(11).reduce(function (n, i) { return n + i.value; }, 0);
    kindItems = kindItems.slice(0, 11).concat([{ label: "other", value: rest, cls: "bar-error" }]);
  }
  main.appendChild(el("div", { className: "charts" }, [
    barChart("Outcomes", "chart-outcomes", OUTCOMES.filter(function (o) { return counts[o]; }).map(function (o) {
      return { label: o, value: counts[o], cls: "bar-" + o };
    })),
    kindItems.length ? barChart("Why links are not alive", "chart-kinds", kindItems) : null]));

  /* Per host and per file, counted once. */
  var hosts = {}, files = {}, documents = false;
  records.forEach(function (r) {
    var o = r[C.outcome], name = r[C.host] || "(none)";
    var h = hosts[name] || (hosts[name] = { host: name, links: 0, checked: 0, broken: 0, blocked: 0, times: [] });
    h.links++;
    if (o === "alive" || o === "broken" || o === "blocked") { h.checked++; h.times.push(r[C.ms]); }
    if (o === "broken") h.broken++;
    if (o === "blocked") h.blocked++;
    if (r[C.column] !== null) documents = true;
    var fname = r[C.source] === null ? "(command line)" : r[C.source];
    var f = files[fname] || (files[fname] = { file: fname, links: 0, broken: 0, blocked: 0, other: 0 });
    f.links++;
    if (o === "broken") f.broken++; else if (o === "blocked") f.blocked++; else if (PROBLEM[o]) f.other++;
  });
  var hostRows = Object.keys(hosts).map(function (k) { var h = hosts[k]; h.median = median(h.times); h.times = null; return h; });

  /* The problems, filtered and paged. */
  var filters = { outcome: "problems", host: "", text: "", file: "" };
  var outcomeSelect = el("select", { id: "f-outcome", title: "outcome" }, [el("option", { value: "problems", text: "problems (not alive, not excluded)" }),
    el("option", { value: "", text: "every link" })].concat(OUTCOMES.map(function (o) {
    return el("option", { value: o, text: o + " (" + fmt(counts[o] || 0) + ")" });
  })));
  var hostInput = el("input", { id: "f-host", type: "search", placeholder: "host", title: "host (exact)" });
  var hostList = el("datalist", { id: "f-hosts" }, hostRows.slice().sort(function (a, b) {
    return (b.broken + b.blocked) - (a.broken + a.blocked) || b.links - a.links;
  }).slice(0, 1000).map(function (h) { return el("option", { value: h.host }); }));
  hostInput.setAttribute("list", "f-hosts");
  var textInput = el("input", { id: "f-text", type: "search", placeholder: "text in URL, place or reason", size: 32 });
  var fileChip = el("button", { id: "f-file", type: "button", hidden: true, title: "show every file" });
  var problems = new Table("problems", [
    { key: "place", label: "file:line:col", css: "place", value: function (r) {
      return r[C.source] === null ? "" : r[C.source] + "\u0000" + ("0000000" + (r[C.line] || 0)).slice(-8) + ("0000" + (r[C.column] || 0)).slice(-5);
    }, cell: function (td, r) { td.textContent = visible(place(r)); } },
    { key: "outcome", label: "outcome", value: function (r) { return OUTCOMES.indexOf(r[C.outcome]); },
      cell: function (td, r) { td.appendChild(el("span", { className: "tag " + r[C.outcome], text: r[C.outcome] })); } },
    { key: "url", label: "URL", css: "url", value: function (r) { return r[C.url]; }, cell: urlCell },
    { key: "reason", label: "reason", value: function (r) { return r[C.reason]; } },
    { key: "kind", label: "transient?", value: kindOf },
    { key: "host", label: "host", value: function (r) { return r[C.host]; } },
    { key: "ms", label: "ms", num: true, value: function (r) { return r[C.ms]; } }], "place");
  function matching() {
    var text = filters.text.toLowerCase(), host = filters.host.trim().toLowerCase(), file = filters.file;
    return records.filter(function (r) {
      var o = r[C.outcome];
      if (filters.outcome === "problems" ? !PROBLEM[o] : (filters.outcome && o !== filters.outcome)) return false;
      if (host && r[C.host].toLowerCase() !== host) return false;
      if (file && (r[C.source] === null ? "(command line)" : r[C.source]) !== file) return false;
      if (text && (r[C.url] + "\n" + place(r) + "\n" + r[C.reason] + "\n" + r[C.host]).toLowerCase().indexOf(text) < 0) return false;
      return true;
    });
  }
  function refresh() {
    fileChip.hidden = !filters.file;
    fileChip.textContent = "file: " + visible(filters.file) + " \u2715";
    problems.show(matching());
  }
  outcomeSelect.addEventListener("change", function () { filters.outcome = outcomeSelect.value; refresh(); });
  hostInput.addEventListener("input", function () { filters.host = hostInput.value; refresh(); });
  textInput.addEventListener("input", function () { filters.text = textInput.value; refresh(); });
  fileChip.addEventListener("click", function () { filters.file = ""; refresh(); });

  var hostTable = new Table("hosts", [
    { key: "host", label: "host", value: function (h) { return h.host; } },
    { key: "links", label: "links", num: true, value: function (h) { return h.links; } },
    { key: "checked", label: "checked", num: true, value: function (h) { return h.checked; } },
    { key: "broken", label: "broken", num: true, value: function (h) { return h.broken; } },
    { key: "blocked", label: "blocked", num: true, value: function (h) { return h.blocked; } },
    { key: "median", label: "median ms", num: true, value: function (h) { return h.median; } }], "broken",
    function (h) { hostInput.value = h.host; filters.host = h.host; select("problems"); refresh(); });
  hostTable.dir = -1;
  var fileTable = new Table("files", [
    { key: "file", label: "file", css: "place", value: function (f) { return f.file; } },
    { key: "links", label: "links", num: true, value: function (f) { return f.links; } },
    { key: "broken", label: "broken", num: true, value: function (f) { return f.broken; } },
    { key: "blocked", label: "blocked", num: true, value: function (f) { return f.blocked; } },
    { key: "other", label: "invalid, unchecked", num: true, value: function (f) { return f.other; } }], "broken",
    function (f) { filters.file = f.file; select("problems"); refresh(); });
  fileTable.dir = -1;

  var panels = {
    problems: el("div", { className: "panel" }, [el("div", { className: "filters" }, [outcomeSelect, hostInput, hostList, textInput, fileChip]), problems.root]),
    hosts: el("div", { className: "panel" }, [el("p", { className: "muted", text: "Click a host to see its links. Checked: alive, broken or blocked; median: of their check times." }), hostTable.root]),
    files: el("div", { className: "panel" }, [el("p", { className: "muted", text: "Click a file to see its links." }), fileTable.root])
  };
  var tabs = el("div", { className: "tabs", role: "tablist" });
  var labels = { problems: "Links", hosts: "By host (" + fmt(hostRows.length) + ")", files: "By file (" + fmt(Object.keys(files).length) + ")" };
  function select(name) {
    Object.keys(panels).forEach(function (k) {
      panels[k].hidden = k !== name;
      var tab = document.getElementById("tab-" + k);
      if (tab) tab.setAttribute("aria-selected", String(k === name));
    });
  }
  Object.keys(panels).forEach(function (k) {
    if (k === "files" && !documents) return;
    var tab = el("button", { id: "tab-" + k, type: "button", text: labels[k], role: "tab" });
    tab.addEventListener("click", function () { select(k); });
    tabs.appendChild(tab);
  });
  main.appendChild(tabs);
  Object.keys(panels).forEach(function (k) { main.appendChild(panels[k]); });
  hostTable.show(hostRows);
  fileTable.show(Object.keys(files).map(function (k) { return files[k]; }));
  select("problems");
  refresh();
  document.body.setAttribute("data-ready", "1");
})();
