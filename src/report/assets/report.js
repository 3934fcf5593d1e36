// rpcsift report renderer. Reads the JSON block #rpcsift-data and draws the summary,
// the timeline (SVG), the host graph (SVG), the hit table and the capture table.
// Everything is built as strings with every data value escaped, then inserted once per
// section, so thousands of hits stay fast.
(function () {
  'use strict';
  var started = performance.now();
  var D = JSON.parse(document.getElementById('rpcsift-data').textContent);
  var H = D.hits || [];

  function esc(v) {
    return String(v == null ? '' : v).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function $(id) { return document.getElementById(id); }
  function pad(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }
  // UTC, microseconds, like rpcsift's text output.
  function fmtTime(ts) {
    if (typeof ts !== 'number' || !isFinite(ts)) return '-';
    var s = Math.floor(ts), us = Math.round((ts - s) * 1e6);
    if (us > 999999) us = 999999;
    var d = new Date(s * 1000).toISOString();
    return d.slice(0, 10) + ' ' + d.slice(11, 19) + '.' + pad(us, 6);
  }
  function fmtShort(ts) { return fmtTime(ts).slice(11, 23); }
  function fmtDur(s) {
    if (!(s >= 0)) return '-';
    if (s < 1) return (s * 1000).toFixed(1) + ' ms';
    if (s < 120) return s.toFixed(1) + ' s';
    if (s < 7200) return (s / 60).toFixed(1) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' days';
  }
  function fmtNum(n) { return n == null ? '-' : Number(n).toLocaleString('en-US'); }

  // Colours: fixed for the techniques rpcsift knows, a palette for the rest.
  var FIXED = { 'T1569.002': '#d62728', 'T1569': '#d62728', 'T1053.002': '#1f77b4', 'T1053.005': '#9467bd',
    'T1053': '#17becf', 'T1047': '#ff7f0e', 'T1021.002': '#8c564b', 'T1543.003': '#e377c2' };
  var PALETTE = ['#2ca02c', '#bcbd22', '#7f7f7f', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173'];
  var colours = {}, nextColour = 0;
  function colour(t) {
    if (!t) return '#555';
    if (FIXED[t]) return FIXED[t];
    if (!colours[t]) colours[t] = PALETTE[nextColour++ % PALETTE.length];
    return colours[t];
  }

  // Hosts in address order (IPv4 numerically), names after.
  function hostKey(h) {
    var m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h);
    return m ? [0, ((+m[1] * 256 + +m[2]) * 256 + +m[3]) * 256 + +m[4], h] : [1, 0, h];
  }
  function hostCmp(a, b) {
    var x = hostKey(a), y = hostKey(b);
    return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
  }

  // Sigma's levels, lowest first.
  var LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
  // Derived fields, once.
  var techNames = {}, techTactics = {};
  H.forEach(function (h, i) {
    h._i = i;
    h._src = h['id.orig_h'] || '?';
    h._dst = h['id.resp_h'] || '?';
    h._techs = (h.techniques || []).map(function (t) {
      if (t.name) techNames[t.id] = t.name;
      if (t.tactic) techTactics[t.id] = t.tactic;
      return t.id;
    });
    h._call = h.call || [h.capture, h.uid, h.ts, h.opnum].join('|');
    h._op = (h.endpoint ? h.endpoint + '::' : '') + (h.operation || h.operation_spec || (h.opnum != null ? 'opnum ' + h.opnum : '-'));
    h._pipe = h.smb_pipe || h.named_pipe || '';
    h._who = h.user ? (h.domain ? h.domain + '\\' + h.user : h.user) : (h.auth === 'kerberos' ? '(kerberos)' : '');
    h._ran = h.what_ran || h.what || '';
    if (!h._ran && h.args_status && h.args_status !== 'decoded') h._ran = '(arguments ' + h.args_status.replace('_', ' ') + ')';
    h._lvl = LEVELS.indexOf(h.level);
    h._tactics = (h.techniques || []).map(function (t) { return t.tactic || ''; });
    h._text = [fmtTime(h.ts), h._src, h._dst, h.transport, h._pipe, h._op, h._techs.join(' '), h._tactics.join(' '), h.status,
      h.matched_by, h.title, h.level, h._who, h.workstation, h._ran, h.what, h.reason, h.capture, h.uid].join(' ').toLowerCase();
  });
  function tooltip(h, techs) {
    var lines = [fmtTime(h.ts) + '  ' + h._src + ' \u2192 ' + h._dst,
      h._op + '  (' + (h.status || '?') + ', ' + (h.transport || '?') + (h._pipe ? ' \\pipe\\' + h._pipe : '') + ')',
      techs.map(function (t) { return t + (techNames[t] ? ' ' + techNames[t] : ''); }).join('; ')];
    if (h.level) lines.push('level: ' + h.level + (h.reason ? ' \u2014 ' + h.reason : ''));
    if (h.client_is_dc != null) lines.push('client is ' + (h.client_is_dc ? '' : 'not ') + 'a DC (' + (h.dc_source || '?') + ')');
    if (h._who) lines.push('user: ' + h._who + (h.workstation ? ' from ' + h.workstation : ''));
    if (h.what_ran) lines.push('ran: ' + h.what_ran);
    if (h.what && h.what !== h.what_ran) lines.push('what: ' + h.what);
    if (!h.what_ran && !h.what && h._ran) lines.push('ran: ' + h._ran);
    if (h.context) lines.push('false positives: ' + h.context);
    if (h.args) lines.push('args: ' + JSON.stringify(h.args));
    return lines.join('\n');
  }

  // Calls: hits on the same call drawn once, with every technique and matcher; the mark
  // describes the call's most severe hit.
  var calls = [], byCall = {};
  H.forEach(function (h) {
    var c = byCall[h._call];
    if (!c) { c = byCall[h._call] = { h: h, techs: [], by: [] }; calls.push(c); }
    else if (h._lvl > c.h._lvl) c.h = h;
    h._techs.forEach(function (t) { if (c.techs.indexOf(t) < 0) c.techs.push(t); });
    if (c.by.indexOf(h.matched_by) < 0) c.by.push(h.matched_by);
  });

  // ---- meta and summary ----
  var M = D.meta || {};
  $('meta').textContent = 'rpcsift ' + (M.version || '') + ' \u00b7 written ' + (M.generated ? fmtTime(M.generated).slice(0, 19) + ' UTC' : '') +
    ' \u00b7 indicators: ' + (M.indicators || 'none') + ' \u00b7 Sigma rules: ' + (M.sigma_rules || 0) +
    (M.paths && M.paths.length ? ' \u00b7 ' + M.paths.join(', ') : '');

  function renderSummary() {
    var S = D.summary, out = [];
    var srcs = {}, dsts = {};
    calls.forEach(function (c) { srcs[c.h._src] = 1; dsts[c.h._dst] = 1; });
    var card = function (v, l) { return '<div class="card"><b>' + esc(v) + '</b><span>' + esc(l) + '</span></div>'; };
    out.push('<div class="cards">');
    if (S) {
      out.push(card(fmtNum(S.captures), 'captures' + (S.captures_failed ? ' (' + S.captures_failed + ' unreadable)' : '')));
      out.push(card(S.first != null ? fmtDur(S.last - S.first) : '-', S.first != null ? fmtTime(S.first).slice(0, 19) + ' \u2192 ' + fmtTime(S.last).slice(0, 19) + ' UTC' : 'no calls'));
      out.push(card(fmtNum(S.hosts), 'hosts in DCE-RPC calls'));
      out.push(card(fmtNum(S.calls), 'DCE-RPC calls'));
    }
    out.push(card(fmtNum(H.length), 'hits on ' + fmtNum(calls.length) + ' calls'));
    out.push(card(Object.keys(srcs).length + ' \u2192 ' + Object.keys(dsts).length, 'source \u2192 target hosts'));
    out.push('</div><div class="cols"><div><h3>Hits by technique</h3>');
    var per = {};
    H.forEach(function (h) {
      (h._techs.length ? h._techs : ['-']).forEach(function (t) {
        var p = per[t] || (per[t] = { hits: 0, calls: {}, targets: {} });
        p.hits++; p.calls[h._call] = 1; p.targets[h._dst] = 1;
      });
    });
    var ts = Object.keys(per).sort(function (a, b) { return per[b].hits - per[a].hits || (a < b ? -1 : 1); });
    if (!ts.length) out.push('<p>No hit.</p>');
    else {
      out.push('<table id="tech-summary"><thead><tr><th>technique</th><th>tactic</th><th class="num">hits</th><th class="num">calls</th><th class="num">targets</th></tr></thead><tbody>');
      ts.forEach(function (t) {
        out.push('<tr data-tech="' + esc(t) + '"><td><span class="swatch" style="background:' + colour(t) + '"></span>' + esc(t) + ' <span class="muted">' + esc(techNames[t] || '') +
          '</span></td><td>' + esc(techTactics[t] || '') + '</td><td class="num">' + per[t].hits + '</td><td class="num">' + Object.keys(per[t].calls).length + '</td><td class="num">' + Object.keys(per[t].targets).length + '</td></tr>');
      });
      out.push('</tbody></table>');
    }
    out.push('</div><div><h3>What could not be decoded, and why</h3>');
    var U = D.undecoded || [], A = D.args_missing || {};
    if (!S) out.push('<p class="muted">Built from saved hits: no capture accounting.</p>');
    else if (!U.length) out.push('<p id="undecoded-none">Everything in the captures was decoded.</p>');
    if (U.length) {
      out.push('<ul class="problems" id="undecoded">');
      U.forEach(function (p) {
        out.push('<li><b>' + fmtNum(p.count) + '</b> ' + esc(p.what) + (p.why ? ' <span class="muted">\u2014 ' + esc(p.why) + '</span>' : '') + '</li>');
      });
      out.push('</ul>');
    }
    var ak = Object.keys(A);
    if (ak.length) {
      out.push('<p>Hits whose arguments could not be read: ' + ak.map(function (k) { return esc(k.replace('_', ' ')) + ' ' + A[k]; }).join(', ') + '</p>');
    }
    if (D.notices && D.notices.length) {
      out.push('<details><summary>' + D.notices.length + ' notice(s)</summary><ul class="problems">');
      D.notices.forEach(function (n) { out.push('<li class="mono">' + esc(n) + '</li>'); });
      out.push('</ul></details>');
    }
    out.push('</div></div>');
    $('summary-body').innerHTML = out.join('');
  }

  function legend() {
    var seen = [];
    calls.forEach(function (c) { c.techs.forEach(function (t) { if (seen.indexOf(t) < 0) seen.push(t); }); });
    seen.sort();
    $('timeline-legend').innerHTML = seen.map(function (t) {
      return '<span><span class="swatch" style="background:' + colour(t) + '"></span>' + esc(t) + ' ' + esc(techNames[t] || '') + '</span>';
    }).join('');
  }

  // Time axis with long empty stretches cut out: calls are grouped into segments wherever
  // two consecutive calls are further apart than max(5 min, 5% of the span); each segment
  // gets width by its duration and its number of calls, and each cut is drawn as a break.
  function timeScale(times, x0, width) {
    times = times.slice().sort(function (a, b) { return a - b; });
    var first = times[0], last = times[times.length - 1], span = last - first;
    var thr = Math.max(300, span * 0.05), segs = [{ s: first, e: first, n: 0 }];
    times.forEach(function (t) {
      var g = segs[segs.length - 1];
      if (t - g.e > thr) segs.push(g = { s: t, e: t, n: 0 });
      g.e = t; g.n++;
    });
    var GAPW = 30, free = width - (segs.length - 1) * GAPW, n = segs.length;
    var minW = Math.min(50, free / n), rest = free - n * minW;
    var totD = 0;
    segs.forEach(function (g) { totD += g.e - g.s; });
    var x = x0;
    segs.forEach(function (g, i) {
      var share = totD > 0 ? 0.5 * (g.e - g.s) / totD + 0.5 * g.n / times.length : g.n / times.length;
      g.x = x; g.w = minW + rest * share; x += g.w + GAPW;
      if (i > 0) g.gapBefore = g.s - segs[i - 1].e;
    });
    function at(t) {
      var lo = 0, hi = segs.length - 1;
      while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (segs[mid].s <= t) lo = mid; else hi = mid - 1; }
      var g = segs[lo], d = g.e - g.s;
      if (d <= 0) return g.x + g.w / 2;
      return g.x + Math.min(1, Math.max(0, (t - g.s) / d)) * g.w;
    }
    return { at: at, segs: segs };
  }

  // ---- timeline: one lane per target host, one mark per call ----
  function renderTimeline() {
    if (!calls.length) { $('timeline-body').innerHTML = '<p>No hit to draw.</p>'; return; }
    var lanes = {}, order = [];
    calls.forEach(function (c) {
      var h = c.h;
      if (!lanes[h._dst]) { lanes[h._dst] = []; order.push(h._dst); }
      lanes[h._dst].push(c);
    });
    var W = 1200, L = 150, R = 24, TOP = 40, LH = 30;
    var sc = timeScale(calls.map(function (c) { return c.h.ts; }), L, W - L - R);
    var Ht = TOP + order.length * LH + 10;
    var s = ['<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + W + ' ' + Ht + '" width="100%" preserveAspectRatio="xMinYMin meet">'];
    s.push('<g class="axis">');
    var lastDay = '';
    sc.segs.forEach(function (g, i) {
      var d = g.e - g.s, k = d > 0 ? Math.max(1, Math.floor(g.w / 160)) : 0;
      for (var j = 0; j <= k; j++) {
        var t = k ? g.s + d * j / k : g.s, xx = sc.at(t);
        if (!k) xx = g.x + g.w / 2;
        var full = fmtTime(t), day = full.slice(0, 10);
        var label = j === 0 && day !== lastDay ? full.slice(0, 19) : d < 60 ? full.slice(11, 23) : full.slice(11, 19);
        if (j === 0) lastDay = day;
        var anchor = k && j === 0 ? 'start' : k && j === k ? 'end' : 'middle';
        s.push('<line x1="' + xx.toFixed(1) + '" x2="' + xx.toFixed(1) + '" y1="' + (TOP - 6) + '" y2="' + (Ht - 8) + '"></line>');
        s.push('<text x="' + xx.toFixed(1) + '" y="' + (j === 0 && i % 2 ? 26 : 12) + '" text-anchor="' + anchor + '">' + esc(label) + '</text>');
      }
      if (g.gapBefore != null) {
        var gx = (g.x - 15).toFixed(1);
        s.push('<g class="break"><title>' + esc('no hits for ' + fmtDur(g.gapBefore)) + '</title><line x1="' + gx + '" x2="' + gx + '" y1="' + (TOP - 6) +
          '" y2="' + (Ht - 8) + '" stroke-dasharray="3 4" style="stroke:#999"></line><text x="' + gx + '" y="' + (Ht - 1) + '" text-anchor="middle" class="muted">\u2248 ' +
          esc(fmtDur(g.gapBefore)) + '</text></g>');
      }
    });
    s.push('</g>');
    order.forEach(function (host, i) {
      var y = TOP + i * LH, cy = y + LH / 2;
      s.push('<g class="lane" data-host="' + esc(host) + '" data-calls="' + lanes[host].length + '">');
      s.push('<rect class="lane-bg" x="0" y="' + (y + 2) + '" width="' + W + '" height="' + (LH - 4) + '"></rect>');
      s.push('<text x="6" y="' + (cy + 4) + '">' + esc(host) + ' (' + lanes[host].length + ')</text>');
      lanes[host].forEach(function (c) {
        var h = c.h;
        s.push('<circle class="mark" data-host="' + esc(host) + '" data-call="' + esc(h._call) + '" data-i="' + h._i + '" data-tech="' + esc(c.techs.join(' ')) +
          '" data-level="' + esc(h.level || '') + '" cx="' + sc.at(h.ts).toFixed(1) + '" cy="' + cy + '" r="' + (h._lvl >= 3 ? 8 : h._lvl >= 0 && h._lvl < 2 ? 4 : 6) + '" fill="' + colour(c.techs[0]) + '"><title>' + esc(tooltip(h, c.techs)) + '\nmatched by: ' + esc(c.by.join(', ')) + '</title></circle>');
      });
      s.push('</g>');
    });
    s.push('</svg>');
    $('timeline-body').innerHTML = s.join('');
    $('timeline-body').addEventListener('click', function (e) {
      var m = e.target.closest && e.target.closest('.mark');
      if (!m) return;
      var h = H[+m.getAttribute('data-i')];
      $('filter').value = h.uid || h._dst;
      applyFilter();
      document.getElementById('hits').scrollIntoView();
    });
  }

  // ---- host graph: sources on the left, targets on the right ----
  function renderGraph() {
    if (!calls.length) { $('graph-body').innerHTML = '<p>No hit to draw.</p>'; return; }
    var edges = {}, elist = [], srcs = [], dsts = [];
    calls.forEach(function (c) {
      var h = c.h, key = h._src + '\u0000' + h._dst;
      if (srcs.indexOf(h._src) < 0) srcs.push(h._src);
      if (dsts.indexOf(h._dst) < 0) dsts.push(h._dst);
      var e = edges[key];
      if (!e) { e = edges[key] = { src: h._src, dst: h._dst, techs: {}, calls: 0 }; elist.push(e); }
      e.calls++;
      (c.techs.length ? c.techs : ['-']).forEach(function (t) { e.techs[t] = (e.techs[t] || 0) + 1; });
    });
    srcs.sort(hostCmp); dsts.sort(hostCmp);
    var W = 1200, NW = 150, NH = 22, GAP = 34, TOP = 16;
    var rows = Math.max(srcs.length, dsts.length);
    var Hh = TOP + rows * GAP + 10;
    var ly = function (i, n) { return TOP + (rows - n) * GAP / 2 + i * GAP; };
    var sy = {}, dy = {};
    srcs.forEach(function (h, i) { sy[h] = ly(i, srcs.length) + NH / 2; });
    dsts.forEach(function (h, i) { dy[h] = ly(i, dsts.length) + NH / 2; });
    var x1 = 20 + NW, x2 = W - 20 - NW;
    var maxc = 1;
    elist.forEach(function (e) { if (e.calls > maxc) maxc = e.calls; });
    var s = ['<svg id="graph-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + W + ' ' + Hh + '" width="100%" preserveAspectRatio="xMinYMin meet">'];
    s.push('<text x="20" y="11" class="muted">sources</text><text x="' + (W - 20) + '" y="11" text-anchor="end">targets</text>');
    elist.forEach(function (e, i) {
      var ts = Object.keys(e.techs).sort();
      var label = ts.map(function (t) { return t + ' \u00d7' + e.techs[t]; }).join(', ');
      var ya = sy[e.src], yb = dy[e.dst], mx = (x1 + x2) / 2;
      var w = 1.5 + 4 * Math.log(1 + e.calls) / Math.log(1 + maxc);
      var col = ts.length === 1 ? colour(ts[0]) : '#555';
      // Label position along the curve, staggered so parallel edges do not overprint.
      var f = 0.3 + 0.4 * ((i % 5) / 4), lx = x1 + (x2 - x1) * f, lyy = ya + (yb - ya) * (3 * f * f - 2 * f * f * f);
      s.push('<g class="edge" data-src="' + esc(e.src) + '" data-dst="' + esc(e.dst) + '" data-calls="' + e.calls + '" data-label="' + esc(label) + '">' +
        '<title>' + esc(e.src + ' \u2192 ' + e.dst + ': ' + e.calls + ' call(s)\n' + ts.map(function (t) { return t + ' ' + (techNames[t] || '') + ': ' + e.techs[t]; }).join('\n')) + '</title>' +
        '<path d="M' + x1 + ',' + ya + ' C' + mx + ',' + ya + ' ' + mx + ',' + yb + ' ' + x2 + ',' + yb + '" stroke="' + col + '" stroke-width="' + w.toFixed(1) + '"></path>' +
        '<text x="' + lx.toFixed(1) + '" y="' + (lyy - 4).toFixed(1) + '" text-anchor="middle">' + esc(label) + '</text></g>');
    });
    var node = function (h, x, y, side) {
      return '<g class="node" data-host="' + esc(h) + '" data-side="' + side + '"><rect x="' + x + '" y="' + (y - NH / 2) + '" width="' + NW + '" height="' + NH + '"></rect>' +
        '<text x="' + (x + NW / 2) + '" y="' + (y + 4) + '" text-anchor="middle">' + esc(h) + '</text></g>';
    };
    srcs.forEach(function (h) { s.push(node(h, 20, sy[h], 'source')); });
    dsts.forEach(function (h) { s.push(node(h, x2, dy[h], 'target')); });
    s.push('</svg>');
    $('graph-body').innerHTML = s.join('');
  }

  // ---- hit table ----
  var COLS = [
    { k: 'ts', l: 'time (UTC)', v: function (h) { return h.ts; }, f: function (h) { return '<span class="mono">' + esc(fmtTime(h.ts)) + '</span>'; } },
    { k: 'src', l: 'source', v: function (h) { return h._src; } },
    { k: 'dst', l: 'target', v: function (h) { return h._dst; } },
    { k: 'via', l: 'transport', v: function (h) { return (h.transport || '') + (h._pipe ? ' ' + h._pipe : ''); } },
    { k: 'op', l: 'operation', v: function (h) { return h._op; }, f: function (h) { return esc(h._op) + (h.operation_spec && h.operation_spec !== h.operation ? ' <span class="muted">(' + esc(h.operation_spec) + ')</span>' : ''); } },
    { k: 'tech', l: 'technique', v: function (h) { return h._techs.join(' '); }, f: function (h) {
      return h._techs.map(function (t) { return '<span class="tag" style="background:' + colour(t) + '" title="' + esc(techNames[t] || '') + '">' + esc(t) + '</span>'; }).join('');
    } },
    { k: 'level', l: 'level', v: function (h) { return h._lvl; }, f: function (h) {
      return '<span class="lvl-' + esc(h.level || 'none') + '"' + (h.reason ? ' title="' + esc(h.reason) + '"' : '') + '>' + esc(h.level || '-') + '</span>';
    } },
    { k: 'status', l: 'status', v: function (h) { return h.status || ''; }, f: function (h) { return '<span class="st-' + esc(h.status) + '">' + esc(h.status || '-') + '</span>'; } },
    { k: 'by', l: 'matched by', v: function (h) { return h.matched_by || ''; }, f: function (h) {
      return esc(h.matched_by) + (h.would_match_in_zeek === false ? ' <span class="warn" title="the published endpoint::operation string never matches Zeek\'s name for this call">(missed in Zeek)</span>' : '');
    } },
    { k: 'user', l: 'user', v: function (h) { return h._who; } },
    { k: 'ran', l: 'what ran / what it did', v: function (h) { return h._ran; }, f: function (h) {
      return '<span class="mono"' + (h.args ? ' title="' + esc(JSON.stringify(h.args, null, 1)) + '"' : '') + '>' + esc(h._ran) + '</span>' +
        (h.reason ? '<br><span class="muted">' + esc(h.reason) + '</span>' : '');
    } },
    { k: 'capture', l: 'capture', v: function (h) { return h.capture || ''; }, f: function (h) { var c = h.capture || ''; return '<span class="muted" title="' + esc(c) + '">' + esc(c.split('/').pop()) + '</span>'; } }
  ];
  var sortCol = 0, sortDir = 1, view = H.slice();
  function cmp(a, b) {
    var c = COLS[sortCol], va = c.v(a), vb = c.v(b);
    if (va < vb) return -sortDir;
    if (va > vb) return sortDir;
    return a._i - b._i;
  }
  function drawRows() {
    view.sort(cmp);
    var out = new Array(view.length);
    for (var i = 0; i < view.length; i++) {
      var h = view[i], r = ['<tr data-i="' + h._i + '" data-host="' + esc(h._dst) + '">'];
      for (var j = 0; j < COLS.length; j++) r.push('<td>' + (COLS[j].f ? COLS[j].f(h) : esc(COLS[j].v(h))) + '</td>');
      r.push('</tr>');
      out[i] = r.join('');
    }
    document.querySelector('#hit-table tbody').innerHTML = out.join('');
    $('hit-count').textContent = view.length === H.length ? H.length + ' hit(s)' : view.length + ' of ' + H.length + ' hit(s)';
    var ths = document.querySelectorAll('#hit-table th');
    for (var k = 0; k < ths.length; k++) ths[k].className = k === sortCol ? (sortDir > 0 ? 'asc' : 'desc') : '';
  }
  function applyFilter() {
    var q = $('filter').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var t = $('tech-filter').value;
    view = H.filter(function (h) {
      if (t && h._techs.indexOf(t) < 0) return false;
      for (var i = 0; i < q.length; i++) if (h._text.indexOf(q[i]) < 0) return false;
      return true;
    });
    drawRows();
  }
  function renderTable() {
    document.querySelector('#hit-table thead').innerHTML = '<tr>' + COLS.map(function (c, i) { return '<th data-col="' + i + '">' + esc(c.l) + '</th>'; }).join('') + '</tr>';
    document.querySelector('#hit-table thead').addEventListener('click', function (e) {
      var th = e.target.closest('th');
      if (!th) return;
      var i = +th.getAttribute('data-col');
      if (i === sortCol) sortDir = -sortDir; else { sortCol = i; sortDir = 1; }
      drawRows();
    });
    var techs = Object.keys(techNames).sort();
    H.forEach(function (h) { h._techs.forEach(function (t) { if (techs.indexOf(t) < 0) techs.push(t); }); });
    $('tech-filter').innerHTML += techs.map(function (t) { return '<option value="' + esc(t) + '">' + esc(t + ' ' + (techNames[t] || '')) + '</option>'; }).join('');
    var timer = null;
    $('filter').addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(applyFilter, 120); });
    $('tech-filter').addEventListener('change', applyFilter);
    drawRows();
  }

  // ---- captures ----
  function renderCaptures() {
    var C = D.captures || [];
    if (!C.length) { $('captures-body').innerHTML = '<p class="muted">No capture accounting (report built from saved hits).</p>'; return; }
    var out = ['<table id="capture-table"><thead><tr><th>capture</th><th class="num">packets</th><th class="num">bytes</th><th class="num">TCP conns</th><th class="num">DCE-RPC conns</th><th class="num">calls</th><th class="num">hits</th><th>calls from \u2013 to (UTC)</th><th>not decoded</th></tr></thead><tbody>'];
    C.forEach(function (c) {
      var probs = (c.problems || []).map(function (p) { return fmtNum(p.count) + ' ' + esc(p.what); });
      (c.notices || []).forEach(function (n) { probs.push('<span class="mono">' + esc(n) + '</span>'); });
      out.push('<tr data-file="' + esc(c.file) + '"' + (c.failed ? ' class="warn"' : '') + '><td class="mono">' + esc(c.file) + (c.failed ? ' (unreadable)' : '') + '</td><td class="num">' + fmtNum(c.packets) +
        '</td><td class="num">' + fmtNum(c.bytes) + '</td><td class="num">' + fmtNum(c.tcp_connections) + '</td><td class="num">' + fmtNum(c.dcerpc_connections) +
        '</td><td class="num">' + fmtNum(c.calls) + '</td><td class="num">' + fmtNum(c.hits) + '</td><td class="mono">' +
        (c.first != null ? esc(fmtTime(c.first).slice(0, 19)) + ' \u2013 ' + esc(fmtTime(c.last).slice(11, 19)) : '-') + '</td><td>' + (probs.join('<br>') || '<span class="muted">\u2014</span>') + '</td></tr>');
    });
    out.push('</tbody></table>');
    $('captures-body').innerHTML = out.join('');
  }

  renderSummary();
  legend();
  renderTimeline();
  renderGraph();
  renderTable();
  renderCaptures();
  document.body.setAttribute('data-render-ms', String(Math.round(performance.now() - started)));
  document.body.setAttribute('data-rendered', 'true');
})();
