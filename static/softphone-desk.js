// softphone-desk.js: the softphone's desk panels beside the call controls (softphone.js):
// - the not-ready reasons of the account (settings not_ready_reasons) in the reason picker;
// - the directory (GET /api/v1/directory): agents with their live status, queues with their
//   waiting count and the admin's quick connects, searchable, each with Call, or Transfer and
//   Conference during a call; agents' status follows the shim's presence events live (docs/rtc.md,
//   Presence), and the whole directory (queues' waiting counts, new agents) is reloaded on each
//   CONNECTED, on this agent's call changes, on the shim's directoryChanged hints (at most once a
//   second), for an agent it does not know yet, and every 30 s
//   while the tab is visible (the page's ?dir_poll=<seconds> sets that interval, 5 to 3600);
// - my numbers: calls waiting and longest wait in my queues, my calls today and their average
//   handle time (answer to hang-up, from GET /api/v1/calls, which lists an agent's own calls);
// - the speaker and ringer pickers (setSinkId, remembered in localStorage) and a call-quality
//   badge from getStats (round trip, jitter and loss of the call audio, every 2 s).
(function () {
  'use strict';
  // The page may leave any panel out (the demo CRM has no device pickers); its token is in
  // sessionStorage under <body data-token-key> (the softphone's by default).
  var Desk = window.CTIDesk, $ = function (id) { return document.getElementById(id) || stub; };
  var stub = document.createElement('div');
  var me = '', dir = { agents: [], queues: [], quick_connects: [] }, dirTimer = 0, qualityTimer = 0, lastIn = null;
  function token() { return sessionStorage.getItem(document.body.getAttribute('data-token-key') || 'cti-phone-token') || ''; }
  // allowed: a desktop limited by the account's mode offers only its capabilities.
  function allowed(op) { var caps = CTI.getState().capabilities || []; return !caps.length || caps.indexOf(op) >= 0; }
  function api(path) {
    return fetch('/api/v1' + path, { headers: { Authorization: 'Bearer ' + token() } }).then(function (r) {
      if (!r.ok) throw new Error('the server answered ' + r.status + ' for ' + path);
      return r.json();
    });
  }
  function text(id, s) { $(id).textContent = s; }
  function clock(ms) { var s = Math.max(0, Math.round(ms / 1000)); return Math.floor(s / 60) + ':' + (s % 60 < 10 ? '0' : '') + (s % 60); }
  function activeCall() {
    return (CTI.getCalls() || []).filter(function (c) { return c.state === 'connected' || c.state === 'held'; })[0];
  }

  // --- reasons ----------------------------------------------------------------------------
  function reasons(list) {
    if (!list || !list.length) return; // none defined: keep the page's defaults
    var sel = $('reason'), cur = sel.value;
    sel.textContent = '';
    list.forEach(function (r) {
      var o = document.createElement('option');
      o.value = r; o.textContent = r.charAt(0).toUpperCase() + r.slice(1).replace(/_/g, ' ');
      sel.appendChild(o);
    });
    if (list.indexOf(cur) >= 0) sel.value = cur;
  }

  // --- directory --------------------------------------------------------------------------
  function entries() {
    var out = [];
    dir.agents.forEach(function (a) {
      if (a.user_id === me) return;
      out.push({ kind: 'agent', id: a.user_id, dest: a.extension || a.user_id, name: a.name,
        detail: (a.extension ? 'ext. ' + a.extension + ' · ' : '') + Desk.label(a.status, a.reason), status: a.status,
        search: [a.name, a.user_id, a.extension].join(' ') });
    });
    dir.queues.forEach(function (q) {
      out.push({ kind: 'queue', id: q.name, dest: q.name, name: 'Queue ' + q.name,
        detail: q.waiting + ' waiting · ' + q.agents_ready + ' ready', search: 'queue ' + q.name });
    });
    dir.quick_connects.forEach(function (q) {
      out.push({ kind: 'quick', id: q.name, dest: q.destination, name: q.name, detail: q.destination, search: q.name + ' ' + q.destination });
    });
    return out;
  }
  function renderDirectory() {
    var ul = $('dir-list'), want = ($('dir-search').value || '').trim().toLowerCase(), c = activeCall();
    ul.textContent = '';
    entries().filter(function (e) { return !want || e.search.toLowerCase().indexOf(want) >= 0; }).forEach(function (e) {
      var li = document.createElement('li'), who = document.createElement('span'), d = document.createElement('span');
      li.setAttribute('data-kind', e.kind); li.setAttribute('data-id', e.id);
      who.textContent = e.name + ' ';
      d.className = e.kind === 'agent' ? 'status' : 'muted';
      if (e.status) d.setAttribute('data-status', e.status);
      d.textContent = e.detail;
      who.appendChild(d);
      li.appendChild(who);
      var acts = document.createElement('span');
      (c ? [['Transfer', 'transfer', function () { return CTI.blindTransfer(c.callId, e.dest); }], ['Conference', 'conference', function () { return CTI.conferenceInitiate(c.callId, e.dest); }]]
        : [['Call', 'dial', function () { return CTI.makeCall(e.dest); }]]).forEach(function (a) {
        if (!allowed(a[1])) return;
        var b = document.createElement('button');
        b.type = 'button'; b.className = 'secondary small'; b.textContent = a[0];
        b.setAttribute('aria-label', a[0] + ' ' + e.name);
        b.addEventListener('click', function () { a[2]().catch(function (err) { text('error', err.errMessage || err.message || String(err)); }); });
        acts.appendChild(b);
      });
      li.appendChild(acts);
      ul.appendChild(li);
    });
  }
  function loadDirectory() {
    if (document.visibilityState === 'hidden' || !token()) return Promise.resolve();
    return api('/directory').then(function (d) { keepNewer(d.agents); dir = d; renderDirectory(); numbers(); }, function () {});
  }
  // keepNewer keeps a status a presence frame brought when a directory read answered after it
  // with an older one (the read was sent before the change): the later since wins.
  function keepNewer(agents) {
    var known = {};
    dir.agents.forEach(function (a) { known[a.user_id] = a; });
    agents.forEach(function (a) {
      var k = known[a.user_id];
      if (k && k.since && (!a.since || Date.parse(k.since) > Date.parse(a.since))) { a.status = k.status; a.reason = k.reason; a.since = k.since; }
    });
  }
  // pollSeconds is the safety-net reload interval: 30 s, or the page's ?dir_poll= (5 to 3600).
  function pollSeconds() {
    var m = /[?&]dir_poll=(\d+)/.exec(location.search), n = m ? Number(m[1]) : 30;
    return Math.min(3600, Math.max(5, n));
  }
  // directoryChanged (a call I am not on moved queue counts) reloads the directory, at most once
  // a second: the reload a second after the first hint covers every hint until it runs.
  var reloadSoon = 0;
  CTI.on('directoryChanged', function () {
    if (!reloadSoon) reloadSoon = setTimeout(function () { reloadSoon = 0; loadDirectory(); }, 1000);
  });
  // presence applies another agent's status change; an agent not listed yet reloads the list.
  CTI.on('presence', function (p) {
    var a = dir.agents.filter(function (x) { return x.user_id === p.userId; })[0];
    if (!a) { loadDirectory(); return; }
    a.status = p.status; a.reason = p.reason; a.since = p.since;
    renderDirectory();
  });

  // --- conference parties ---------------------------------------------------------------
  // parties[callId] lists who joined the call (PartyInfoEvent PartyAdded) until they leave,
  // each with a Remove button (dropParty takes an agent's user id or a number's party id).
  var parties = {};
  CTI.on('PartyInfoEvent', function (e) {
    var list = parties[e.callId] = parties[e.callId] || [], id = e.party || e.partyId;
    if (e.pyEventName === 'PartyAdded' && id && !list.some(function (p) { return p.id === id; })) list.push({ id: id, user: e.party, phone: e.pyDN });
    if (e.pyEventName === 'PartyRemoved') parties[e.callId] = list.filter(function (p) { return p.id !== id; });
    renderParties();
  });
  function renderParties() {
    var ul = $('parties'), c = activeCall(), list = c ? parties[c.callId] || [] : [];
    ul.textContent = '';
    ul.hidden = !list.length;
    list.forEach(function (p) {
      var li = document.createElement('li'), who = document.createElement('span'), b = document.createElement('button');
      var a = p.user && dir.agents.filter(function (x) { return x.user_id === p.user; })[0];
      who.textContent = a ? a.name + (a.extension ? ' (ext. ' + a.extension + ')' : '') : p.phone || p.id;
      li.setAttribute('data-party', p.id);
      b.type = 'button'; b.className = 'secondary small'; b.textContent = 'Remove';
      b.hidden = !allowed('removeparty');
      b.setAttribute('aria-label', 'Remove ' + who.textContent + ' from the call');
      b.addEventListener('click', function () { CTI.dropParty(c.callId, p.id).catch(function (err) { text('error', err.errMessage || String(err)); }); });
      li.appendChild(who); li.appendChild(b);
      ul.appendChild(li);
    });
  }

  // --- my numbers -------------------------------------------------------------------------
  function numbers() {
    var mine = dir.agents.filter(function (a) { return a.user_id === me; })[0], qs = mine && mine.queues.length ? mine.queues : null;
    var waiting = 0, longest = 0;
    dir.queues.forEach(function (q) {
      if (qs && qs.indexOf(q.name) < 0) return;
      waiting += q.waiting;
      if (q.oldest_waiting_at) longest = Math.max(longest, Date.now() - Date.parse(q.oldest_waiting_at));
    });
    text('n-waiting', String(waiting));
    text('n-longest', waiting ? clock(longest) : '–');
  }
  function today() {
    var midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    return api('/calls?limit=500&from=' + encodeURIComponent(midnight.toISOString().replace(/\.\d+Z$/, 'Z'))).then(function (r) {
      var handled = r.calls.filter(function (c) { return c.answered_at && c.ended_at; });
      var total = handled.reduce(function (s, c) { return s + Date.parse(c.ended_at) - Date.parse(c.answered_at); }, 0);
      text('n-today', String(r.calls.length) + (r.next_cursor ? '+' : ''));
      text('n-aht', handled.length ? clock(total / handled.length) : '–');
    }, function () {});
  }

  // --- devices ----------------------------------------------------------------------------
  function outputs() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    navigator.mediaDevices.enumerateDevices().then(function (list) {
      [['speaker', 'cti-speaker-sink'], ['ringer-device', 'cti-ring-sink']].forEach(function (p) {
        if (!document.getElementById(p[0])) return;
        var sel = $(p[0]), saved = localStorage.getItem(p[1]) || '';
        while (sel.options.length > 1) sel.remove(1);
        list.filter(function (d) { return d.kind === 'audiooutput' && d.deviceId !== 'default'; }).forEach(function (d, i) {
          var o = document.createElement('option');
          o.value = d.deviceId; o.textContent = d.label || 'Speaker ' + (i + 1);
          sel.appendChild(o);
        });
        sel.value = saved;
        if (sel.value !== saved) sel.value = '';
      });
    });
  }
  function applySpeaker() {
    var a = document.querySelector('audio[data-cti-audio]'), sink = localStorage.getItem('cti-speaker-sink') || '';
    if (a && a.setSinkId && a.sinkId !== sink) a.setSinkId(sink).catch(function (e) { text('error', 'speaker: ' + e.message); });
  }
  $('speaker').addEventListener('change', function () { localStorage.setItem('cti-speaker-sink', $('speaker').value); applySpeaker(); });
  $('ringer-device').addEventListener('change', function () { localStorage.setItem('cti-ring-sink', $('ringer-device').value); });
  new MutationObserver(applySpeaker).observe(document.body, { childList: true });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) navigator.mediaDevices.addEventListener('devicechange', outputs);

  // --- quality ----------------------------------------------------------------------------
  // grade turns round trip (s), jitter (s) and loss (fraction) into good / fair / poor.
  function grade(rtt, jitter, loss) {
    if (rtt < 0.3 && jitter < 0.03 && loss < 0.01) return 'good';
    if (rtt < 0.5 && jitter < 0.05 && loss < 0.03) return 'fair';
    return 'poor';
  }
  function quality() {
    var pc = CTI.getPeerConnection(), q = $('quality');
    if (!pc || !activeCall()) { q.textContent = 'no call'; q.className = 'badge'; q.removeAttribute('data-quality'); lastIn = null; return; }
    pc.getStats().then(function (stats) {
      var rtt = 0, jitter = 0, lost = 0, got = 0;
      stats.forEach(function (s) {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') { jitter = s.jitter || 0; lost = s.packetsLost || 0; got = s.packetsReceived || 0; }
      });
      var dl = lastIn ? lost - lastIn.lost : lost, dg = lastIn ? got - lastIn.got : got, loss = dl + dg > 0 ? Math.max(0, dl) / (dl + dg) : 0;
      lastIn = { lost: lost, got: got };
      var g = grade(rtt, jitter, loss);
      q.setAttribute('data-quality', g);
      q.className = 'badge ' + (g === 'good' ? 'on' : g === 'fair' ? 'warn' : 'off');
      q.textContent = g + ' · ' + Math.round(rtt * 1000) + ' ms · jitter ' + Math.round(jitter * 1000) + ' ms · loss ' + (loss * 100).toFixed(1) + ' %';
      q.setAttribute('data-packets', String(got));
    }, function () {});
  }

  // --- wiring -----------------------------------------------------------------------------
  $('dir-search').addEventListener('input', renderDirectory);
  CTI.on('link', function (l) {
    if (l.state !== 'CONNECTED') { clearInterval(dirTimer); clearInterval(qualityTimer); return; }
    me = CTI.getState().pyAgentId || me;
    api('/settings').then(function (s) { if (document.getElementById('reason')) reasons(s.not_ready_reasons); }, function () {});
    loadDirectory(); today(); outputs();
    clearInterval(dirTimer); dirTimer = setInterval(loadDirectory, pollSeconds() * 1000);
    clearInterval(qualityTimer); qualityTimer = setInterval(quality, 2000);
  });
  var lastState = {};
  CTI.on('CallEvent', function (e) {
    if (e.state === 'ended') delete parties[e.callId];
    if (lastState[e.callId] !== e.state) loadDirectory(); // queue counts move with my calls
    lastState[e.callId] = e.state;
    if (e.state === 'ended') delete lastState[e.callId];
    renderDirectory();
    renderParties();
    if (e.state === 'ended' || e.pyEventName === 'Disconnected') today();
  });
  document.addEventListener('visibilitychange', loadDirectory);
  window.CTIDeskPanels = { grade: grade, reload: loadDirectory };
})();
