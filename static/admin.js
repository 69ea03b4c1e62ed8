// admin.js: the admin page. REST only (/api/v1 with the admin token): users, settings (mode),
// tokens; live agent status and active calls come from folding the account's event log
// (GET /api/v1/events, read from the oldest retained event, then polled every 1.5 s).
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var token = '', since = 0, users = [], status = {}, calls = {}, minted = [], polling = 0, busy = false;

  function text(id, s) { $(id).textContent = s == null ? '' : String(s); }
  function fail(e) { text('error', e.message || String(e)); }
  function api(method, path, body) {
    var o = { method: method, headers: { Authorization: 'Bearer ' + token } };
    if (body) { o.headers['Content-Type'] = 'application/json'; o.body = JSON.stringify(body); }
    return fetch('/api/v1' + path, o).then(function (r) {
      if (r.status === 204) return null;
      return r.json().then(function (j) {
        if (!r.ok) {
          var e = new Error(problemWords(r.status, j));
          e.status = r.status; e.problem = j;
          throw e;
        }
        return j;
      });
    });
  }
  // problemWords says what a REST refusal means in plain words: each field once, by its label,
  // never a schema pattern; a refused admin token in the same words as the agent pages.
  var FIELDS = { sub: 'Subject', ttl: 'Lifetime', role: 'Role', mode: 'Mode', name: 'Name', extension: 'Extension', queues: 'Queues' };
  var PLAIN = { ttl: 'a lifetime such as 8h, 30m or 1h30m (hours, minutes, seconds; at most 8784h)' };
  function problemWords(status, j) {
    if (status === 401) {
      var d = j.detail || '';
      return 'The token ' + (/expired/i.test(d) ? 'expired' : /revoked/i.test(d) ? 'was revoked' : 'is not valid here') + ': sign in with a new one';
    }
    if (status === 403) return 'This token may not do that (an admin token is needed).';
    if (j.errors && j.errors.length) {
      var seen = {};
      return j.errors.map(function (x) {
        var f = String(x.field || '').replace(/^\/+|^\$\.?/g, ''), label = FIELDS[f] || f || 'Request';
        var m = PLAIN[f] && /pattern|match|duration|minLength|length/i.test(x.message) ? 'must be ' + PLAIN[f] : x.message;
        var line = label + ': ' + m;
        if (seen[line]) return '';
        seen[line] = 1;
        return line;
      }).filter(Boolean).join('. ') + '.';
    }
    return (j.detail || j.title || 'The server refused (' + status + ')') + '';
  }
  // cell adds a cell labelled with its column's heading (shown beside the value on narrow screens).
  function cell(tr, s) {
    var td = document.createElement('td'), th = tr.parentNode && tr.parentNode.parentNode.querySelectorAll('thead th')[tr.children.length];
    td.textContent = s == null ? '' : String(s);
    if (th) td.setAttribute('data-label', th.textContent);
    tr.appendChild(td);
    return td;
  }
  function when(ts) { return ts ? new Date(ts).toLocaleTimeString() : ''; }

  // --- the event fold ---------------------------------------------------------------------
  function apply(ev) {
    var d = ev.data || {}, c = calls[d.call_id];
    switch (ev.event) {
      case 'status_changed': status[d.user_id] = { status: d.status, reason: d.reason, since: ev.ts }; break;
      case 'incoming_call':
        c = calls[d.call_id] = calls[d.call_id] || { id: d.call_id, phone: d.phone, name: d.display_name, started: ev.ts };
        c.queue = d.queue || c.queue; c.state = d.user_id ? 'ringing' : 'queued'; c.agent = d.user_id || ''; break;
      case 'outgoing_call': calls[d.call_id] = { id: d.call_id, phone: d.phone, name: '', state: 'dialing', agent: d.user_id, started: ev.ts }; break;
      case 'call_connected': if (c) { c.state = 'connected'; c.agent = d.user_id || c.agent; } break;
      case 'call_held': if (c) c.state = 'held'; break;
      case 'call_retrieved': if (c) c.state = 'connected'; break;
      case 'call_transferred': if (c) { c.state = 'transferring'; c.agent = ''; } break;
      case 'call_disconnected': delete calls[d.call_id]; break;
    }
  }
  function log(ev) {
    var li = document.createElement('li');
    li.textContent = ev.seq + ' ' + when(ev.ts) + ' ' + ev.event + ' ' + JSON.stringify(ev.data);
    var ol = $('log');
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 50) ol.removeChild(ol.lastChild);
  }
  function poll() {
    if (busy) return Promise.resolve();
    busy = true;
    var page = function () {
      return api('GET', '/events?limit=1000&since=' + since).then(function (r) {
        r.events.forEach(function (ev) { apply(ev); log(ev); });
        since = r.next_since;
        text('seq', 'seq ' + since);
        if (r.events.length === 1000) return page();
      }, function (e) {
        if (e.status === 410 && e.problem && e.problem.oldest_seq) { since = e.problem.oldest_seq - 1; return page(); }
        throw e;
      });
    };
    return page().then(render, fail).then(function () { busy = false; });
  }

  function render() {
    var tb = $('agents');
    tb.textContent = '';
    users.forEach(function (u) {
      var s = status[u.user_id] || { status: 'offline' }, tr = document.createElement('tr');
      tr.setAttribute('data-user', u.user_id);
      tb.appendChild(tr);
      cell(tr, u.user_id); cell(tr, u.name); cell(tr, u.extension); cell(tr, (u.queues || []).join(', '));
      var td = cell(tr, s.status + (s.reason ? ' (' + s.reason + ')' : ''));
      td.className = 'status';
      cell(tr, when(s.since));
    });
    var cb = $('calls'), ids = Object.keys(calls);
    cb.textContent = '';
    ids.forEach(function (id) {
      var c = calls[id], tr = document.createElement('tr');
      tr.setAttribute('data-call', id);
      cb.appendChild(tr);
      cell(tr, id); cell(tr, (c.name ? c.name + ' ' : '') + (c.phone || '')); cell(tr, c.state); cell(tr, c.agent); cell(tr, c.queue); cell(tr, when(c.started));
    });
    $('no-calls').hidden = ids.length > 0;
  }

  function signIn(t) {
    token = t;
    text('error', '');
    return api('GET', '/settings').then(function (s) {
      $('mode').value = s.mode;
      return api('GET', '/users');
    }).then(function (r) {
      users = r.users;
      sessionStorage.setItem('cti-admin-token', t);
      $('signin').hidden = true;
      ['mode-sec', 'tokens-sec', 'agents-sec', 'calls-sec'].forEach(function (id) { $(id).hidden = false; });
      text('who', 'signed in');
      since = 0; status = {}; calls = {};
      loadTokens();
      return poll();
    }).then(function () {
      clearInterval(polling);
      polling = setInterval(poll, 1500);
    }).catch(function (e) { fail(e); token = ''; });
  }

  // Tokens: every token of the account (GET /api/v1/tokens), newest first, each revocable.
  function loadTokens() {
    return api('GET', '/tokens').then(function (r) { minted = r.tokens; renderTokens(); }, fail);
  }
  function renderTokens() {
    var ul = $('token-list');
    ul.textContent = '';
    minted.forEach(function (m) {
      var li = document.createElement('li'), span = document.createElement('span'), b = document.createElement('button');
      var expired = Date.parse(m.expires_at) < Date.now();
      span.textContent = m.role + ' ' + m.sub + ' · ' + m.token_id + ' · expires ' + new Date(m.expires_at).toLocaleString() +
        ' · last used ' + (m.last_used_at ? new Date(m.last_used_at).toLocaleString() : 'not recorded') + (m.revoked ? ' (revoked)' : expired ? ' (expired)' : '');
      li.setAttribute('data-token-id', m.token_id);
      b.type = 'button'; b.className = 'secondary'; b.textContent = 'Revoke'; b.disabled = !!m.revoked || expired;
      b.setAttribute('aria-label', 'Revoke the ' + m.role + ' token of ' + m.sub);
      b.addEventListener('click', function () { revoke(m.token_id); });
      li.appendChild(span); li.appendChild(b);
      ul.appendChild(li);
    });
  }
  function revoke(id) {
    return api('DELETE', '/tokens/' + encodeURIComponent(id)).then(function () { text('error', ''); return loadTokens(); }, fail);
  }

  $('signin-form').addEventListener('submit', function (e) { e.preventDefault(); signIn($('token').value.trim()); });
  $('mode-form').addEventListener('submit', function (e) {
    e.preventDefault();
    text('mode-saved', '');
    api('PUT', '/settings', { mode: $('mode').value }).then(function (s) { text('mode-saved', 'saved: ' + s.mode); }, fail);
  });
  $('mint-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var body = { role: $('mint-role').value, sub: $('mint-sub').value.trim() };
    if ($('mint-ttl').value.trim()) body.ttl = $('mint-ttl').value.trim();
    if (body.ttl && !/^(\d+h)?(\d+m)?(\d+s)?$/.test(body.ttl)) return fail(new Error('Lifetime: must be ' + PLAIN.ttl + '.'));
    api('POST', '/tokens', body).then(function (r) {
      $('minted').hidden = false;
      $('minted-token').value = r.token;
      text('minted-id', r.token_id);
      text('minted-ws', r.ws_url);
      var a = $('minted-open');
      a.hidden = body.role !== 'agent';
      a.href = '/softphone#token=' + encodeURIComponent(r.token);
      loadTokens();
      text('error', '');
    }, fail);
  });
  $('minted-copy').addEventListener('click', function () {
    var v = $('minted-token').value;
    (navigator.clipboard ? navigator.clipboard.writeText(v) : Promise.reject(new Error('no clipboard'))).then(function () { text('minted-copied', 'copied'); },
      function () { $('minted-token').select(); text('minted-copied', 'selected: press Ctrl+C'); });
  });
  $('revoke-form').addEventListener('submit', function (e) { e.preventDefault(); revoke($('revoke-id').value.trim()); });

  var m = /[#&]token=([^&]+)/.exec(location.hash), tok = m ? decodeURIComponent(m[1]) : sessionStorage.getItem('cti-admin-token');
  if (m) history.replaceState(null, '', location.pathname + location.search);
  if (tok) signIn(tok);
})();
