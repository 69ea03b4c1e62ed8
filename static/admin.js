// admin.js: the admin page's shell: sign-in, the REST helper (/api/v1 with the admin token) and
// its plain-word errors, the mode and the tokens. The other parts plug in through
// window.CTIAdmin: admin-live.js (the streamed live view and the wallboard), admin-manage.js
// (agents and settings) and admin-history.js (call history). Each registers onSignIn.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var token = '', minted = [], signedIn = [];

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
  var FIELDS = { sub: 'Subject', ttl: 'Lifetime', role: 'Role', mode: 'Mode', name: 'Name', extension: 'Extension', queues: 'Queues',
    ring_timeout_seconds: 'Ring time', queue_timeout_seconds: 'Longest wait in a queue', wrap_up_seconds: 'After-call work',
    hold_grace_seconds: 'Hold grace', missed_call_reason: 'Reason after a missed call', max_connections: 'Most connections',
    'ivr.greeting': 'Greeting prompt', 'ivr.timeout_seconds': 'Seconds to wait for a key', 'ivr.default_queue': 'Queue when no key is pressed',
    'ivr.menu': 'Menu', ivr: 'IVR menu', not_ready_reasons: 'Not-ready reasons', quick_connects: 'Quick connects',
    allowed_origins: 'Sites that may use the shim', frame_ancestors: 'Sites that may embed the pages', user_id: 'User id',
    disposition_codes: 'Disposition codes', disposition_required: 'Disposition required', text: 'Prompt text', voice: 'Voice' };
  var ORIGIN = 'an origin such as https://crm.example.com (scheme, host and an optional port; no path, no trailing /)';
  var QUEUE = 'a queue name of lowercase letters, digits, - and _ (at most 32)';
  var PLAIN = { ttl: 'a lifetime such as 8h, 30m or 1h30m (hours, minutes, seconds; at most 8784h)',
    allowed_origins: ORIGIN, frame_ancestors: ORIGIN, queues: QUEUE, 'ivr.default_queue': QUEUE, 'ivr.menu': QUEUE,
    not_ready_reasons: 'a reason of letters, digits, spaces and . _ - (at most 64)', missed_call_reason: 'a reason of letters, digits, spaces and . _ - (at most 64)',
    quick_connects: 'a phone number, extension, agent id or queue (letters, digits and + * # . _ @ -, at most 64)',
    disposition_codes: 'a code of lowercase letters, digits, - and _ (at most 32) = a label (at most 64)',
    extension: '2 to 8 digits', user_id: 'letters, digits and . _ @ - (at most 128)' };
  // plainFor is the plain rule of a field path, by the path or by its list ("queues.2" -> queues).
  function plainFor(f) { return PLAIN[f] || PLAIN[f.replace(/\.\d+(\..*)?$/, '')] || PLAIN[f.replace(/\.[^.]+$/, '')]; }
  function problemWords(status, j) {
    if (status === 401) {
      var d = j.detail || '';
      return 'The token ' + (/expired/i.test(d) ? 'expired' : /revoked/i.test(d) ? 'was revoked' : 'is not valid here') + ': sign in with a new one';
    }
    if (status === 403) return 'This token may not do that (an admin token is needed).';
    if (j.errors && j.errors.length) {
      var seen = {};
      return j.errors.map(function (x) {
        var f = String(x.field || '').replace(/^\/+|^\$\.?/g, ''), label = fieldLabel(f);
        var rule = plainFor(f), m = rule && /pattern|match|duration|minLength|length/i.test(x.message) ? 'must be ' + rule : x.message;
        var line = label + ': ' + m;
        if (seen[line]) return '';
        seen[line] = 1;
        return line;
      }).filter(Boolean).join('. ') + '.';
    }
    return (j.detail || j.title || 'The server refused (' + status + ')') + '';
  }
  // fieldLabel names a field path in words: "queues.2" is "Queues, line 3".
  function fieldLabel(f) {
    if (FIELDS[f]) return FIELDS[f];
    var m = /^(.*)\.(\d+)(\..*)?$/.exec(f);
    if (m && FIELDS[m[1]]) return FIELDS[m[1]] + ', line ' + (Number(m[2]) + 1);
    m = /^ivr\.menu\.(.+)$/.exec(f);
    if (m) return 'Menu, key ' + m[1];
    return f || 'Request';
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

  function signIn(t) {
    token = t;
    text('error', '');
    var settings;
    return api('GET', '/settings').then(function (s) {
      settings = s;
      $('mode').value = s.mode;
      return api('GET', '/users');
    }).then(function (r) {
      sessionStorage.setItem('cti-admin-token', t);
      $('signin').hidden = true;
      ['mode-sec', 'tokens-sec', 'agents-sec', 'calls-sec', 'chats-sec', 'queues-sec', 'settings-sec', 'history-sec', 'wallboard-btn'].forEach(function (id) { if ($(id)) $(id).hidden = false; });
      text('who', 'signed in');
      loadTokens();
      signedIn.forEach(function (fn) { fn(settings, r.users); });
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
        ' · last used ' + (m.last_used_at ? new Date(m.last_used_at).toLocaleString() : 'never') + (m.revoked ? ' (revoked)' : expired ? ' (expired)' : '');
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

  function log(ev) {
    var li = document.createElement('li');
    li.textContent = ev.seq + ' ' + when(ev.ts) + ' ' + ev.event + ' ' + JSON.stringify(ev.data);
    var ol = $('log');
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 50) ol.removeChild(ol.lastChild);
  }

  window.CTIAdmin = {
    $: $, api: api, text: text, fail: fail, cell: cell, when: when, log: log, problemWords: problemWords,
    token: function () { return token; },
    onSignIn: function (fn) { signedIn.push(fn); }
  };

  // The other admin scripts (deferred, after this one) register first; then sign in.
  document.addEventListener('DOMContentLoaded', function () {
    var m = /[#&]token=([^&]+)/.exec(location.hash), tok = m ? decodeURIComponent(m[1]) : sessionStorage.getItem('cti-admin-token');
    if (m) history.replaceState(null, '', location.pathname + location.search);
    if (tok) signIn(tok);
  });
})();
