/* The report page (page.html inlines this; docs/html-report.md): reads the
 * payload render_html.c writes into #strobe-data, builds the view of
 * lib/core/view.c (groups of hidden frames, folded recursion, threshold, sort
 * order, one thread or all, or all threads merged) and shows it as a
 * virtualised call tree, an icicle flame graph and a timeline. Program strings
 * go in through textContent, setAttribute or fillText only; trees are flat
 * typed arrays in pre-order, walked in loops (no recursion at any depth).
 *
 * For tests, window.stroboscope: viewRows() is the whole view in pre-order,
 * root first (depth 0, frame -1), however expanded: {depth, frame, label,
 * name, text, file, line, total_ns, self_ns (the chosen time), total_wall_ns,
 * self_wall_ns, total_cpu_ns, self_cpu_ns, samples, hidden_count, recursion};
 * label is a group's label ("json, re") or the function name, as in the JSON
 * report; text is the text report's label. settings() and set(obj) read and
 * change the settings as the controls do; threads() lists the threads as the
 * selector does; fnmatch(name, pattern) is the glob matcher; visibleRows()
 * counts the rows expanded into view; lanes() lists the timeline's lanes,
 * {node (view id; 0: one lane for all), row, rows, leaves (view ids)}. */
(function () {
  'use strict';

  const FLAG_LIBRARY = 1, FLAG_HIDE = 2, FLAG_SHOW = 4;
  const I32 = Int32Array, U32 = Uint32Array, F64 = Float64Array, U8 = Uint8Array;
  const ROW_H = 22, BOX_H = 18, AXIS_H = 22, INDENT_CAP = 24;
  const STORE = 'stroboscope.settings', FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
  const $ = (id) => document.getElementById(id), $$ = (q) => document.querySelectorAll(q);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  /* == payload == */

  const payload = JSON.parse($('strobe-data').textContent);
  const session = payload.session, meta = session.meta;

  /* Bytes to text with one U+FFFD per byte that does not start a well-formed
   * UTF-8 sequence: the rule of the JSON report (lib/core/utf8.h). */
  function utf8(b) {
    let s = '', i = 0;
    while (i < b.length) {
      const c = b[i];
      let n = 0, cp = 0, lo = 0x80, hi = 0xbf, j = 1;
      if (c < 0x80) { s += String.fromCharCode(c); i++; continue; }
      if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
      else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; lo = c === 0xe0 ? 0xa0 : 0x80; hi = c === 0xed ? 0x9f : 0xbf; }
      else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 7; lo = c === 0xf0 ? 0x90 : 0x80; hi = c === 0xf4 ? 0x8f : 0xbf; }
      for (; n && j <= n; j++) {
        const d = b[i + j];
        if (d === undefined || d < (j === 1 ? lo : 0x80) || d > (j === 1 ? hi : 0xbf)) break;
        cp = (cp << 6) | (d & 0x3f);
      }
      if (n && j > n) { s += String.fromCodePoint(cp); i += n + 1; }
      else { s += '\ufffd'; i++; }
    }
    return s;
  }

  function text(v) {
    if (v == null) return null;
    if (typeof v === 'string') return v;
    const h = v[1], b = new U8(h.length >> 1);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
    return utf8(b);
  }

  const strings = session.strings.map(text);
  const nF = session.frames.length;
  const fName = new Array(nF), fFile = new Array(nF);
  const fLine = new I32(nF), fKind = new U8(nF), fLib = new U8(nF);
  session.frames.forEach((r, i) => {
    fName[i] = strings[r[0]]; fFile[i] = strings[r[1]];
    fLine[i] = r[2]; fKind[i] = r[3]; fLib[i] = payload.library[i] === '1' ? 1 : 0;
  });

  const nN = session.nodes.length;
  const tParent = new I32(nN), tFrame = new I32(nN), tLine = new I32(nN);
  const tWall = new F64(nN), tCpu = new F64(nN), tSamples = new F64(nN);
  session.nodes.forEach((r, i) => {
    tParent[i] = r[0] == null ? -1 : r[0]; tFrame[i] = r[1] == null ? -1 : r[1];
    tLine[i] = r[2]; tWall[i] = r[3]; tCpu[i] = r[4]; tSamples[i] = r[5];
  });

  /* == threads == */

  /* An all-threads session puts each thread under a child of the root whose
   * frame is synthetic and named "name (tid N)": session.py's _THREAD_LABEL
   * (re.S; \d matches any Unicode digit in a Python str pattern). */
  const THREAD_RE = /^([\s\S]*) \(tid (\p{Nd}+)\)$/u;
  const threadOf = (f) => fKind[f] === 2 && THREAD_RE.exec(fName[f]);
  /* ViewOptions(thread=which): the name, or the tid, equal. */
  const threadIs = (f, which) => { const m = threadOf(f); return !!m && (m[1] === which || m[2] === which); };

  /* The threads, each with its total times and the key the selector stores:
   * its name when no other thread has it (so the choice carries over to the
   * next run), else its tid. */
  const isThreadRoot = new U8(nF), threads = [];
  {
    const tw = new F64(nN), tc = new F64(nN);
    for (let i = nN - 1; i > 0; i--) {
      const p = tParent[i], f = tFrame[i], m = p === 0 && threadOf(f);
      tw[i] += tWall[i]; tc[i] += tCpu[i]; tw[p] += tw[i]; tc[p] += tc[i];
      if (m) { isThreadRoot[f] = 1; threads.push({ frame: f, name: m[1], tid: m[2], wall_ns: tw[i], cpu_ns: tc[i] }); }
    }
    for (const t of threads) t.key = threads.some((u) => u !== t && u.name === t.name) ? t.tid : t.name;
  }

  /* The frames the view keeps at the top for S.thread (view.c's FOCUS), or
   * null: every thread, as when nothing matches. */
  function focusFrames(which) {
    const focus = new U8(nF).map((_, f) => threadIs(f, which));
    return focus.includes(1) ? focus : null;
  }

  /* The raw tree, or all threads folded into one: thread roots dropped, and
   * children with the same frame under the same (merged) parent made one
   * node, times added, the line the first one had. Parents come before
   * children in both, so one pass in id order does it. of: raw id -> id. */
  const rawTree = { n: nN, parent: tParent, frame: tFrame, line: tLine, wall: tWall, cpu: tCpu, samples: tSamples, of: null };
  let mergedTree = null;
  function merged() {
    if (mergedTree) return mergedTree;
    const I = () => new I32(nN), F = () => new F64(nN), slots = new Map();
    const T = { n: 1, parent: I(), frame: I(), line: I(), wall: F(), cpu: F(), samples: F(), of: I() };
    for (let i = 0; i < nN; i++) {
      let v = 0;
      if (i > 0 && !(tParent[i] === 0 && isThreadRoot[tFrame[i]])) {
        const p = T.of[tParent[i]], key = p * (nF + 1) + tFrame[i];
        v = slots.get(key);
        if (v === undefined) {
          v = T.n++; slots.set(key, v);
          T.parent[v] = p; T.frame[v] = tFrame[i]; T.line[v] = tLine[i];
        }
      }
      T.of[i] = v; T.wall[v] += tWall[i]; T.cpu[v] += tCpu[i]; T.samples[v] += tSamples[i];
    }
    return (mergedTree = T);
  }

  /* == patterns == */

  /* Python 3.11's fnmatch.translate, to a JavaScript RegExp (flags s, u):
   * * ? [seq] [!seq], everything else literal, whole-string match. */
  function globRegExp(pat) {
    const p = Array.from(pat), n = p.length, out = [];
    const esc = (c) => /[\\^$.*+?()[\]{}|\/-]/.test(c) ? '\\' + c : c;
    const escSet = (cs) => cs.map((c) => /[\\\]\[^-]/.test(c) ? '\\' + c : c).join('');
    const cp = (c) => c.codePointAt(0);
    let i = 0;
    while (i < n) {
      const c = p[i++];
      if (c === '*') { if (out[out.length - 1] !== '.*') out.push('.*'); continue; }
      if (c === '?') { out.push('.'); continue; }
      if (c !== '[') { out.push(esc(c)); continue; }
      let j = i;
      if (j < n && p[j] === '!') j++;
      if (j < n && p[j] === ']') j++;
      while (j < n && p[j] !== ']') j++;
      if (j >= n) { out.push('\\['); continue; }
      let stuff;
      if (p.slice(i, j).indexOf('-') < 0) {
        stuff = escSet(p.slice(i, j));
      } else {
        const chunks = [];
        let k = p[i] === '!' ? i + 2 : i + 1;
        for (;;) {
          while (k < j && p[k] !== '-') k++;
          if (k >= j) break;
          chunks.push(p.slice(i, k)); i = k + 1; k = k + 3;
        }
        const chunk = p.slice(i, j);
        if (chunk.length) chunks.push(chunk); else chunks[chunks.length - 1].push('-');
        for (let m = chunks.length - 1; m > 0; m--) {
          const a = chunks[m - 1], b = chunks[m];
          if (cp(a[a.length - 1]) > cp(b[0])) { chunks[m - 1] = a.slice(0, -1).concat(b.slice(1)); chunks.splice(m, 1); }
        }
        stuff = chunks.map(escSet).join('-');
      }
      i = j + 1;
      if (!stuff) out.push('(?!)');
      else if (stuff === '!') out.push('.');
      else out.push('[' + (stuff[0] === '!' ? '^' + stuff.slice(1) : stuff) + ']');
    }
    return new RegExp('^(?:' + out.join('') + ')$', 'su');
  }

  function fnmatch(name, pat) { return globRegExp(pat).test(name); }

  /* Compiles one list of patterns; marks the input that holds a bad one. */
  function compile(list, glob, input) {
    const res = [], bad = [];
    for (const p of list) {
      try { res.push(glob ? globRegExp(p) : new RegExp(p)); } catch (e) { bad.push(p + ': ' + e.message); }
    }
    if (input) {
      input.classList.toggle('bad', bad.length > 0);
      if (bad.length) input.setAttribute('title', bad.join('\n')); else input.removeAttribute('title');
    }
    return res;
  }

  /* The settings that hold patterns; each has its text box, #f-hide... */
  const LISTS = ['hide', 'show', 'hide_regex', 'show_regex'];

  /* One flag byte per frame, as ViewOptions.frame_flags (session.py) does. */
  function frameFlags(s, inputs) {
    const [hide, show] = ['hide', 'show'].map((k) =>
      compile(s[k], true, inputs[k]).concat(compile(s[k + '_regex'], false, inputs[k + '_regex'])));
    const flags = new U8(nF);
    for (let f = 0; f < nF; f++) {
      const file = fFile[f];
      let fl = fLib[f] ? FLAG_LIBRARY : 0;
      if (hide.some((r) => r.test(file))) fl |= FLAG_HIDE;
      if (show.some((r) => r.test(file))) fl |= FLAG_SHOW;
      flags[f] = fl;
    }
    return flags;
  }

  /* == the view: lib/core/view.c, step by step == */

  /* The short library name of a frame, for group labels (view.c short_name). */
  function shortName(f) {
    const name = fName[f], file = fFile[f];
    if (fKind[f] !== 0 || file === '') {
      const dot = name.indexOf('.');
      return dot >= 0 && fKind[f] !== 2 ? name.slice(0, dot) : name;
    }
    let site = null, std = null, last = null, prev = null, afterSite = false, afterStd = false;
    for (const c of file.split(/[/\\]/)) {
      if (!c) continue;
      prev = last; last = c;
      if (afterSite) site = c;
      if (afterStd) std = c;
      afterSite = c === 'site-packages' || c === 'dist-packages';
      afterStd = std === null && c.length > 6 && c.startsWith('python') && c[6] >= '0' && c[6] <= '9';
    }
    let best = site !== null ? site : std !== null ? std
      : last !== null && prev !== null && last === '__init__.py' ? prev : last !== null ? last : file;
    if (best.length > 3 && best.endsWith('.py')) best = best.slice(0, -3);
    return best;
  }

  /* T: the tree to fold (rawTree or merged()); focus: focusFrames(). */
  function buildView(flags, o, T, focus) {
    const { n: nN, parent: tParent, frame: tFrame, line: tLine, wall: tWall, cpu: tCpu, samples: tSamples } = T;
    const cap = nN + 1, K = 2 * nF + 2;
    const bp = new I32(cap), bf = new I32(cap), bl = new I32(cap);
    const bh = new U32(cap), br = new U32(cap), bg = new I32(cap);
    const sw = new F64(cap), sc = new F64(cap), ss = new F64(cap);
    const map = new I32(nN), run = new U32(nN), slots = new Map(), groups = [];
    const hidden = (f) => !o.show_all && !(flags[f] & FLAG_SHOW) && (flags[f] & (FLAG_LIBRARY | FLAG_HIDE)) !== 0;
    const addName = (g, f) => {
      const gi = groups[g], s = shortName(f);
      if (!s || gi.names.indexOf(s) >= 0) return;
      if (gi.names.length === 4) gi.more = true; else gi.names.push(s);
    };
    let count = 1;
    bp[0] = -1; bf[0] = -1; bg[0] = -1;
    for (let i = 0; i < nN; i++) {
      let v = 0;
      if (i === 0) run[0] = 1;
      else if (map[tParent[i]] < 0 || (focus && tParent[i] === 0 && !focus[tFrame[i]])) {
        /* not in focus, nor its subtree */
        map[i] = -1;
        continue;
      } else {
        const tp = tParent[i], f = tFrame[i], p = map[tp], hid = hidden(f);
        run[i] = 1;
        if (o.collapse_recursion && p !== 0 && bh[p] === 0 && bf[p] === f) {
          v = p; run[i] = run[tp] + 1;
          if (run[i] > br[v]) br[v] = run[i];
        } else if (hid && bh[p] > 0) {
          v = p; bh[v]++; addName(bg[v], f);
        } else {
          const key = p * K + f * 2 + (hid ? 1 : 0);
          v = slots.get(key);
          if (v === undefined) {
            v = count++; slots.set(key, v);
            bp[v] = p; bf[v] = f; bl[v] = tLine[i]; br[v] = 1; bg[v] = -1;
            if (hid) { bh[v] = 1; bg[v] = groups.length; groups.push({ names: [], more: false }); }
          } else if (hid) bh[v]++;
          if (hid) addName(bg[v], f);
        }
      }
      map[i] = v; sw[v] += tWall[i]; sc[v] += tCpu[i]; ss[v] += tSamples[i];
    }
    const tw = sw.slice(0, count), tc = sc.slice(0, count), ts = ss.slice(0, count);
    for (let i = count - 1; i > 0; i--) { const p = bp[i]; tw[p] += tw[i]; tc[p] += tc[i]; ts[p] += ts[i]; }

    const tot = o.time === 'cpu' ? tc : tw, limit = o.threshold / 100 * tot[0];
    const keep = new U8(count), ent = [];
    keep[0] = 1;
    for (let i = 1; i < count; i++) {
      if (keep[bp[i]] && (o.show_all || !(tot[i] < limit))) { keep[i] = 1; ent.push(i); }
    }
    ent.sort((a, b) => bp[a] - bp[b] || tot[b] - tot[a] || bf[a] - bf[b] ||
      (bh[a] > 0) - (bh[b] > 0) || a - b);
    const first = new I32(count), nch = new U32(count);
    ent.forEach((e, k) => { if (nch[bp[e]]++ === 0) first[bp[e]] = k; });

    const n = ent.length + 1, V = {
      n, parent: new I32(n), frame: new I32(n), line: new I32(n),
      hidden: new U32(n), rec: new U32(n), depth: new U32(n),
      end: new U32(n), tw: new F64(n), sw: new F64(n),
      tc: new F64(n), sc: new F64(n), samples: new F64(n),
      glabel: [], key: new I32(n), maxDepth: 0, flags,
      map, of: T.of, bp, newId: new I32(count).fill(-1),
    };
    const stack = new I32(count);
    let sp = 0, next = 0;
    stack[sp++] = 0;
    while (sp > 0) {
      const old = stack[--sp], id = next++;
      V.newId[old] = id;
      V.parent[id] = old === 0 ? -1 : V.newId[bp[old]];
      V.depth[id] = old === 0 ? 0 : V.depth[V.parent[id]] + 1;
      if (V.depth[id] > V.maxDepth) V.maxDepth = V.depth[id];
      V.frame[id] = bf[old]; V.line[id] = bl[old]; V.hidden[id] = bh[old]; V.rec[id] = br[old];
      V.tw[id] = tw[old]; V.sw[id] = sw[old]; V.tc[id] = tc[old]; V.sc[id] = sc[old]; V.samples[id] = ts[old];
      if (bh[old]) {
        const g = groups[bg[old]];
        V.glabel[id] = (g.names.join(', ') + (g.more ? ', ...' : '')).replace(/\0/g, '?');
      }
      V.key[id] = old === 0 ? 0 : stableKey(V.key[V.parent[id]], bf[old], bh[old] > 0);
      for (let c = nch[old]; c > 0; c--) stack[sp++] = ent[first[old] + c - 1];
    }
    for (let i = 0; i < n; i++) V.end[i] = i + 1;
    for (let i = n - 1; i > 0; i--) { const p = V.parent[i]; if (V.end[i] > V.end[p]) V.end[p] = V.end[i]; }
    const cpu = o.time === 'cpu';
    V.tot = cpu ? V.tc : V.tw; V.self = cpu ? V.sc : V.sw;
    return V;
  }

  /* Keys that survive rebuilding the view (expansion, zoom, selection). */
  const keyIds = new Map();
  function stableKey(parentKey, frame, group) {
    const k = parentKey + (group ? 'g' : ':') + frame;
    let id = keyIds.get(k);
    if (id === undefined) { id = keyIds.size + 1; keyIds.set(k, id); }
    return id;
  }

  /* == labels and numbers == */

  function fileLine(i) {
    const f = V.frame[i];
    if (!fFile[f]) return '';
    const line = fLine[f] ? fLine[f] : V.line[i];
    return line > 0 ? fFile[f] + ':' + line : fFile[f];
  }

  /* The text report's label (render_text.c render_label), without escapes. */
  function labelText(i) {
    if (i === 0) return '';
    const h = V.hidden[i];
    if (h) {
      const g = V.glabel[i];
      return '[' + h + ' frame' + (h === 1 ? '' : 's') + ' hidden]' + (g ? '  ' + g : '') + ' (' + fName[V.frame[i]] + ')';
    }
    const fl = fileLine(i);
    return fName[V.frame[i]] + (fl ? '  ' + fl : '') + (V.rec[i] > 1 ? ' (recursion \u00d7' + V.rec[i] + ')' : '');
  }

  function fmtTime(ns) {
    const s = ns / 1e9;
    if (s >= 100) return s.toFixed(1) + ' s';
    if (s >= 1) return s.toFixed(3) + ' s';
    if (s >= 1e-3) return (s * 1e3).toFixed(1) + ' ms';
    if (ns <= 0) return '0';
    return (s * 1e6).toFixed(0) + ' \u00b5s';
  }
  const pct = (x) => (x >= 99.95 ? x.toFixed(0) : x.toFixed(1)) + '%';
  const share = (i) => V.tot[0] > 0 ? 100 * V.tot[i] / V.tot[0] : 0;
  const waitNs = (i) => Math.max(0, V.tw[i] - V.tc[i]);

  /* == settings == */

  const defaults = payload.options || {};
  const S = {
    time: defaults.time === 'cpu' ? 'cpu' : 'wall',
    threshold: typeof defaults.threshold === 'number' ? defaults.threshold : 1,
    show_all: !!defaults.show_all,
    collapse_recursion: defaults.collapse_recursion !== false,
    /* thread: null (every thread, each under its root) or a name or tid;
     * merge_threads: all threads folded into one tree (thread is then null). */
    thread: typeof defaults.thread === 'string' ? defaults.thread : null,
    merge_threads: false,
    tab: 'tree',
  };
  for (const k of LISTS) S[k] = (defaults[k] || []).slice();
  const SAVED = Object.keys(S).filter((k) => k !== 'collapse_recursion');

  const lines = (s) => s.split('\n').map((x) => x.replace(/\r$/, '')).filter((x) => x !== '');

  function loadSettings() {
    let saved = null;
    try { saved = JSON.parse(window.localStorage.getItem(STORE) || 'null'); } catch (e) { saved = null; }
    if (!saved || typeof saved !== 'object') return;
    for (const k of defaults.explicit ? ['tab'] : SAVED) {
      const v = saved[k];
      if (k === 'thread' && (v === null || typeof v === 'string')) { S.thread = v; continue; }
      if (v === undefined || typeof v !== typeof S[k] || Array.isArray(v) !== Array.isArray(S[k])) continue;
      S[k] = Array.isArray(v) ? v.filter((x) => typeof x === 'string') : v;
    }
    if (S.time !== 'cpu') S.time = 'wall';
    if (!(S.threshold >= 0 && S.threshold <= 100)) S.threshold = 1;
  }

  /* A thread this session does not have means every thread. */
  function checkThread() {
    if (!threads.length) S.merge_threads = false;
    if (S.merge_threads || !threads.some((t) => threadIs(t.frame, S.thread))) S.thread = null;
  }

  function saveSettings() {
    const out = {};
    for (const k of SAVED) out[k] = S[k];
    try { window.localStorage.setItem(STORE, JSON.stringify(out)); } catch (e) { /* file:// may forbid it */ }
  }

  /* == state == */

  let V = null, flags = null, flagsFor = '';
  /* expanded: stable keys of expanded nodes; vis: call-tree rows on screen,
   * view ids; timer: typed input not yet applied; viewThread: the threads
   * the view shows. */
  let expanded = new Set(), vis = new I32(0), viewThread;
  let selKey = 0, query = '', hits = null, hitList = [], hitAt = -1;
  let zoomKey = 0, timer = 0;

  function rebuild() {
    const pk = JSON.stringify(LISTS.map((k) => S[k]));
    if (pk !== flagsFor) {
      flags = frameFlags(S, ui.inputs);
      flagsFor = pk;
    }
    const first = V === null, tk = S.merge_threads ? '\u0000' : S.thread;
    V = buildView(flags, S, S.merge_threads ? merged() : rawTree, focusFrames(S.thread));
    if (first || tk !== viewThread) expandDefault();
    viewThread = tk; tlData = tlGrid = null;
    findHits();
    refresh();
  }

  /* Opens the paths that hold most of the time, as a first look. */
  function expandDefault() {
    const root = V.tot[0];
    for (let i = 0; i < V.n; i++) {
      if (i === 0 || V.tot[i] >= 0.2 * root) expanded.add(V.key[i]);
    }
  }

  const isOpen = (i) => i === 0 || expanded.has(V.key[i]);
  const hasKids = (i) => V.end[i] > i + 1;

  function computeVisible() {
    const out = new I32(V.n);
    let m = 0, i = 1;
    while (i < V.n) {
      out[m++] = i;
      i = isOpen(i) ? i + 1 : V.end[i];
    }
    vis = out.subarray(0, m);
  }

  function findHits() {
    hits = null; hitList = []; hitAt = -1;
    const q = query.toLowerCase();
    if (q) {
      hits = new U8(V.n);
      const seen = new U8(V.n);
      for (let i = 1; i < V.n; i++) {
        const f = V.frame[i];
        const hay = V.hidden[i] ? labelText(i) : fName[f] + '\u0000' + fFile[f];
        if (hay.toLowerCase().indexOf(q) < 0) continue;
        hits[i] = 1; hitList.push(i);
        for (let p = V.parent[i]; p > 0 && !seen[p]; p = V.parent[p]) { seen[p] = 1; expanded.add(V.key[p]); }
      }
    }
    ui.hits.textContent = q ? hitList.length + (hitList.length === 1 ? ' match' : ' matches') : '';
  }

  /* == the call tree == */

  const ui = {
    rows: $('rows'), spacer: $('rows').firstElementChild, hits: $('hits'), tip: $('tip'),
    inputs: Object.fromEntries(LISTS.map((k) => [k, $('f-' + k.replace('_', '-'))])),
  };

  function selected() {
    if (!selKey) return -1;
    for (let k = 0; k < vis.length; k++) if (V.key[vis[k]] === selKey) return k;
    return -1;
  }

  function renderRows() {
    const box = ui.rows, top = box.scrollTop, h = box.clientHeight;
    ui.spacer.style.height = vis.length * ROW_H + 'px';
    const a = Math.max(0, Math.floor(top / ROW_H) - 5), b = Math.min(vis.length, Math.ceil((top + h) / ROW_H) + 5);
    const frag = document.createDocumentFragment();
    let active = null;
    for (let k = a; k < b; k++) {
      const i = vis[k], row = rowFor(i);
      row.style.top = k * ROW_H + 'px';
      row.id = 'row-' + k;
      row.dataset.k = k;
      if (V.key[i] === selKey) { row.classList.add('sel'); row.setAttribute('aria-selected', 'true'); active = row.id; }
      frag.append(row);
    }
    ui.spacer.replaceChildren(frag);
    if (active) box.setAttribute('aria-activedescendant', active); else box.removeAttribute('aria-activedescendant');
    $('empty').hidden = V.tot[0] > 0;
  }

  function rowFor(i) {
    const row = el('div', 'row'), f = V.frame[i], d = V.depth[i];
    row.setAttribute('role', 'treeitem');
    row.setAttribute('aria-level', d);
    if (hasKids(i)) row.setAttribute('aria-expanded', isOpen(i) ? 'true' : 'false');
    if (hits && hits[i]) row.classList.add('hit');
    const sh = share(i), w = V.tw[0] > 0 ? 100 * waitNs(i) / V.tw[0] : 0;
    const bar = el('span', 'share'), fill = el('span', 'fill');
    fill.style.width = Math.min(100, sh) + '%';
    bar.append(fill, el('span', 'pct', pct(sh)));
    const wait = el('span', 'num wait', w >= 0.05 ? pct(w) : '');
    if (w >= 10) wait.classList.add('hot');
    const name = el('span', 'name');
    name.style.paddingLeft = Math.min(d - 1, INDENT_CAP) * 13 + 'px';
    name.append(el('span', 'tw', hasKids(i) ? (isOpen(i) ? '\u25be' : '\u25b8') : ''));
    if (d - 1 > INDENT_CAP) name.append(el('span', 'tag dp', 'depth ' + d));
    if (V.hidden[i]) {
      name.append(el('span', 'group', labelText(i)));
    } else {
      const app = fKind[f] === 0 && !(V.flags[f] & FLAG_LIBRARY);
      name.append(el('span', app ? 'fn app' : fKind[f] === 1 ? 'fn c' : 'fn', fName[f]));
      const fl = fileLine(i);
      if (fl) name.append(el('span', 'file', fl));
      if (V.rec[i] > 1) name.append(el('span', 'tag', 'recursion \u00d7' + V.rec[i]));
    }
    row.append(el('span', 'num', fmtTime(V.tot[i])), bar, el('span', 'num dim', fmtTime(V.self[i])), wait, name);
    row.setAttribute('title', nodeLines(i).join('\n'));
    return row;
  }

  function refreshTree() { computeVisible(); renderRows(); }

  function select(k, scroll) {
    if (k < 0 || k >= vis.length) return;
    selKey = V.key[vis[k]];
    if (scroll) {
      const box = ui.rows, y = k * ROW_H;
      if (y < box.scrollTop) box.scrollTop = y;
      else if (y + ROW_H > box.scrollTop + box.clientHeight) box.scrollTop = y + ROW_H - box.clientHeight;
    }
    renderRows();
  }

  /* Opens or closes i; deep: its whole subtree, opened unless it already
   * is open all the way down. */
  function toggle(i, deep) {
    if (!hasKids(i)) return;
    if (deep) {
      let full = true;
      for (let j = i; j < V.end[i] && full; j++) full = !hasKids(j) || isOpen(j);
      setTree(i, !full);
    } else setOpen(i, !isOpen(i));
    refreshTree();
  }
  function setOpen(i, open) { if (open) expanded.add(V.key[i]); else expanded.delete(V.key[i]); }
  function setTree(i, open) { for (let j = i; j < V.end[i]; j++) if (hasKids(j)) setOpen(j, open); }

  ui.rows.addEventListener('click', (ev) => {
    const row = ev.target.closest('.row');
    if (!row) return;
    const k = +row.dataset.k;
    selKey = V.key[vis[k]];
    toggle(vis[k], ev.altKey);
    renderRows();
  });
  ui.rows.addEventListener('scroll', renderRows);
  ui.rows.addEventListener('keydown', (ev) => {
    let k = selected();
    const i = k >= 0 ? vis[k] : -1, page = Math.max(1, Math.floor(ui.rows.clientHeight / ROW_H) - 1);
    switch (ev.key) {
      case 'ArrowDown': k = Math.min(vis.length - 1, k + 1); break;
      case 'ArrowUp': k = Math.max(0, k - 1); break;
      case 'PageDown': k = Math.min(vis.length - 1, k + page); break;
      case 'PageUp': k = Math.max(0, k - page); break;
      case 'Home': k = 0; break;
      case 'End': k = vis.length - 1; break;
      case 'ArrowRight':
        if (i < 0) { k = 0; break; }
        if (ev.altKey) { setTree(i, true); refreshTree(); }
        else if (hasKids(i) && !isOpen(i)) toggle(i, false);
        else if (hasKids(i)) k++;
        break;
      case 'ArrowLeft':
        if (i < 0) { k = 0; break; }
        if (ev.altKey) { setTree(i, false); refreshTree(); }
        else if (hasKids(i) && isOpen(i)) toggle(i, false);
        else if (V.parent[i] > 0) { const p = V.parent[i]; computeVisible(); k = vis.indexOf(p); }
        break;
      case 'Enter': case ' ':
        if (i >= 0) toggle(i, ev.altKey);
        break;
      default: return;
    }
    ev.preventDefault();
    select(Math.max(0, k), true);
  });

  /* == canvases (flame graph, timeline) == */

  /* A canvas that stays in view while its box scrolls over `height` pixels,
   * its tooltip hidden when the pointer leaves. */
  function canvasPane(box, draw) {
    const cv = box.querySelector('canvas'), spacer = box.querySelector('.spacer');
    const pane = { box, cv, ctx: cv.getContext('2d'), height: 0 };
    pane.draw = () => {
      const dpr = window.devicePixelRatio || 1, w = box.clientWidth, h = box.clientHeight;
      if (!w || !h) return;
      if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
        cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
        cv.style.width = w + 'px'; cv.style.height = h + 'px';
      }
      spacer.style.height = Math.max(0, pane.height - h) + 'px';
      const c = pane.ctx;
      c.setTransform(dpr, 0, 0, dpr, 0, 0);
      c.clearRect(0, 0, w, h);
      c.font = FONT;
      c.textBaseline = 'middle';
      draw(c, w, h, box.scrollTop);
    };
    box.addEventListener('scroll', () => pane.draw());
    cv.addEventListener('mouseleave', hideTip);
    return pane;
  }

  const colorCache = new Map();
  function color(i) {
    if (i === 0) return '#c3cad5';
    if (V.hidden[i]) return '#cfd4dc';
    const f = V.frame[i], kind = fKind[f], lib = V.flags[f] & FLAG_LIBRARY;
    const key = f * 4 + (lib ? 1 : 0);
    let c = colorCache.get(key);
    if (c === undefined) {
      let h = 2166136261;
      for (let k = 0; k < fName[f].length; k++) h = Math.imul(h ^ fName[f].charCodeAt(k), 16777619);
      h >>>= 0;
      const l = 70 + (h >>> 8) % 12;
      c = kind === 1 ? `hsl(${140 + h % 40},42%,${l}%)` : kind === 2 ? `hsl(${260 + h % 30},35%,${l}%)`
        : lib ? `hsl(${195 + h % 30},50%,${l}%)` : `hsl(${15 + h % 35},85%,${l - 4}%)`;
      colorCache.set(key, c);
    }
    return c;
  }

  let charW = 6.6;
  function fitText(c, s, x, y, w) {
    const max = Math.floor((w - 8) / charW);
    if (max < 3) return;
    c.fillText(s.length > max ? s.slice(0, max - 1) + '\u2026' : s, x + 4, y);
  }
  /* A box of the flame graph or the timeline: its colour, or yellow if a
   * search finds it and grey if it finds others; its label if it fits. */
  function drawBox(c, i, x, y, w) {
    c.fillStyle = hits && hits[i] ? '#ffd54a' : hits && i ? '#e9ebef' : color(i);
    c.fillRect(x, y, w > 2 ? w - 0.5 : Math.max(0.5, w), BOX_H - 1);
    if (w > 24) { c.fillStyle = '#1d232b'; fitText(c, boxLabel(i), x, y + BOX_H / 2, w); }
  }
  const boxLabel = (i) => i === 0 ? 'all (' + fmtTime(V.tot[0]) + ')' : V.hidden[i] ? labelText(i) : fName[V.frame[i]];

  function showTip(ev, lines) {
    const t = ui.tip;
    t.replaceChildren();
    lines.forEach((s, k) => t.append(el('div', k === 0 ? 'b' : '', s)));
    t.hidden = false;
    const x = Math.min(ev.clientX + 14, window.innerWidth - t.offsetWidth - 8);
    const y = ev.clientY + 18 + t.offsetHeight > window.innerHeight ? ev.clientY - t.offsetHeight - 10 : ev.clientY + 18;
    t.style.left = Math.max(4, x) + 'px'; t.style.top = Math.max(4, y) + 'px';
  }
  const hideTip = () => { ui.tip.hidden = true; };

  function nodeLines(i) {
    if (i === 0) return ['all', fmtTime(V.tot[0]) + ' ' + S.time];
    const fl = V.hidden[i] ? '' : fileLine(i);
    const out = [V.hidden[i] ? labelText(i) : fName[V.frame[i]]];
    if (fl) out.push(fl);
    out.push(fmtTime(V.tot[i]) + ' ' + (S.time === 'cpu' ? 'CPU' : 'wall') + ' (' + pct(share(i)) + '), self ' + fmtTime(V.self[i]));
    out.push('waiting (wall \u2212 CPU) ' + fmtTime(waitNs(i)) + ', ' + V.samples[i] + ' samples');
    if (V.rec[i] > 1) out.push('recursion \u00d7' + V.rec[i]);
    return out;
  }

  /* The flame graph: an icicle, root at the top, widths by the chosen time. */
  let flameX = null, flameBoxes = [];
  const flame = canvasPane($('flame-box'), (c, w, h, top) => {
    const z = zoomNode(), scale = V.tot[z] > 0 ? w / V.tot[z] : 0, x0 = flameX[z];
    const d0 = Math.floor(top / BOX_H), d1 = Math.ceil((top + h) / BOX_H);
    flameBoxes = [];
    let i = 0;
    while (i < V.n) {
      const d = V.depth[i], x = (flameX[i] - x0) * scale, bw = V.tot[i] * scale;
      if (d > d1 || bw < 0.4 || x >= w || x + bw <= 0) { i = V.end[i]; continue; }
      if (d >= d0) {
        const bx = Math.max(0, x), bx1 = Math.min(w, x + bw), y = d * BOX_H - top;
        drawBox(c, i, bx, y, bx1 - bx);
        flameBoxes.push([i, bx, y, bx1]);
      }
      i++;
    }
  });

  function layoutFlame() {
    flameX = new F64(V.n);
    const next = new F64(V.n);
    for (let i = 1; i < V.n; i++) {
      const p = V.parent[i];
      flameX[i] = flameX[p] + next[p];
      next[p] += V.tot[i];
    }
    flame.height = (V.maxDepth + 1) * BOX_H + 4;
  }

  function zoomNode() {
    if (!zoomKey) return 0;
    for (let i = 0; i < V.n; i++) if (V.key[i] === zoomKey) return i;
    zoomKey = 0;
    return 0;
  }

  function renderCrumbs() {
    const box = $('crumbs'), z = zoomNode(), chain = [];
    for (let i = z; i >= 0; i = V.parent[i]) chain.push(i);
    chain.reverse();
    box.replaceChildren();
    chain.forEach((i, k) => {
      if (chain.length > 10 && k > 2 && k < chain.length - 6) { if (k === 3) box.append(el('span', 'sep', '\u2026')); return; }
      if (k > 0) box.append(el('span', 'sep', '\u203a'));
      const b = el('button', i === z ? 'crumb cur' : 'crumb', i === 0 ? 'all' : boxLabel(i));
      b.addEventListener('click', () => { zoomKey = V.key[i]; drawFlame(); });
      box.append(b);
    });
  }

  function drawFlame() { renderCrumbs(); flame.draw(); }

  function flameHit(ev) {
    const r = flame.cv.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    for (const b of flameBoxes) if (x >= b[1] && x < b[3] && y >= b[2] && y < b[2] + BOX_H) return b[0];
    return -1;
  }
  flame.cv.addEventListener('mousemove', (ev) => { const i = flameHit(ev); if (i < 0) hideTip(); else showTip(ev, nodeLines(i)); });
  flame.cv.addEventListener('click', (ev) => {
    const i = flameHit(ev);
    if (i < 0) return;
    zoomKey = V.key[i];
    drawFlame();
  });

  /* The timeline: the stack of each moment, time across, depth down. With
   * every thread in view ("All threads" of an all-threads session), one lane
   * per thread, busiest first as in the tree: a row with its name, then its
   * stacks, as deep as its deepest. */
  const TL = session.timeline;
  let tlRange = null, tlW = 0, tlGrid = null, tlR0 = 0, tlData = null;
  const tlEnd = TL ? Math.max(meta.duration_ns, ...TL.times.slice(-1).map((t) => t + TL.stride * meta.interval_ns)) : 0;

  /* {lanes, rows}: each lane {node (its thread's top-level view node, or 0:
   * one lane for all), row (its first), rows (its depth d on row + d - 1),
   * t, leaf}: the times and view nodes of its samples (a chosen thread's
   * only); a leaf under the threshold shows as its nearest kept ancestor. */
  function tlLanes() {
    if (tlData) return tlData;
    const lane = new I32(V.n), lanes = [];
    let rows = 0;
    const add = (node) => {
      let d = 0;
      for (let j = node; j < V.end[node]; j++) { lane[j] = lanes.length; d = Math.max(d, V.depth[j]); }
      lanes.push({ node, row: rows, rows: d, t: [], leaf: [] });
      rows += d;
    };
    if (threads.length && S.thread == null && !S.merge_threads) {
      lane[0] = -1;
      for (let i = 1; i < V.n; i = V.end[i]) add(i);
    } else add(0);
    for (let k = 0; k < TL.times.length; k++) {
      const raw = TL.nodes[k];
      let b = V.map[V.of ? V.of[raw] : raw];
      if (b < 0) continue;
      while (V.newId[b] < 0) b = V.bp[b];
      const L = lanes[lane[V.newId[b]]];
      if (L) { L.t.push(TL.times[k]); L.leaf.push(V.newId[b]); }
    }
    return (tlData = { lanes, rows });
  }

  /* A sample's wall time is the time since the sample before it (of its
   * thread), so sample k of a lane stands for the moments from the one
   * before it to t[k]. L.cols: the leaf of each pixel column, or -1. */
  function tlColumns(L, w) {
    const [t0, t1] = tlRange, { t: times, leaf } = L, step = TL.stride * meta.interval_ns;
    const cols = L.cols = new I32(w).fill(-1);
    let k = 0;
    for (let c = 0; c < w; c++) {
      const t = t0 + (c + 0.5) * (t1 - t0) / w;
      while (k < times.length && times[k] < t) k++;
      if (k < times.length && t >= (k > 0 ? times[k - 1] : times[0] - step)) cols[c] = leaf[k];
    }
  }

  /* Draws the rows on screen only: tlGrid holds their view nodes, from row tlR0. */
  const timeline = canvasPane($('tl-box'), (c, w, h, top) => {
    const r0 = Math.max(0, Math.floor((top - AXIS_H) / BOX_H)), n = Math.ceil(h / BOX_H) + 2;
    const grid = tlGrid = new I32(n * w).fill(-1);
    tlW = w; tlR0 = r0;
    for (const L of tlLanes().lanes) {
      tlColumns(L, w);
      /* The lane's depths on screen, a to b. */
      const a = Math.max(1, r0 - L.row + 1), b = Math.min(L.rows, r0 + n - L.row), cols = L.cols;
      if (a > b) continue;
      const g = (d) => (L.row + d - 1 - r0) * w;
      for (let x = 0; x < w; x++) {
        const leaf = cols[x];
        if (leaf < 0) continue;
        if (x > 0 && cols[x - 1] === leaf) { for (let d = a; d <= b; d++) grid[g(d) + x] = grid[g(d) + x - 1]; continue; }
        let i = leaf;
        while (V.depth[i] > b) i = V.parent[i];
        for (; i > L.node && V.depth[i] >= a; i = V.parent[i]) grid[g(V.depth[i]) + x] = i;
      }
      /* The label row: the thread's box, the whole width. */
      if (L.node && a === 1) drawBox(c, L.node, 0, AXIS_H + L.row * BOX_H - top, w);
    }
    for (let r = 0; r < n; r++) {
      const y = AXIS_H + (r0 + r) * BOX_H - top;
      for (let x = 0; x < w;) {
        const i = grid[r * w + x];
        let e = x + 1;
        while (e < w && grid[r * w + e] === i) e++;
        if (i > 0) drawBox(c, i, x, y, e - x);
        x = e;
      }
    }
    /* The time axis, drawn last so it stays on top while scrolling. */
    const [t0, t1] = tlRange, span = t1 - t0;
    c.fillStyle = '#fff'; c.fillRect(0, 0, w, AXIS_H);
    c.fillStyle = '#d5d9e0'; c.fillRect(0, AXIS_H - 1, w, 1);
    const raw = span / Math.max(1, w / 110), mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || mag * 10;
    c.fillStyle = '#5b6573';
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const x = (t - t0) / span * w;
      c.fillRect(x, AXIS_H - 6, 1, 5);
      c.fillText(fmtTime(t), x + 3, AXIS_H / 2 - 2);
    }
  });

  /* What is under the pointer: its column x, time t, lane L (the one lane
   * at any height), the lane's leaf at t and the box at the pointer, or -1. */
  function tlHit(ev) {
    const r = timeline.cv.getBoundingClientRect(), x = Math.floor(ev.clientX - r.left), y = ev.clientY - r.top;
    if (!tlGrid || x < 0 || x >= tlW) return null;
    const t = tlRange[0] + (x + 0.5) * (tlRange[1] - tlRange[0]) / tlW;
    const row = Math.floor((y + timeline.box.scrollTop - AXIS_H) / BOX_H);
    const L = tlData.lanes.find((l) => !l.node || y >= AXIS_H && row >= l.row && row < l.row + l.rows);
    return { x, t, L, leaf: L ? L.cols[x] : -1, at: L && y >= AXIS_H ? tlGrid[(row - tlR0) * tlW + x] : -1 };
  }
  let drag = null;
  timeline.cv.addEventListener('mousemove', (ev) => {
    const hit = tlHit(ev);
    if (drag !== null && hit) {
      const sel = $('tl-sel');
      sel.hidden = false;
      sel.style.left = Math.min(drag.x, hit.x) + 'px'; sel.style.width = Math.abs(hit.x - drag.x) + 'px';
    }
    if (!hit || hit.leaf < 0) { hideTip(); return; }
    const lines = ['at ' + fmtTime(hit.t) + (hit.L.node ? ' in ' + boxLabel(hit.L.node) : ''), ...nodeLines(hit.leaf)];
    if (hit.at > 0 && hit.at !== hit.leaf) lines.push('under the pointer: ' + boxLabel(hit.at));
    showTip(ev, lines);
  });
  timeline.cv.addEventListener('mousedown', (ev) => { const hit = tlHit(ev); if (hit) drag = hit; });
  window.addEventListener('mouseup', (ev) => {
    if (drag === null) return;
    const hit = tlHit(ev), a = drag;
    drag = null; $('tl-sel').hidden = true;
    if (hit && Math.abs(hit.t - a.t) > 0 && Math.abs(hit.x - a.x) > 3) {
      tlRange = [Math.min(a.t, hit.t), Math.max(a.t, hit.t)];
      timeline.draw();
    }
  });
  $('tl-reset').addEventListener('click', () => { tlRange = [0, tlEnd]; timeline.draw(); });

  /* == header and controls == */

  function header() {
    const dur = meta.duration_ns / 1e9, cpu = meta.cpu_ns / 1e9, iv = meta.interval_ns;
    const t = meta.start_time * 1000, d = new Date(t - new Date(t).getTimezoneOffset() * 6e4);
    $('target').textContent = text(meta.target) || '';
    const items = [
      ['Date', d.toISOString().slice(0, 19).replace('T', ' ')],
      ['Duration', dur.toFixed(3) + ' s'],
      ['Samples', String(meta.sample_count)],
      ['Rate', dur > 0 ? Math.round(meta.sample_count / dur) + '/s' : '\u2013'],
      ['Interval', iv >= 1e6 ? (iv / 1e6).toFixed(1) + ' ms' : (iv / 1e3).toFixed(0) + ' \u00b5s'],
      ['CPU', cpu.toFixed(3) + ' s' + (dur > 0 ? ' (' + Math.round(100 * cpu / dur) + '%)' : '')],
      ['Python', text(meta.python_version) || '\u2013'],
      ['Re-arm', text(meta.mechanism) || '\u2013'],
    ];
    const box = $('meta');
    for (const [k, v] of items) {
      const item = el('div', 'mi');
      item.append(el('span', 'k', k), el('span', 'v', v));
      box.append(item);
    }
    const errs = $('errors');
    for (const e of meta.errors) errs.append(el('li', null, text(e)));
    errs.hidden = meta.errors.length === 0;
    document.title = 'stroboscope: ' + (text(meta.target) || 'report');
  }

  function syncControls() {
    $$('[data-time]').forEach((b) => b.setAttribute('aria-pressed', b.dataset.time === S.time));
    $$('[data-tab]').forEach((b) => b.setAttribute('aria-selected', b.dataset.tab === S.tab));
    /* Leave alone what is being typed, or means the same. */
    const th = $('threshold');
    if (!timer && parseFloat(th.value) !== S.threshold) th.value = S.threshold;
    $('showall').checked = S.show_all;
    for (const k in ui.inputs) {
      if (!timer && lines(ui.inputs[k].value).join('\n') !== S[k].join('\n')) ui.inputs[k].value = S[k].join('\n');
    }
    syncThreads();
    const n = LISTS.reduce((a, k) => a + S[k].length, 0);
    $('filters-btn').textContent = n ? 'Filters (' + n + ')' : 'Filters';
    for (const p of ['tree', 'flame', 'timeline']) $('pane-' + p).hidden = S.tab !== p;
  }

  /* The thread selector: every thread, busiest first by the chosen time,
   * each with its share of waiting (wall - CPU). */
  let threadsFor = '';
  function syncThreads() {
    const sel = $('thread'), ns = S.time + '_ns';
    $('thread-box').hidden = !threads.length;
    if (threadsFor !== S.time) {
      threadsFor = S.time;
      threads.sort((a, b) => b[ns] - a[ns] || a.frame - b.frame);
      const opt = (label, v) => { const o = el('option', null, label); o.setAttribute('value', v); return o; };
      sel.replaceChildren(opt('All threads', 'all'), opt('All threads merged', 'merged'), ...threads.map((t, k) => {
        const w = t.wall_ns > 0 ? Math.round(100 * Math.max(0, t.wall_ns - t.cpu_ns) / t.wall_ns) : 0;
        return opt(t.name + ' (tid ' + t.tid + ') \u2013 ' + fmtTime(t[ns]) + (w ? ', ' + w + '% waiting' : ''), 't' + k);
      }));
    }
    const m = threads.filter((t) => threadIs(t.frame, S.thread));
    sel.value = S.merge_threads ? 'merged' : S.thread == null ? 'all' : m.length === 1 ? 't' + threads.indexOf(m[0]) : '';
  }

  function refresh() {
    syncControls();
    if (S.tab === 'tree') refreshTree();
    else if (S.tab === 'flame') { layoutFlame(); drawFlame(); }
    else if (S.tab === 'timeline') {
      if (!TL) return;
      if (!tlRange) tlRange = [0, tlEnd];
      timeline.height = AXIS_H + tlLanes().rows * BOX_H + 4;
      timeline.draw();
    }
  }

  /* The text controls that differ from the settings. */
  function readInputs() {
    const c = {}, v = parseFloat($('threshold').value);
    if (v >= 0 && v <= 100 && v !== S.threshold) c.threshold = v;
    for (const k in ui.inputs) {
      const l = lines(ui.inputs[k].value);
      if (l.join('\n') !== S[k].join('\n')) c[k] = l;
    }
    return c;
  }

  /* Applies changed settings, and whatever was typed meanwhile. */
  function set(changes) {
    clearTimeout(timer);
    timer = 0;
    changes = Object.assign(readInputs(), changes);
    const q = $('search').value, newQuery = q !== query;
    query = q;
    let view = false;
    for (const k in changes) {
      if (!(k in S)) continue;
      if (k !== 'tab') view = true;
      S[k] = changes[k];
    }
    checkThread();
    saveSettings();
    if (view) rebuild();
    else { if (newQuery) findHits(); refresh(); }
  }

  const later = () => { clearTimeout(timer); timer = setTimeout(() => set({}), 250); };

  $$('[data-time]').forEach((b) => b.addEventListener('click', () => set({ time: b.dataset.time })));
  $$('[data-tab]').forEach((b) => b.addEventListener('click', () => { hideTip(); set({ tab: b.dataset.tab }); }));
  $('threshold').addEventListener('input', (ev) => {
    const v = parseFloat(ev.target.value);
    ev.target.classList.toggle('bad', !(v >= 0 && v <= 100));
    later();
  });
  $('showall').addEventListener('change', (ev) => set({ show_all: ev.target.checked }));
  $('thread').addEventListener('change', (ev) => {
    const v = ev.target.value, t = threads[+v.slice(1)];
    set({ thread: t ? t.key : null, merge_threads: v === 'merged' });
  });
  for (const k in ui.inputs) ui.inputs[k].addEventListener('input', later);
  $('filters-btn').addEventListener('click', () => {
    const f = $('filters');
    f.hidden = !f.hidden;
    $('filters-btn').setAttribute('aria-expanded', !f.hidden);
    set({});
  });
  $('search').addEventListener('input', later);
  $('search').addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    set({});
    if (!hitList.length) return;
    hitAt = (hitAt + (ev.shiftKey ? hitList.length - 1 : 1)) % hitList.length;
    const i = hitList[hitAt];
    if (S.tab !== 'tree') set({ tab: 'tree' });
    computeVisible();
    select(vis.indexOf(i), true);
    ui.hits.textContent = (hitAt + 1) + ' of ' + hitList.length;
  });
  window.addEventListener('resize', refresh);

  /* == start == */

  loadSettings();
  checkThread();
  if (!TL) {
    const b = document.querySelector('[data-tab="timeline"]');
    b.disabled = true;
    b.setAttribute('title', 'no timeline recorded (profile with --timeline)');
    if (S.tab === 'timeline') S.tab = 'tree';
  }
  header();
  {
    const c = flame.ctx;
    c.font = FONT;
    charW = c.measureText('abcdefghijklmnopqrstuvwxyz_.ABCDEF').width / 34 || 6.6;
  }
  rebuild();

  window.stroboscope = {
    viewRows() {
      const out = [];
      for (let i = 0; i < V.n; i++) {
        const f = V.frame[i];
        out.push({
          depth: V.depth[i], frame: f,
          label: i === 0 ? '' : V.hidden[i] ? V.glabel[i] : fName[f], name: i === 0 ? '' : fName[f],
          text: labelText(i), file: i === 0 ? '' : fFile[f], line: V.line[i],
          total_ns: V.tot[i], self_ns: V.self[i],
          total_wall_ns: V.tw[i], self_wall_ns: V.sw[i], total_cpu_ns: V.tc[i], self_cpu_ns: V.sc[i],
          samples: V.samples[i], hidden_count: V.hidden[i], recursion: V.rec[i],
        });
      }
      return out;
    },
    settings() { const o = {}; for (const k of SAVED) o[k] = S[k]; return JSON.parse(JSON.stringify(o)); },
    threads() { return threads.map((t) => ({ ...t })); },
    set, fnmatch,
    visibleRows() { return vis.length; },
    lanes() { return tlLanes().lanes.map(({ node, row, rows, leaf }) => ({ node, row, rows, leaves: [...new Set(leaf)] })); },
  };
})();
