// admin-live.js: the admin's live view, streamed rather than polled. The account's CTI WebSocket
// (docs/vox.md; the token offered as a subprotocol beside "cti.vox", never in the URL) replays
// every retained event and then streams new ones; folding them gives each agent's status and the
// active calls. Each queue's numbers come from GET /api/v1/queues after the events that change
// them, and the service level from today's call records. The wallboard shows the same numbers
// in large tiles for a wall screen (the Wallboard button, or /admin?view=wallboard).
(function () {
  'use strict';
  var A = window.CTIAdmin, $ = A.$;
  var SL_SECONDS = 20; // the "answered within" threshold of the service level
  var users = [], status = {}, calls = {}, chats = {}, queues = [], sock = null, lastSeq = 0, retry = 0;
  var renderTimer = 0, queueTimer = 0, usersTimer = 0, slTimer = 0, ticking = 0;

  // --- the event fold ---------------------------------------------------------------------
  function apply(ev) {
    var d = ev.data || {}, c = calls[d.call_id];
    switch (ev.event) {
      case 'status_changed':
        status[d.user_id] = { status: d.status, reason: d.reason, since: ev.ts };
        if (!users.some(function (u) { return u.user_id === d.user_id; })) later('users');
        break;
      case 'incoming_call':
        c = calls[d.call_id] = calls[d.call_id] || { id: d.call_id, phone: d.phone, name: d.display_name, started: ev.ts };
        c.queue = d.queue || c.queue; c.state = d.user_id ? 'ringing' : 'queued'; c.agent = d.user_id || ''; break;
      case 'outgoing_call': calls[d.call_id] = { id: d.call_id, phone: d.phone, name: '', state: 'dialing', agent: d.user_id, started: ev.ts }; break;
      case 'call_connected': if (c) { c.state = 'connected'; c.agent = d.user_id || c.agent; } break;
      case 'call_held': if (c) c.state = 'held'; break;
      case 'call_retrieved': if (c) c.state = 'connected'; break;
      case 'call_transferred': if (c) { c.state = 'transferring'; c.agent = ''; } break;
      case 'call_disconnected': delete calls[d.call_id]; later('sl'); break;
      case 'media_changed': if (c) c.media = mediaWords(d); break;
      // chats (docs/chat.md): offered to an agent or waiting, accepted, ended
      case 'chat_started':
        chats[d.chat_id] = { id: d.chat_id, name: d.display_name, queue: d.queue, agent: d.user_id || '', state: d.user_id ? 'offered' : 'waiting', started: (chats[d.chat_id] || {}).started || ev.ts };
        break;
      case 'chat_accepted': if (chats[d.chat_id]) { chats[d.chat_id].state = 'active'; chats[d.chat_id].agent = d.user_id; } break;
      case 'chat_ended': delete chats[d.chat_id]; break;
    }
    if (ev.event === 'incoming_call' && calls[d.call_id] && d.media && d.media !== 'audio') calls[d.call_id].media = d.media;
    if (/^(incoming_call|call_|status_changed|outgoing_call)/.test(ev.event)) later('queues');
  }

  // mediaWords says what a video call shows now: "video (customer camera, agent screen)".
  function mediaWords(d) {
    var side = function (who, m) { return m && m.screen ? who + ' screen' : m && m.video ? who + ' camera' : ''; };
    var on = [side('customer', d.customer), side('agent', d.agent)].filter(Boolean);
    return d.media + (d.media === 'audio' ? '' : ' (' + (on.length ? on.join(', ') : 'cameras off') + ')');
  }

  // later coalesces work triggered by a burst of events (a replay of thousands) into one run.
  function later(what) {
    if (what === 'queues' && !queueTimer) queueTimer = setTimeout(function () { queueTimer = 0; loadQueues(); }, 250);
    if (what === 'users' && !usersTimer) usersTimer = setTimeout(function () { usersTimer = 0; loadUsers(); }, 250);
    if (what === 'sl' && !slTimer) slTimer = setTimeout(function () { slTimer = 0; loadServiceLevel(); }, 1000);
    if (what === 'render' && !renderTimer) renderTimer = setTimeout(function () { renderTimer = 0; render(); }, 50);
  }

  // --- the stream -------------------------------------------------------------------------
  function jti(tok) {
    try { return JSON.parse(atob(tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).jti; } catch (e) { return ''; }
  }
  function stream(words, cls) { var b = $('stream'); b.textContent = 'stream: ' + words; b.className = 'badge ' + (cls || ''); }

  function connect() {
    var id = jti(A.token());
    return A.api('GET', '/tokens').then(function (r) {
      var mine = r.tokens.filter(function (t) { return t.token_id === id; })[0];
      if (!mine || !mine.ws_path) throw new Error('The live view needs the CTI WebSocket of this admin token, and the server did not list it.');
      open(mine.ws_path);
    }).catch(A.fail);
  }

  function open(path) {
    var url = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + path;
    var ws = new WebSocket(url, ['cti.vox', 'access_token.' + A.token()]);
    sock = ws;
    stream('connecting…', 'warn');
    ws.onmessage = function (m) {
      var f;
      try { f = JSON.parse(m.data); } catch (e) { return; }
      if (f.event === 'connection_accepted') {
        // resume_from 0 replays everything retained; after a drop, only what was missed.
        ws.send(JSON.stringify({ event: 'connected', sender_id: f.data.sender_id, data: { resume_from: lastSeq } }));
        stream('live', 'on');
        retry = 0;
        return;
      }
      if (f.event === 'resync_required') { status = {}; calls = {}; chats = {}; lastSeq = 0; ws.close(4000, 'resync'); return; }
      if (!f.seq || f.seq <= lastSeq) return;
      lastSeq = f.seq;
      A.text('seq', 'seq ' + lastSeq);
      apply(f);
      A.log(f);
      later('render');
    };
    ws.onclose = function (e) {
      if (sock !== ws) return;
      if (e.code === 4001 || e.code === 4003 || e.code === 1008) { stream('stopped: sign in again', 'off'); return; }
      retry = Math.min(retry + 1, 6);
      stream('reconnecting…', 'warn');
      setTimeout(function () { if (sock === ws) open(path); }, 250 * retry * retry);
    };
  }

  // --- numbers ----------------------------------------------------------------------------
  function loadQueues() { return A.api('GET', '/queues').then(function (r) { queues = r.queues; render(); }, A.fail); }
  function loadUsers() { return A.api('GET', '/users').then(function (r) { users = r.users; render(); }, A.fail); }

  // The service level today: queue calls answered within SL_SECONDS of arriving, of all queue
  // calls that ended today (answered or not). Read from the records, up to 2,000 calls.
  function loadServiceLevel() {
    var midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    var all = [], from = encodeURIComponent(midnight.toISOString().replace(/\.\d+Z$/, 'Z'));
    var page = function (cursor) {
      return A.api('GET', '/calls?limit=500&from=' + from + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (r) {
        all = all.concat(r.calls);
        if (r.next_cursor && all.length < 2000) return page(r.next_cursor);
      });
    };
    return page('').then(function () {
      var ended = all.filter(function (c) { return c.queue && c.ended_at; });
      var fast = ended.filter(function (c) { return c.answered_at && Date.parse(c.answered_at) - Date.parse(c.created_at) <= SL_SECONDS * 1000; });
      var sl = ended.length ? Math.round(100 * fast.length / ended.length) + ' %' : '–';
      A.text('sl', sl); A.text('wb-sl', sl); A.text('wb-today', all.length);
    }, A.fail);
  }

  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    return (h ? h + ':' + two(m) : m) + ':' + two(s % 60);
  }
  function waitOf(q) { return q.oldest_waiting_at ? Date.now() - Date.parse(q.oldest_waiting_at) : 0; }

  // --- rendering --------------------------------------------------------------------------
  function render() {
    var tb = $('agents'), ready = 0, busy = 0;
    tb.textContent = '';
    users.forEach(function (u) {
      var s = status[u.user_id] || { status: 'offline' }, tr = document.createElement('tr');
      tr.setAttribute('data-user', u.user_id);
      tb.appendChild(tr);
      A.cell(tr, u.user_id); A.cell(tr, u.name); A.cell(tr, u.extension); A.cell(tr, (u.queues || []).join(', '));
      var td = A.cell(tr, s.status + (s.reason ? ' (' + s.reason + ')' : ''));
      td.className = 'status';
      td.setAttribute('data-status', s.status);
      var since = A.cell(tr, s.since ? clock(Date.now() - Date.parse(s.since)) : '');
      since.className = 'in-state';
      if (s.since) since.setAttribute('data-since', s.since);
      var actions = A.cell(tr, '');
      if (window.CTIAdminManage) window.CTIAdminManage.actions(actions, u);
      if (s.status === 'ready') ready++;
      if (s.status === 'in_call' || s.status === 'after_call_work') busy++;
    });
    var cb = $('calls'), ids = Object.keys(calls);
    cb.textContent = '';
    ids.forEach(function (id) {
      var c = calls[id], tr = document.createElement('tr');
      tr.setAttribute('data-call', id);
      cb.appendChild(tr);
      A.cell(tr, id); A.cell(tr, (c.name ? c.name + ' ' : '') + (c.phone || '')); A.cell(tr, c.state); A.cell(tr, c.agent); A.cell(tr, c.queue); A.cell(tr, A.when(c.started));
      A.cell(tr, c.media || 'audio').className = 'media';
    });
    $('no-calls').hidden = ids.length > 0;
    var hb = $('chats'), cids = Object.keys(chats), waitingChats = 0;
    hb.textContent = '';
    cids.forEach(function (id) {
      var h = chats[id], tr = document.createElement('tr');
      tr.setAttribute('data-chat', id);
      hb.appendChild(tr);
      A.cell(tr, id); A.cell(tr, h.name); A.cell(tr, h.state).className = 'chat-state'; A.cell(tr, h.agent); A.cell(tr, h.queue); A.cell(tr, A.when(h.started));
      if (h.state !== 'active') waitingChats++;
    });
    $('no-chats').hidden = cids.length > 0;
    A.text('wb-chats', waitingChats);
    var qb = $('queues'), waiting = 0, longest = 0;
    qb.textContent = '';
    queues.forEach(function (q) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-queue', q.name);
      qb.appendChild(tr);
      A.cell(tr, q.name); A.cell(tr, q.waiting).className = 'waiting';
      A.cell(tr, q.waiting ? clock(waitOf(q)) : '–').className = 'longest';
      A.cell(tr, q.agents_ready); A.cell(tr, q.agents_busy); A.cell(tr, q.agents_logged_in);
      waiting += q.waiting;
      longest = Math.max(longest, waitOf(q));
    });
    A.text('wb-waiting', waiting); A.text('wb-longest', clock(longest)); A.text('wb-ready', ready); A.text('wb-busy', busy);
  }

  // Times in state and waits tick every second without a server round trip.
  function tick() {
    Array.prototype.forEach.call(document.querySelectorAll('#agents .in-state[data-since]'), function (td) {
      td.textContent = clock(Date.now() - Date.parse(td.getAttribute('data-since')));
    });
    var longest = 0;
    queues.forEach(function (q) { longest = Math.max(longest, waitOf(q)); });
    A.text('wb-longest', clock(longest));
    Array.prototype.forEach.call(document.querySelectorAll('#queues tr[data-queue]'), function (tr) {
      var q = queues.filter(function (x) { return x.name === tr.getAttribute('data-queue'); })[0];
      if (q && q.waiting) tr.querySelector('.longest').textContent = clock(waitOf(q));
    });
  }

  function wallboard(on) {
    $('wallboard').hidden = !on;
    document.body.classList.toggle('wall', on);
    $('wallboard-btn').setAttribute('aria-pressed', String(on));
    $('wallboard-btn').textContent = on ? 'Back to the console' : 'Wallboard';
  }
  $('wallboard-btn').addEventListener('click', function () { wallboard($('wallboard').hidden); });

  A.onSignIn(function (settings, list) {
    users = list; status = {}; calls = {}; chats = {}; lastSeq = 0;
    if (sock) { var old = sock; sock = null; old.close(); }
    render();
    loadQueues();
    loadServiceLevel();
    connect();
    clearInterval(ticking);
    ticking = setInterval(tick, 1000);
    if (/[?&]view=wallboard/.test(location.search)) wallboard(true);
  });
  window.CTIAdminLive = { users: function () { return users; }, reloadUsers: loadUsers };
})();
