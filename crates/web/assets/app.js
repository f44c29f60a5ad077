/* supervisor-rs web UI: makes the server-rendered pages live.
 *
 * Status page: follows the daemon's Server-Sent Events stream (`events`) and refetches the
 * JSON snapshot (`api/status.json`) when something changed; renders the process table with
 * a group filter, a search box, state chips and pages; ticks uptimes; runs actions with
 * POST + anti-CSRF token (`api/action`), asking for confirmation before the dangerous ones.
 * Tail page: a log viewer: whole lines from `api/log.json` (the last 64 KiB, older pieces
 * when scrolled to the top, new output when the `logtail/<name>` stream signals it), follow,
 * pause, wrap, search with highlighting.
 *
 * Without this script both pages still work (plain forms and links). It builds DOM only with
 * createElement/textContent, so nothing a process is named or prints can become markup.
 */
(function () {
  'use strict';

  document.documentElement.classList.add('js');
  // A read-only user (role read, docs/security.md): no action buttons at all.
  var READ_ONLY = !!(document.body && document.body.getAttribute('data-read-only'));

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') node.textContent = v;
        else if (k === 'className') node.className = v;
        else if (k === 'dataset') Object.keys(v).forEach(function (d) { node.dataset[d] = v[d]; });
        else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? k : String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function setLive(kind, text) {
    var live = $('live');
    if (!live) return;
    live.className = 'live ' + kind;
    live.textContent = text;
  }

  // Python timedelta text, as the daemon writes uptimes: 0:01:02, 1 day, 2:03:04.
  function uptime(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var days = Math.floor(s / 86400);
    var rest = s % 86400;
    var h = Math.floor(rest / 3600), m = Math.floor((rest % 3600) / 60), sec = rest % 60;
    var hms = h + ':' + (m < 10 ? '0' : '') + m + ':' + (sec < 10 ? '0' : '') + sec;
    if (days === 0) return hms;
    return days + (days === 1 ? ' day, ' : ' days, ') + hms;
  }

  function quote(s) {
    // Like Python's urllib.parse.quote (keeps / unescaped), matching server-rendered links.
    return encodeURIComponent(s).replace(/%2F/g, '/').replace(/[!'()*]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  // An absolute URL for a request of the page's own. Resolving a relative URL against a
  // page opened as http://user:pass@host/ keeps the credentials, and fetch() refuses such
  // URLs; the browser already sends the Authorization it used for the page.
  function api(rel) {
    var u = new URL(rel, document.baseURI);
    u.username = '';
    u.password = '';
    return u.href;
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  // The daemon's local time, as the server renders it: Nov 21 18:15:20.
  function stamp(unix, offset) {
    var d = new Date((unix + (offset || 0)) * 1000);
    return MONTHS[d.getUTCMonth()] + ' ' + pad2(d.getUTCDate()) + ' ' + pad2(d.getUTCHours()) + ':' +
      pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds());
  }

  var STOPPED_LIKE = { 0: 1, 100: 1, 200: 1 };
  var STOPPABLE = { 10: 1, 20: 1, 30: 1 };
  // "Problems first": FATAL, BACKOFF, UNKNOWN, EXITED, then the rest.
  var RANK = { 200: 0, 30: 1, 1000: 2, 100: 3, 40: 4, 10: 5, 0: 6, 20: 7 };

  /* ------------------------------------------------------------------ status page */

  function statusPage() {
    var form = $('form');
    var csrfMeta = document.querySelector('meta[name="csrf-token"]');
    var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';
    var snap = null;
    var clockOffset = (Number(document.body.dataset.now) || Date.now() / 1000) * 1000 - Date.now();
    var prevState = {};
    var view = { group: '', text: '', state: '', page: 0, size: 100, sort: 'name' };
    try {
      var saved = Number(window.localStorage.getItem('supervisor.pageSize'));
      if (saved >= 0) view.size = saved || 100;
      if (window.localStorage.getItem('supervisor.sort') === 'problems') view.sort = 'problems';
    } catch (e) { /* storage may be unavailable */ }

    function serverNow() { return (Date.now() + clockOffset) / 1000; }

    function showMessage(text, isError) {
      var box = $('statusmessage');
      if (!box) return;
      box.textContent = text;
      box.className = 'status_msg' + (isError ? ' error' : '');
    }

    // ---- confirmation dialog (keyboard friendly: focus lands on Cancel)
    var dialog = null;
    function confirmAction(question) {
      return new Promise(function (resolve) {
        if (typeof HTMLDialogElement === 'undefined') { resolve(window.confirm(question)); return; }
        if (!dialog) {
          dialog = el('dialog', { id: 'confirmdialog', 'aria-labelledby': 'confirmtext' }, [
            el('p', { id: 'confirmtext' }),
            el('div', { className: 'row' }, [
              el('button', { type: 'button', id: 'confirmno', text: 'Cancel' }),
              el('button', { type: 'button', id: 'confirmyes', className: 'primary', text: 'Yes' })
            ])
          ]);
          document.body.appendChild(dialog);
        }
        $('confirmtext').textContent = question;
        var done = function (answer) {
          $('confirmyes').onclick = null; $('confirmno').onclick = null; dialog.onclose = null;
          if (dialog.open) dialog.close();
          resolve(answer);
        };
        $('confirmyes').onclick = function () { done(true); };
        $('confirmno').onclick = function () { done(false); };
        dialog.onclose = function () { done(false); };
        dialog.showModal();
        $('confirmno').focus();
      });
    }

    // ---- actions
    function nativeSubmit(action, ns) {
      // The daemon has no JSON action endpoint: fall back to the classic form POST.
      var f = el('form', { method: 'post', action: api('index.html') }, [
        el('input', { type: 'hidden', name: 'action', value: action }),
        el('input', { type: 'hidden', name: 'processname', value: ns || '' }),
        el('input', { type: 'hidden', name: 'csrf_token', value: csrf })
      ]);
      document.body.appendChild(f);
      f.submit();
    }

    function runAction(action, ns, button) {
      if (button) button.disabled = true;
      var body = new URLSearchParams();
      body.set('action', action);
      if (ns) body.set('processname', ns);
      body.set('csrf_token', csrf);
      return fetch(api('api/action'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf },
        body: body.toString()
      }).then(function (resp) {
        var type = resp.headers.get('Content-Type') || '';
        if (resp.status === 403) {
          showMessage('The page was out of date; it has been reloaded, please try again.', true);
          return load();
        }
        if (!resp.ok || type.indexOf('application/json') !== 0) {
          if (resp.status === 404 || resp.status === 405) { nativeSubmit(action, ns); return null; }
          showMessage('ERROR: the daemon answered ' + resp.status, true);
          return null;
        }
        return resp.json().then(function (reply) {
          showMessage(reply.message, reply.error);
          return load();
        });
      }).catch(function (err) {
        showMessage('ERROR: ' + err.message, true);
      }).then(function () {
        if (button) button.disabled = false;
      });
    }

    function activate(b) {
      var action = b.dataset.action || b.value;
      var ns = b.dataset.ns || '';
      var question = b.dataset.confirm;
      if (!action) return;
      if (question) {
        confirmAction(question).then(function (yes) { if (yes) runAction(action, ns, b); });
      } else {
        runAction(action, ns, b);
      }
    }

    if (form && window.fetch) {
      form.addEventListener('submit', function (ev) {
        var b = ev.submitter;
        if (!b) return; // let the browser post the form
        ev.preventDefault();
        activate(b);
      });
      // Row buttons live outside the form once the script runs (see ensureTable).
      document.addEventListener('click', function (ev) {
        var b = ev.target && ev.target.closest ? ev.target.closest('button[data-action]') : null;
        if (b && !b.form) { ev.preventDefault(); activate(b); }
      });
    }

    // ---- toolbar: group filter, search, state chips, group actions, page size
    var toolbar = $('toolbar');
    var groupSelect, search, chipBox, groupActions, summary;
    function buildToolbar() {
      groupSelect = el('select', { id: 'groupfilter', 'aria-label': 'Group' });
      groupSelect.addEventListener('change', function () {
        view.group = groupSelect.value; view.page = 0; render();
      });
      search = el('input', {
        type: 'search', id: 'search', placeholder: 'Search  ( / )',
        'aria-label': 'Search processes', autocomplete: 'off'
      });
      search.addEventListener('input', function () { view.text = search.value.trim().toLowerCase(); view.page = 0; render(); });
      chipBox = el('span', { className: 'chips', role: 'group', 'aria-label': 'Filter by state' });
      groupActions = el('span', { className: 'groupactions', hidden: true }, [
        el('button', { type: 'submit', className: 'act', dataset: { action: 'startgroup' }, text: 'Start group' }),
        el('button', { type: 'submit', className: 'act', dataset: { action: 'restartgroup' }, text: 'Restart group' }),
        el('button', { type: 'submit', className: 'act danger', dataset: { action: 'stopgroup' }, text: 'Stop group' })
      ]);
      summary = el('span', { className: 'summary', 'aria-live': 'polite' });
      var sortSelect = el('select', { id: 'sortorder', 'aria-label': 'Sort order' }, [
        el('option', { value: 'name', text: 'by name', selected: view.sort === 'name' }),
        el('option', { value: 'problems', text: 'problems first', selected: view.sort === 'problems' })
      ]);
      sortSelect.addEventListener('change', function () {
        view.sort = sortSelect.value; view.page = 0;
        try { window.localStorage.setItem('supervisor.sort', view.sort); } catch (e) { /* ignore */ }
        render();
      });
      toolbar.appendChild(el('label', null, ['Group ', groupSelect]));
      toolbar.appendChild(el('label', null, ['Sort ', sortSelect]));
      toolbar.appendChild(search);
      toolbar.appendChild(groupActions);
      toolbar.appendChild(el('span', { className: 'spacer' }));
      toolbar.appendChild(chipBox);
      toolbar.hidden = false;
      document.addEventListener('keydown', function (ev) {
        var t = ev.target;
        var typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
        if (ev.key === '/' && !typing) { ev.preventDefault(); search.focus(); }
        else if (ev.key === 'Escape' && t === search) { search.value = ''; view.text = ''; render(); }
      });
    }

    function updateToolbar(procs) {
      var groups = {};
      procs.forEach(function (p) { groups[p.group] = (groups[p.group] || 0) + 1; });
      var names = Object.keys(groups).sort();
      var wanted = [''].concat(names);
      var current = Array.prototype.map.call(groupSelect.options, function (o) { return o.value; });
      if (current.join('\u0000') !== wanted.join('\u0000')) {
        while (groupSelect.firstChild) groupSelect.removeChild(groupSelect.firstChild);
        groupSelect.appendChild(el('option', { value: '', text: 'All groups (' + names.length + ')' }));
        names.forEach(function (g) { groupSelect.appendChild(el('option', { value: g, text: g + ' (' + groups[g] + ')' })); });
      }
      if (view.group && !groups[view.group]) view.group = '';
      groupSelect.value = view.group;
      groupActions.hidden = !view.group || READ_ONLY;
      Array.prototype.forEach.call(groupActions.children, function (b) {
        b.dataset.ns = view.group;
        if (b.dataset.action !== 'startgroup') b.dataset.confirm = (b.dataset.action === 'stopgroup' ? 'Stop' : 'Restart') + ' every process of group ' + view.group + '?';
      });
      // state chips with counts, for the selected group
      var counts = {};
      procs.forEach(function (p) { if (!view.group || p.group === view.group) counts[p.statename] = (counts[p.statename] || 0) + 1; });
      while (chipBox.firstChild) chipBox.removeChild(chipBox.firstChild);
      var order = ['RUNNING', 'STARTING', 'BACKOFF', 'STOPPING', 'STOPPED', 'EXITED', 'FATAL', 'UNKNOWN'];
      if (view.state && !counts[view.state]) view.state = '';
      order.forEach(function (s) {
        if (!counts[s]) return;
        var chip = el('button', {
          type: 'button', className: 'chip st-' + s.toLowerCase() + ' ' + classFor(stateCode(s)),
          'aria-pressed': view.state === s ? 'true' : 'false',
          title: 'Show only ' + s.toLowerCase() + ' processes',
          text: s.toLowerCase() + ' ' + counts[s]
        });
        chip.addEventListener('click', function () { view.state = view.state === s ? '' : s; view.page = 0; render(); });
        chipBox.appendChild(chip);
      });
    }

    var CODES = { STOPPED: 0, STARTING: 10, RUNNING: 20, BACKOFF: 30, STOPPING: 40, EXITED: 100, FATAL: 200, UNKNOWN: 1000 };
    function stateCode(name) { return CODES[name]; }
    function classFor(code) {
      if (code === 20) return 'statusrunning';
      if (code === 200 || code === 30) return 'statuserror';
      return 'statusnominal';
    }

    // ---- table
    // Buttons inside a <form> are registered with it one by one, which gets slow with
    // thousands of rows; the live table therefore sits after the form, its buttons are
    // plain type="button" handled by the click listener above.
    var moved = false;
    function moveOutOfForm() {
      if (moved || !form) return;
      moved = true;
      var table = $('statustable');
      var after = form.nextSibling;
      [table, pager].forEach(function (node) { if (node) form.parentNode.insertBefore(node, after); });
    }

    // Whether the table has the CPU, memory and restart columns (the server renders them
    // when the daemon reports stats).
    function statsCols() {
      return !!document.querySelector('#statustable th.cpu');
    }

    function ensureTable() {
      moveOutOfForm();
      var table = $('statustable');
      if (table && table.tagName === 'TABLE') return $('tbody');
      var fresh = el('table', { id: 'statustable', cellspacing: '0' }, [
        el('colgroup', null, [el('col', { className: 'c-name' }), el('col', { className: 'c-state' }),
          el('col', { className: 'c-desc' }), el('col', { className: 'c-action' })]),
        el('thead', null, [el('tr', null, [
          el('th', { className: 'name', scope: 'col', text: 'Name' }),
          el('th', { className: 'state', scope: 'col', text: 'State' }),
          el('th', { className: 'desc', scope: 'col', text: 'Description' }),
          el('th', { className: 'action', scope: 'col', text: 'Action' })
        ])]),
        el('tbody', { id: 'tbody' })
      ]);
      table.parentNode.replaceChild(fresh, table);
      return $('tbody');
    }

    function showEmpty(text) {
      var table = $('statustable');
      var p = el('p', { id: 'statustable', className: 'empty', text: text });
      table.parentNode.replaceChild(p, table);
    }

    function actionButton(label, action, ns, question) {
      if (READ_ONLY) return el('li', { className: 'noaction' }, [el('span', { className: 'hidden' })]);
      var data = { action: action, ns: ns };
      if (question) data.confirm = question;
      return el('li', null, [el('button', {
        type: 'button', className: 'act act-' + action, 'aria-label': label + ' ' + ns,
        dataset: data, text: label
      })]);
    }

    // exit status 3 · started Nov 21 18:15:20 · stopped Nov 21 18:15:25 (EXITED; FATAL and
    // BACKOFF keep no exit status: last_exit is what the main log says, when it says it)
    function detail(p) {
      if (!(p.state === 100 || p.state === 200 || p.state === 30) || !(p.start > 0)) return '';
      var off = snap && snap.utc_offset;
      var how = p.state === 100 ? 'exit status ' + p.exitstatus : p.last_exit;
      var text = (how ? how + ' \u00b7 ' : '') + 'started ' + stamp(p.start, off);
      if (p.stop >= p.start) {
        var a = stamp(p.start, off), b = stamp(p.stop, off);
        text += ' \u00b7 stopped ' + (a.slice(0, 7) === b.slice(0, 7) ? b.slice(7) : b);
      }
      return text;
    }

    function description(p) {
      if (p.state === 20 && p.pid && p.start && /^pid \d+, uptime /.test(p.description)) {
        return 'pid ' + p.pid + ', uptime ' + uptime(serverNow() - p.start);
      }
      return p.description;
    }

    function buildRow(p, shade, changed) {
      var ns = p.namespec;
      var lower = p.statename.toLowerCase();
      var none = function () { return el('li', { className: 'noaction' }, [el('span', { className: 'hidden' })]); };
      var slots = [
        p.state === 20 ? actionButton('Restart', 'restart', ns) : STOPPED_LIKE[p.state] ? actionButton('Start', 'start', ns) : none(),
        STOPPABLE[p.state] ? actionButton('Stop', 'stop', ns) : none(),
        actionButton('Clear Log', 'clearlog', ns, 'Clear the log files of ' + ns + '?')
      ];
      var tail = 'tail.html?processname=' + quote(ns);
      slots.push(el('li', null, [el('a', { href: tail, target: '_blank', text: 'Tail -f Stdout' })]));
      slots.push(el('li', null, [el('a', { href: tail + '&channel=stderr', target: '_blank', text: 'Tail -f Stderr' })]));
      var cls = (shade ? 'shade' : '') + (changed ? ' flash' : '');
      var more = detail(p);
      // CPU, memory and restart columns: present when the page was rendered with them.
      var statCells = [];
      if (statsCols()) {
        var st = p.stats;
        statCells = [
          el('td', { className: 'cpu', text: st ? st.cpu : '-' }),
          el('td', { className: 'mem', text: st ? st.memory : '-' }),
          el('td', { className: 'restarts', text: st ? String(st.restarts) : '-' })
        ];
      }
      return el('tr', { className: cls.trim() || null, dataset: { ns: ns, state: String(p.state) } }, [
        el('td', { className: 'name' }, [el('a', { href: tail, target: '_blank', text: ns })]),
        el('td', { className: 'status' }, [el('span', { className: classFor(p.state) + ' st-' + lower, text: lower })]),
        el('td', { className: 'desc' }, [el('span', { className: 'desctext', text: description(p) }),
          more ? ' ' : null, more ? el('span', { className: 'detail', text: more }) : null])
      ].concat(statCells, [
        el('td', { className: 'action' }, [el('ul', null, slots)])
      ]));
    }

    function matches(p) {
      if (view.group && p.group !== view.group) return false;
      if (view.state && p.statename !== view.state) return false;
      if (view.text) {
        var hay = (p.namespec + '\u0000' + p.description + '\u0000' + p.statename).toLowerCase();
        if (hay.indexOf(view.text) < 0) return false;
      }
      return true;
    }

    var pager = $('pager');
    function renderPager(total, shown, first) {
      while (pager.firstChild) pager.removeChild(pager.firstChild);
      var size = view.size;
      var pages = size ? Math.max(1, Math.ceil(total / size)) : 1;
      var sizeSelect = el('select', { 'aria-label': 'Rows per page', id: 'pagesize' });
      [50, 100, 250, 500, 0].forEach(function (n) {
        sizeSelect.appendChild(el('option', { value: String(n), text: n ? n + ' per page' : 'all', selected: n === size }));
      });
      sizeSelect.addEventListener('change', function () {
        view.size = Number(sizeSelect.value); view.page = 0;
        try { window.localStorage.setItem('supervisor.pageSize', String(view.size)); } catch (e) { /* ignore */ }
        render();
      });
      var prev = el('button', { type: 'button', text: '\u2039 Prev', disabled: view.page <= 0, 'aria-label': 'Previous page' });
      var next = el('button', { type: 'button', text: 'Next \u203a', disabled: view.page >= pages - 1, 'aria-label': 'Next page' });
      prev.addEventListener('click', function () { view.page -= 1; render(); });
      next.addEventListener('click', function () { view.page += 1; render(); });
      var label = total === 0 ? 'no match' : (first + 1) + '\u2013' + (first + shown) + ' of ' + total +
        (total !== snap.processes.length ? ' (' + snap.processes.length + ' in all)' : '');
      pager.appendChild(el('span', { id: 'pagerlabel', text: label }));
      if (pages > 1) { pager.appendChild(prev); pager.appendChild(el('span', { text: 'page ' + (view.page + 1) + ' / ' + pages })); pager.appendChild(next); }
      pager.appendChild(sizeSelect);
      pager.hidden = false;
    }

    function render() {
      if (!snap) return;
      moveOutOfForm();
      var procs = snap.processes;
      updateToolbar(procs);
      if (procs.length === 0) { showEmpty('No programs to manage'); pager.hidden = true; return; }
      var tbody = ensureTable();
      var rows = procs.filter(matches);
      if (view.sort === 'problems') {
        rows.sort(function (a, b) { return (RANK[a.state] === undefined ? 9 : RANK[a.state]) - (RANK[b.state] === undefined ? 9 : RANK[b.state]); });
      }
      var size = view.size || rows.length || 1;
      var pages = Math.max(1, Math.ceil(rows.length / size));
      if (view.page >= pages) view.page = pages - 1;
      if (view.page < 0) view.page = 0;
      var first = view.page * size;
      var slice = rows.slice(first, first + size);
      var focusedNs = null, focusedAction = null;
      var active = document.activeElement;
      if (active && tbody.contains(active) && active.dataset) { focusedNs = active.dataset.ns; focusedAction = active.dataset.action; }
      var frag = document.createDocumentFragment();
      slice.forEach(function (p, i) {
        var changed = prevState[p.namespec] !== undefined && prevState[p.namespec] !== p.state;
        frag.appendChild(buildRow(p, i % 2 === 1, changed));
      });
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      tbody.appendChild(frag);
      if (slice.length === 0) {
        tbody.appendChild(el('tr', null, [el('td', { colspan: String(statsCols() ? 7 : 4), className: 'empty', text: 'No process matches the filter' })]));
      }
      procs.forEach(function (p) { prevState[p.namespec] = p.state; });
      renderPager(rows.length, slice.length, first);
      if (focusedNs) {
        // Keep keyboard focus on the same row after a live update.
        var again = tbody.querySelector('tr[data-ns="' + CSS.escape(focusedNs) + '"] button');
        var same = focusedAction && tbody.querySelector('tr[data-ns="' + CSS.escape(focusedNs) + '"] button[data-action="' + focusedAction + '"]');
        if (same || again) (same || again).focus();
      }
    }

    // ---- data
    var loading = null, reloadAgain = false;
    function load() {
      if (loading) { reloadAgain = true; return loading; }
      loading = fetch(api('api/status.json'), { credentials: 'same-origin', cache: 'no-store' })
        .then(function (resp) {
          if (!resp.ok) throw new Error('status ' + resp.status);
          return resp.json();
        })
        .then(function (data) {
          snap = data;
          if (data.csrf_token) csrf = data.csrf_token;
          if (data.now) clockOffset = data.now * 1000 - Date.now();
          render();
        })
        .catch(function () { setLive('off', 'offline'); })
        .then(function () {
          loading = null;
          if (reloadAgain) { reloadAgain = false; load(); }
        });
      return loading;
    }

    var pending = null;
    function scheduleLoad(delay) {
      if (pending) return;
      pending = setTimeout(function () { pending = null; load(); }, delay);
    }

    // Apply a process state event at once (the snapshot refetch follows and corrects).
    function applyEvent(data) {
      if (!snap || !data || typeof data !== 'object') return;
      var name = data.processname || (data.payload && data.payload.processname);
      var group = data.groupname || (data.payload && data.payload.groupname);
      var evname = data.eventname || data.type || '';
      var m = /^PROCESS_STATE_([A-Z]+)$/.exec(evname);
      if (!name || !group || !m || CODES[m[1]] === undefined) return;
      var ns = group === name ? name : group + ':' + name;
      var pid = Number(data.pid || (data.payload && data.payload.pid)) || 0;
      snap.processes.forEach(function (p) {
        if (p.namespec !== ns) return;
        p.statename = m[1];
        p.state = CODES[m[1]];
        if (p.state === 20 && pid) {
          // What the snapshot will say; it follows shortly and replaces this guess.
          p.pid = pid;
          p.start = Math.floor(serverNow());
          p.description = 'pid ' + pid + ', uptime 0:00:00';
        }
      });
      scheduleRender();
    }

    // Bursts of events (stop all on 1,000 processes) re-render once per frame, not per event.
    var renderQueued = false;
    function scheduleRender() {
      if (renderQueued) return;
      renderQueued = true;
      var run = function () { renderQueued = false; render(); };
      if (window.requestAnimationFrame && !document.hidden) window.requestAnimationFrame(run);
      else setTimeout(run, 100);
    }

    var source = null, pollTimer = null, retryTimer = null;
    function onEvent(ev) {
      var data = null;
      try { data = JSON.parse(ev.data); } catch (e) { /* not JSON: just refetch */ }
      applyEvent(data);
      scheduleLoad(150);
    }
    var EVENT_NAMES = ['PROCESS_STATE', 'PROCESS_STATE_STOPPED', 'PROCESS_STATE_STARTING', 'PROCESS_STATE_RUNNING',
      'PROCESS_STATE_BACKOFF', 'PROCESS_STATE_STOPPING', 'PROCESS_STATE_EXITED', 'PROCESS_STATE_FATAL',
      'PROCESS_STATE_UNKNOWN', 'PROCESS_GROUP_ADDED', 'PROCESS_GROUP_REMOVED', 'SUPERVISOR_STATE_CHANGE_RUNNING',
      'SUPERVISOR_STATE_CHANGE_STOPPING', 'dropped'];
    function startPolling() {
      if (pollTimer) return;
      setLive('wait', 'polling');
      pollTimer = setInterval(load, 5000);
    }
    function connect() {
      if (!window.EventSource) { startPolling(); return; }
      // Only the events that change what the page shows (no log or tick traffic).
      source = new EventSource(api('events?events=PROCESS_STATE,PROCESS_GROUP,SUPERVISOR_STATE_CHANGE'));
      source.onopen = function () {
        setLive('on', 'live');
        if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
        load();
      };
      source.onmessage = onEvent;
      EVENT_NAMES.forEach(function (n) { source.addEventListener(n, onEvent); });
      source.onerror = function () {
        if (source.readyState === 2) {
          // Closed for good (no stream here, or a non-200 answer): poll slowly, retry later.
          source = null;
          startPolling();
          if (!retryTimer) retryTimer = setTimeout(function () { retryTimer = null; connect(); }, 30000);
        } else {
          setLive('wait', 'reconnecting');
        }
      };
    }

    // ---- uptime ticking (visible RUNNING rows only)
    function tick() {
      if (!snap) return;
      var byNs = {};
      snap.processes.forEach(function (p) { if (p.state === 20) byNs[p.namespec] = p; });
      var rows = document.querySelectorAll('#tbody tr[data-state="20"]');
      Array.prototype.forEach.call(rows, function (tr) {
        var p = byNs[tr.dataset.ns];
        var span = tr.querySelector('.desctext');
        if (p && span) span.textContent = description(p);
      });
    }

    if (toolbar) buildToolbar();
    load();
    connect();
    setInterval(tick, 1000);
  }

  /* ------------------------------------------------------------------ tail page */

  var MAX_SHOWN = 4 * 1024 * 1024; // characters kept in the view
  var MAX_PENDING = 1024 * 1024;   // characters held back while paused
  var MAX_MARKS = 5000;            // search matches highlighted

  function countLines(text) {
    var n = 0;
    for (var i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
    return n;
  }

  function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

  // The log viewer: the last 64 KiB of the log in whole lines (api/log.json), older lines
  // when scrolled to the top, new output as it is written (the logtail stream says when;
  // the bytes are read by offset, so nothing is shown twice or left out), search with
  // highlighting. Every piece of text enters the page as a text node.
  function tailPage() {
    var pre = $('tailbody');
    var ns = document.body.dataset.ns;
    if (!pre || !ns || document.body.dataset.live !== '1' || !window.fetch) return;
    var channel = document.body.dataset.channel === 'stderr' ? 'stderr' : 'stdout';
    var logUrl = function (query) {
      return api('api/log.json?processname=' + encodeURIComponent(ns) + '&channel=' + channel + query);
    };
    var streamUrl = api('logtail/' + quote(ns) + (channel === 'stderr' ? '/stderr' : ''));
    var pauseBtn = $('pause'), follow = $('follow'), wrapBtn = $('wrap');
    var olderBtn = $('older'), info = $('tailinfo');
    var search = $('logsearch'), searchCount = $('searchcount');

    // The view is a run of pieces, each {start, head, text}: the bytes of the log from `start`
    // on are head + text (offsets come from the daemon, never from text lengths). The first
    // piece's head is the end of a line cut by `start` and is not shown; it is shown once
    // the piece before it is read. `end` is where the last piece ends.
    var pieces = [];
    var text = '';          // what the view shows
    var lines = 0;          // newlines in `text`
    var end = 0;
    var more = false, cut = false, full = false;
    var paused = false, pending = [], pendingChars = 0, pendingFull = false;
    var loadingOlder = false, loadingNewer = false, newerAgain = false;
    var streaming = false, retry = 1000;
    var query = '', marks = [], current = -1, total = 0;

    function first() { return pieces[0] || { start: 0, head: '', text: '' }; }
    // What a piece shows before its text: its head, unless it is the first piece or comes
    // after a gap (then the head is the end of a line whose start was not read).
    function shownHead(p, i) { return i && !p.gap ? p.head : ''; }
    function viewText() {
      return pieces.map(function (p, i) { return shownHead(p, i) + p.text; }).join('');
    }
    function atBottom() { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24; }
    function scrollDown() { if (follow && follow.checked) pre.scrollTop = pre.scrollHeight; }

    function showInfo() {
      if (!info) return;
      var where = first().start === 0 ? 'Beginning of the log' : cut ? 'The first line is longer than 1 MiB and is cut' :
        full ? 'Older lines: see raw' : 'Scroll up for older lines';
      info.textContent = where + ' \u00b7 ' + lines.toLocaleString('en') + ' lines shown';
      if (olderBtn) olderBtn.hidden = !(more && !full);
    }

    // ---- rendering, with search marks
    function fragment(piece, offsetMarks) {
      var frag = document.createDocumentFragment();
      if (!query) { frag.appendChild(document.createTextNode(piece)); return frag; }
      var re = new RegExp(escapeRegExp(query), 'gi');
      var last = 0, m;
      while ((m = re.exec(piece)) !== null) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        total++;
        if (offsetMarks.length >= MAX_MARKS) continue;
        if (m.index > last) frag.appendChild(document.createTextNode(piece.slice(last, m.index)));
        var mark = el('mark', { text: m[0] });
        offsetMarks.push(mark);
        frag.appendChild(mark);
        last = m.index + m[0].length;
      }
      if (last < piece.length) frag.appendChild(document.createTextNode(piece.slice(last)));
      return frag;
    }

    function renderAll() {
      marks = []; total = 0;
      var frag = fragment(text, marks);
      while (pre.firstChild) pre.removeChild(pre.firstChild);
      pre.appendChild(frag);
    }

    function showCount() {
      if (!searchCount) return;
      if (!query) { searchCount.textContent = ''; return; }
      searchCount.textContent = total === 0 ? 'no match' :
        (current + 1) + ' / ' + total + (total > marks.length ? ' (first ' + marks.length + ' marked)' : '');
    }

    function goTo(index) {
      if (!marks.length) { current = -1; showCount(); return; }
      if (current >= 0 && marks[current]) marks[current].className = '';
      current = (index + marks.length) % marks.length;
      var mark = marks[current];
      mark.className = 'current';
      if (follow) follow.checked = false;
      pre.scrollTop = Math.max(0, mark.offsetTop - pre.clientHeight / 2);
      showCount();
    }

    function runSearch() {
      query = search ? search.value : '';
      current = -1;
      renderAll();
      if (query) goTo(0); else { showCount(); scrollDown(); }
    }

    // ---- adding text
    // Past MAX_SHOWN characters the oldest pieces go (scrolling up reads them again).
    function trimTop() {
      if (text.length <= MAX_SHOWN) return;
      var left = text.length, target = Math.floor(MAX_SHOWN * 0.75);
      while (pieces.length > 1 && left > target) {
        left -= pieces.shift().text.length + shownHead(pieces[0], 1).length;
      }
      var f = pieces[0];
      if (!f.head && f.start > 0) {
        // Appended pieces start wherever a write ended: hide up to the first line start.
        var nl = f.text.indexOf('\n');
        if (nl >= 0 && nl + 1 < f.text.length) { f.head = f.text.slice(0, nl + 1); f.text = f.text.slice(nl + 1); }
      }
      text = viewText();
      lines = countLines(text);
      more = f.start > 0; cut = false; full = false;
      var keep = current >= 0 ? current : 0;
      renderAll();
      if (query && marks.length) goTo(Math.min(keep, marks.length - 1));
    }

    // New output: {start, head, text}, with `text` already what is to be shown.
    function append(piece) {
      if (!piece.text) return;
      if (paused) {
        pending.push(piece);
        pendingChars += piece.text.length;
        if (pendingChars > MAX_PENDING) pendingFull = true;
        if (pauseBtn) pauseBtn.textContent = 'Resume (' + pendingChars.toLocaleString('en') + ' new chars)';
        return;
      }
      var wasAtBottom = atBottom();
      var last = pieces[pieces.length - 1];
      if (last && !piece.head && !piece.gap && last.text.length < 65536) last.text += piece.text;
      else pieces.push(piece);
      text += piece.text;
      lines += countLines(piece.text);
      var frag = fragment(piece.text, marks);
      if (!query) {
        var span = el('span', { className: 'fresh' }, [frag]);
        pre.appendChild(span);
        setTimeout(function () { span.className = ''; }, 1500);
      } else {
        pre.appendChild(frag);
        showCount();
      }
      trimTop();
      if (wasAtBottom) scrollDown();
      showInfo();
    }

    // Older text: the piece read before the first one, whose hidden head now shows.
    function prepend(piece) {
      var f = first();
      var shown = piece.text + f.head;
      f.gap = false; // its head, hidden until now, joins the piece read before it
      pieces.unshift({ start: piece.start, head: piece.head, text: piece.text });
      var before = pre.scrollHeight, top = pre.scrollTop;
      text = shown + text;
      lines += countLines(shown);
      if (query) {
        var old = current, probe = [], saved = total;
        total = 0;
        fragment(shown, probe);
        total = saved;
        renderAll();
        if (old >= 0 && marks.length) { current = -1; goTo(Math.min(old + probe.length, marks.length - 1)); }
      } else {
        pre.insertBefore(document.createTextNode(shown), pre.firstChild);
      }
      pre.scrollTop = top + (pre.scrollHeight - before);
    }

    // ---- reading
    function getPiece(query) {
      return fetch(logUrl(query), { credentials: 'same-origin', cache: 'no-store' }).then(function (resp) {
        if (!resp.ok) throw new Error('the daemon answered ' + resp.status);
        return resp.json();
      }).then(function (piece) {
        if (piece.error) throw new Error(piece.error);
        return piece;
      });
    }

    function loadLast() {
      return getPiece('').then(function (piece) {
        pieces = [{ start: piece.start, head: piece.head, text: piece.text }];
        text = piece.text; lines = countLines(text);
        end = piece.end; more = piece.more; cut = piece.cut; full = false;
        pending = []; pendingChars = 0; pendingFull = false;
        renderAll();
        if (query && marks.length) goTo(marks.length - 1); else { showCount(); pre.scrollTop = pre.scrollHeight; }
        pre.dataset.loaded = '1';
        showInfo();
      });
    }

    function loadOlder() {
      if (loadingOlder || !more || full || pre.dataset.loaded !== '1') return;
      if (text.length >= MAX_SHOWN) { full = true; showInfo(); return; }
      loadingOlder = true;
      if (olderBtn) olderBtn.disabled = true;
      var at = first().start;
      getPiece('&before=' + at).then(function (piece) {
        if (piece.end !== at || first().start !== at) return loadLast(); // rotated or cleared
        prepend(piece);
        more = piece.more; cut = piece.cut;
        showInfo();
        return null;
      }).catch(function (err) {
        if (info) info.textContent = 'Could not read older lines: ' + err.message;
      }).then(function () {
        loadingOlder = false;
        if (olderBtn) olderBtn.disabled = false;
      });
    }

    function loadNewer() {
      if (pre.dataset.loaded !== '1' || pendingFull) return;
      if (loadingNewer) { newerAgain = true; return; }
      loadingNewer = true;
      getPiece('&after=' + end).then(function (piece) {
        if (piece.reset) return loadLast();
        var at = end;
        end = piece.end;
        if (piece.skipped) {
          // More than 64 KiB at once: the newest, from a line start, after a note.
          var note = '[... ' + (piece.skipped + piece.head.length).toLocaleString('en') + ' bytes not shown: see raw ...]\n';
          append({ start: piece.start, head: piece.head, text: note + piece.text, gap: true });
        } else {
          append({ start: at, head: '', text: piece.text });
        }
        return null;
      }).catch(function () { setLive('off', 'read failed, retrying'); }).then(function () {
        loadingNewer = false;
        if (newerAgain) { newerAgain = false; loadNewer(); }
      });
    }

    // The logtail stream only says "something was written"; the bytes come from api/log.json.
    function stream() {
      if (!window.ReadableStream) return;
      fetch(streamUrl, { credentials: 'same-origin', cache: 'no-store' }).then(function (resp) {
        if (!resp.ok || !resp.body) throw new Error('logtail answered ' + resp.status);
        streaming = true;
        retry = 1000;
        setLive(paused ? 'wait' : 'on', paused ? 'paused' : 'live');
        var reader = resp.body.getReader();
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) return null;
            loadNewer();
            return pump();
          });
        }
        return pump();
      }).catch(function () { /* reconnect below */ }).then(function () {
        streaming = false;
        setLive('off', 'disconnected, retrying');
        setTimeout(stream, retry);
        retry = Math.min(retry * 2, 30000);
      });
    }

    // ---- controls
    if (pauseBtn) pauseBtn.addEventListener('click', function () {
      paused = !paused;
      pauseBtn.setAttribute('aria-pressed', paused ? 'true' : 'false');
      pauseBtn.textContent = paused ? 'Resume' : 'Pause';
      setLive(paused ? 'wait' : (streaming ? 'on' : 'off'), paused ? 'paused' : (streaming ? 'live' : 'connecting'));
      if (!paused) {
        var held = pending, wasFull = pendingFull;
        pending = []; pendingChars = 0; pendingFull = false;
        held.forEach(append);
        if (wasFull) loadNewer();
      }
    });
    if (wrapBtn) wrapBtn.addEventListener('click', function () {
      var on = pre.classList.toggle('wrap');
      wrapBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    if (olderBtn) olderBtn.addEventListener('click', loadOlder);
    pre.addEventListener('scroll', function () {
      if (follow) follow.checked = atBottom();
      if (pre.scrollTop < 200) loadOlder();
    });
    if (search) {
      var timer = null;
      search.addEventListener('input', function () {
        if (timer) clearTimeout(timer);
        timer = setTimeout(function () { timer = null; runSearch(); }, 120);
      });
      search.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter') {
          ev.preventDefault();
          if (timer) { clearTimeout(timer); timer = null; runSearch(); return; }
          goTo(current + (ev.shiftKey ? -1 : 1));
        } else if (ev.key === 'Escape') {
          search.value = ''; runSearch();
        }
      });
      document.addEventListener('keydown', function (ev) {
        var t = ev.target;
        var typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
        if (ev.key === '/' && !typing) { ev.preventDefault(); search.focus(); }
      });
    }
    if ($('searchnext')) $('searchnext').addEventListener('click', function () { goTo(current + 1); });
    if ($('searchprev')) $('searchprev').addEventListener('click', function () { goTo(current - 1); });

    pre.scrollTop = pre.scrollHeight;
    setLive('wait', 'connecting');
    function start0() {
      loadLast().then(function () {
        stream();
        // Without the stream (or between reconnects) look for new output now and then.
        setInterval(function () { if (!streaming) loadNewer(); }, 3000);
      }).catch(function (err) {
        setLive('off', 'offline');
        if (info) info.textContent = 'Could not read the log: ' + err.message + ' (retrying)';
        setTimeout(start0, 3000);
      });
    }
    start0();
  }

  if (document.body.classList.contains('page-status')) statusPage();
  else if (document.body.classList.contains('page-tail')) tailPage();
}());
