// admin-history.js: the call history: GET /api/v1/calls filtered by agent, queue, outcome and
// time (server-side), 50 calls a page with "More calls", a call's detail (parties, legs,
// variables) and an export of every matching call (up to 10,000) as CSV, built in the page and
// downloaded as calls.csv.
(function () {
  'use strict';
  var A = window.CTIAdmin, $ = A.$;
  var cursor = '', shown = {};

  function query() {
    var q = [];
    var add = function (k, v) { if (v) q.push(k + '=' + encodeURIComponent(v)); };
    add('user_id', $('h-agent').value);
    add('queue', $('h-queue').value);
    add('outcome', $('h-outcome').value);
    // datetime-local is the browser's local time; the API takes RFC 3339.
    var iso = function (v) { return v ? new Date(v).toISOString().replace(/\.\d+Z$/, 'Z') : ''; };
    add('from', iso($('h-from').value));
    add('to', iso($('h-to').value));
    return q.join('&');
  }
  function outcome(c) {
    if (!c.ended_at) return 'in progress';
    return c.answered_at ? 'answered' : (c.end_reason || 'not answered').replace(/_/g, ' ');
  }
  function length(c) {
    if (c.duration_ms == null) return '';
    var s = Math.round(c.duration_ms / 1000);
    return Math.floor(s / 60) + ':' + (s % 60 < 10 ? '0' : '') + (s % 60);
  }

  function search(more) {
    A.text('h-error', '');
    if (!more) { cursor = ''; shown = {}; $('history').textContent = ''; $('h-detail').hidden = true; }
    var q = query() + (more && cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    return A.api('GET', '/calls?limit=50' + (q ? '&' + q : '')).then(function (r) {
      r.calls.forEach(row);
      cursor = r.next_cursor || '';
      $('h-more').hidden = !cursor;
      $('h-empty').hidden = Object.keys(shown).length > 0;
    }, function (e) { A.text('h-error', e.message); });
  }
  function row(c) {
    shown[c.call_id] = c;
    var tr = document.createElement('tr');
    tr.setAttribute('data-call', c.call_id);
    $('history').appendChild(tr);
    A.cell(tr, new Date(c.created_at).toLocaleString());
    A.cell(tr, (c.display_name ? c.display_name + ' ' : '') + c.phone);
    A.cell(tr, c.direction); A.cell(tr, c.queue || ''); A.cell(tr, c.user_id || '');
    A.cell(tr, outcome(c)).className = 'outcome';
    A.cell(tr, length(c));
    var b = document.createElement('button');
    b.type = 'button'; b.className = 'secondary small'; b.textContent = 'Details';
    b.setAttribute('aria-label', 'Details of call ' + c.call_id);
    b.addEventListener('click', function () { detail(c.call_id); });
    A.cell(tr, '').appendChild(b);
  }

  function kv(dl, pairs) {
    dl.textContent = '';
    pairs.forEach(function (p) {
      if (p[1] == null || p[1] === '') return;
      var dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = p[0]; dd.textContent = String(p[1]);
      dl.appendChild(dt); dl.appendChild(dd);
    });
  }
  function list(ul, items) {
    ul.textContent = '';
    items.forEach(function (s) { var li = document.createElement('li'); li.textContent = s; ul.appendChild(li); });
  }
  function when(ts) { return ts ? new Date(ts).toLocaleTimeString() : '…'; }
  function detail(id) {
    return A.api('GET', '/calls/' + encodeURIComponent(id)).then(function (c) {
      A.text('h-detail-h', 'Call ' + c.call_id);
      kv($('h-detail-kv'), [['Caller', (c.display_name ? c.display_name + ' ' : '') + c.phone], ['Direction', c.direction],
        ['Source', c.source], ['Media', (c.media || []).join(', ')], ['Queue', c.queue], ['Agent', c.user_id], ['Outcome', outcome(c)],
        ['Started', new Date(c.created_at).toLocaleString()], ['Answered', c.answered_at && new Date(c.answered_at).toLocaleString()],
        ['Ended', c.ended_at && new Date(c.ended_at).toLocaleString()], ['Length', length(c)], ['Ended by', c.ended_by],
        ['End reason', c.end_reason], ['Failure code', c.fail_code || ''],
        ['Disposition', c.disposition && (c.disposition.label || c.disposition.code || '') + (c.disposition.user_id ? ' (by ' + c.disposition.user_id + ')' : '')],
        ['Notes', c.disposition && c.disposition.notes]]);
      recordings(c);
      list($('h-parties'), c.parties.map(function (p) {
        return p.role + ': ' + (p.user_id || p.phone || '?') + ', ' + when(p.joined_at) + ' to ' + when(p.left_at);
      }));
      list($('h-legs'), c.legs.map(function (l) {
        return l.kind + ' ' + (l.user_id || l.peer || '') + ' (' + l.state + (l.sip_status ? ', SIP ' + l.sip_status : '') + '), ' +
          when(l.started_at) + (l.answered_at ? ', answered ' + when(l.answered_at) : '') + ' to ' + when(l.ended_at);
      }));
      var vars = Object.keys(c.variables || {}).sort().map(function (k) { return [k, c.variables[k]]; });
      kv($('h-vars'), vars.length ? vars : [['(none)', '–']]);
      $('h-detail').hidden = false;
      $('h-detail').focus();
    }, function (e) { A.text('h-error', e.message); });
  }

  // recordings lists the call's recordings, each playable in the page: the WAV is fetched with
  // the admin token (an <audio src> cannot send it) and played from a blob: URL.
  function recordings(c) {
    var ul = $('h-recordings'), list = c.recordings || [];
    ul.textContent = '';
    $('h-recordings-h').hidden = ul.hidden = !list.length;
    list.forEach(function (r) {
      var li = document.createElement('li'), span = document.createElement('span'), b = document.createElement('button');
      span.textContent = r.recording_id + ' · ' + length({ duration_ms: r.duration_ms }) + ' · ' + r.state + (r.paused_ms ? ' · paused ' + length({ duration_ms: r.paused_ms }) : '');
      b.type = 'button'; b.className = 'secondary small'; b.textContent = 'Play';
      b.setAttribute('aria-label', 'Play recording ' + r.recording_id);
      b.addEventListener('click', function () {
        fetch('/api/v1/calls/' + encodeURIComponent(c.call_id) + '/recordings/' + encodeURIComponent(r.recording_id), { headers: { Authorization: 'Bearer ' + A.token() } })
          .then(function (res) { if (!res.ok) throw new Error('the recording could not be read (' + res.status + ')'); return res.blob(); })
          .then(function (blob) {
            var a = $('h-player');
            if (a.src) URL.revokeObjectURL(a.src);
            a.src = URL.createObjectURL(blob);
            a.hidden = false;
            a.setAttribute('data-recording', r.recording_id);
            return a.play().catch(function () {});
          }).catch(function (e) { A.text('h-error', e.message); });
      });
      li.appendChild(span); li.appendChild(b);
      ul.appendChild(li);
    });
  }

  // --- CSV --------------------------------------------------------------------------------
  var COLUMNS = ['call_id', 'created_at', 'answered_at', 'ended_at', 'duration_ms', 'direction', 'source', 'phone',
    'display_name', 'queue', 'user_id', 'outcome', 'end_reason', 'ended_by', 'fail_code', 'disposition', 'notes', 'variables'];
  // csvField quotes a value (RFC 4180), and defuses a leading = + - @ so that a spreadsheet
  // never runs a caller-supplied name or variable as a formula.
  function csvField(v) {
    var s = v == null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function csvRow(c) {
    return COLUMNS.map(function (k) {
      if (k === 'outcome') return csvField(outcome(c));
      if (k === 'variables') return csvField(JSON.stringify(c.variables || {}));
      if (k === 'disposition') return csvField(c.disposition && c.disposition.code);
      if (k === 'notes') return csvField(c.disposition && c.disposition.notes);
      return csvField(c[k]);
    }).join(',');
  }
  function exportCSV() {
    A.text('h-error', '');
    var all = [], q = query();
    var page = function (cur) {
      return A.api('GET', '/calls?limit=500' + (q ? '&' + q : '') + (cur ? '&cursor=' + encodeURIComponent(cur) : '')).then(function (r) {
        all = all.concat(r.calls);
        if (r.next_cursor && all.length < 10000) return page(r.next_cursor);
      });
    };
    return page('').then(function () {
      var text = COLUMNS.join(',') + '\r\n' + all.map(csvRow).join('\r\n') + (all.length ? '\r\n' : '');
      var a = $('h-download');
      if (a.href) URL.revokeObjectURL(a.href);
      a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      a.textContent = 'Download calls.csv (' + all.length + ' calls)';
      a.hidden = false;
      a.setAttribute('data-rows', String(all.length));
      a.click();
    }, function (e) { A.text('h-error', e.message); });
  }

  $('h-form').addEventListener('submit', function (e) { e.preventDefault(); search(false); });
  $('h-more').addEventListener('click', function () { search(true); });
  $('h-csv').addEventListener('click', exportCSV);

  A.onSignIn(function (settings, users) {
    var fillSelect = function (sel, values, labels) {
      while (sel.options.length > 1) sel.remove(1);
      values.forEach(function (v, i) { var o = document.createElement('option'); o.value = v; o.textContent = labels[i]; sel.appendChild(o); });
    };
    fillSelect($('h-agent'), users.map(function (u) { return u.user_id; }), users.map(function (u) { return u.name + ' (' + u.user_id + ')'; }));
    fillSelect($('h-queue'), settings.queues, settings.queues);
    search(false);
  });
  window.CTIAdminHistory = { csvRow: csvRow, columns: COLUMNS };
})();
