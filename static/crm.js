// crm.js: the demo CRM page. It uses window.CTI exactly as a CRM would: init, mode-aware controls,
// a screen-pop card, click-to-dial links and an event log.
(function () {
  'use strict';
  var CTI = window.CTI, Desk = window.CTIDesk;
  var $ = function (id) { return document.getElementById(id); };
  // A tiny customer directory: the screen pop looks the caller's number up here.
  var DIRECTORY = {
    '+15550100': { name: 'Ada Lovelace', account: 'ACME-1001 (Gold)' },
    '+15550101': { name: 'Grace Hopper', account: 'NAVY-2002 (Silver)' },
    '+15550102': { name: 'Alan Turing', account: 'BLETCH-3003' }
  };
  var CONTACTS = [
    { label: 'Agent Two (ext. 1002)', dest: '1002' },
    { label: 'Support queue', dest: 'support' },
    { label: 'Sales queue', dest: 'sales' },
    { label: 'Ada Lovelace +1 555 0100', dest: '+15550100' }
  ];
  var caps = [], calls = {}, current = '', timer = 0;

  function text(id, s) { $(id).textContent = s == null ? '' : String(s); }
  function log(s) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + ' ' + s;
    var ol = $('log');
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 100) ol.removeChild(ol.lastChild);
  }
  function fail(e) {
    var m = Desk.words(e);
    text('error', m);
    log('error ' + m + (e && e.errCode ? ' [' + e.errCode + ']' : ''));
  }
  var agentState = { status: 'offline', reason: '', since: '' };
  function showStatus() {
    text('agent-status', Desk.label(agentState.status, agentState.reason));
    $('agent-status').setAttribute('data-status', agentState.status);
    text('agent-since', Desk.since(agentState.since));
  }
  setInterval(showStatus, 1000);
  function run(p) { text('error', ''); return p.catch(fail); }

  // Mode-aware controls: an element with data-op is shown only when the mode allows that operation.
  function applyCaps(c) {
    caps = c.capabilities;
    text('mode', 'mode: ' + (c.mode || '–'));
    document.querySelectorAll('[data-op]').forEach(function (el) { el.hidden = caps.indexOf(el.getAttribute('data-op')) < 0; });
    $('dial-note').hidden = caps.indexOf('dial') >= 0;
    text('mode-note', c.mode === 'simple' ? 'Simple telephony: answer and control calls on your phone; this page pops the caller.' :
      c.mode === 'agent-state' ? 'Agent-state telephony: set your state here; control calls on your phone.' : '');
    renderCall();
  }

  function renderContacts() {
    var ul = $('contact-list');
    ul.textContent = '';
    CONTACTS.forEach(function (c) {
      var li = document.createElement('li');
      var span = document.createElement('span');
      span.textContent = c.label;
      var a = document.createElement('a');
      a.href = 'tel:' + c.dest;
      a.textContent = 'Call';
      a.setAttribute('data-op', 'dial');
      a.setAttribute('data-dial', c.dest);
      a.setAttribute('aria-label', 'Call ' + c.label);
      a.addEventListener('click', function (e) {
        e.preventDefault();
        run(CTI.makeCall(c.dest, { crm_contact: c.label.replace(/[^A-Za-z0-9 .-]/g, '') }).then(function (r) { log('dialing ' + c.dest + ' (' + r.callId + ')'); }));
      });
      li.appendChild(span);
      li.appendChild(a);
      ul.appendChild(li);
    });
  }

  function renderCall() {
    var c = current && calls[current];
    $('call').hidden = !c;
    if (!c) { clearInterval(timer); timer = 0; return; }
    text('call-state', c.state);
    var st = c.state;
    var en = { answer: st === 'alerting', reject: st === 'alerting', hangup: true, hold: st === 'connected', retrieve: st === 'held', mute: st !== 'alerting' && !c.muted, unmute: c.muted };
    Object.keys(en).forEach(function (op) { $('btn-' + op).disabled = !en[op]; });
    ['btn-transfer', 'btn-conference', 'btn-dtmf'].forEach(function (id) { $(id).disabled = st !== 'connected' && st !== 'held'; });
    if (c.connectedAt && !timer) timer = setInterval(tick, 500);
    tick();
    renderVideo(c);
  }
  // --- video calls (docs/video.md): both sides' cameras and screens; the buttons follow the mode
  function isVideo(m) { return (m || []).some(function (k) { return k === 'video' || k === 'screen'; }); }
  function renderVideo(c) {
    var v = (isVideo(c.media) || !!(c.mediaState && c.mediaState.media !== 'audio')) && c.state !== 'alerting', m = c.mediaState || {}, cu = m.customer || {}, ag = m.agent || {};
    $('video-call').hidden = !v;
    var say = function (s) { return s.screen ? 'screen shared' : s.video ? 'camera on' : 'camera off'; };
    text('video-state', v && m.media ? 'Customer: ' + say(cu) + ' · You: ' + say(ag) : '');
    text('btn-camera', ag.video ? 'Camera off' : 'Camera on');
    text('btn-screen', ag.screen ? 'Stop sharing' : 'Share screen');
    var s = v ? CTI.getVideo() : { remote: null, local: null }; // only during a video call: see softphone.js
    if ($('remote-video').srcObject !== s.remote) $('remote-video').srcObject = s.remote;
    var l = s.local && s.local.getVideoTracks()[0], cur = $('self-video').srcObject;
    if (!l) $('self-video').srcObject = null; else if (!cur || cur.getVideoTracks()[0] !== l) $('self-video').srcObject = s.local;
  }
  function tick() {
    var c = current && calls[current];
    text('call-timer', Desk.clock(c && c.connectedAt ? Date.now() - c.connectedAt : 0));
  }
  // popEnded marks the caller card of a call that ended here (it stays up for the notes).
  function popEnded(e) {
    var card = $('pop');
    if (card.getAttribute('data-call-id') !== e.callId) return;
    var why = e.pyEventName === 'Abandoned' || e.code === 487 ? 'Caller hung up before the answer'
      : e.reason === 'left' ? (transferredTo[e.callId] ? 'Transferred to ' + transferredTo[e.callId] : 'You left the call')
        : e.code ? 'Not connected: ' + Desk.sip(e.code, e.reason)
          : e.endedBy === 'agent' ? 'You hung up' : e.endedBy === 'remote' ? 'The caller hung up' : 'Call ended';
    card.classList.remove('alerting');
    card.classList.add('ended');
    card.setAttribute('data-ended', why);
    text('pop-ended', why + (e.durationMs ? ' · ' + Desk.clock(e.durationMs) : ''));
    $('pop-ended').hidden = false;
  }
  var transferredTo = {};

  function screenPop(p) {
    var who = DIRECTORY[p.caller.phone];
    text('pop-name', who ? who.name : p.caller.name || p.caller.phone || 'Unknown caller');
    text('pop-phone', p.caller.phone);
    text('pop-customer', who ? who.name : 'not in the directory');
    text('pop-account', who ? who.account : '–');
    text('pop-source', p.caller.source + (p.caller.media.length ? ' · ' + p.caller.media.join(', ') : ''));
    text('pop-queue', p.queue || '–');
    $('pop-video').hidden = !isVideo(p.caller.media); // the inbound video call notification (every mode)
    var dl = $('pop-vars');
    dl.textContent = '';
    Object.keys(p.variables).sort().forEach(function (k) {
      var dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = k; dd.textContent = p.variables[k];
      dl.appendChild(dt); dl.appendChild(dd);
    });
    var card = $('pop');
    card.hidden = false;
    card.classList.remove('ended');
    card.removeAttribute('data-ended');
    $('pop-ended').hidden = true;
    card.classList.add('alerting');
    card.setAttribute('data-call-id', p.callId);
    card.setAttribute('data-event-ts', p.ts || '');
    card.setAttribute('data-rendered-at', String(Date.now()));
  }

  function onCall(e) {
    log('CallEvent ' + e.pyEventName + ' ' + e.pyCallId + (e.code ? ' ' + e.code + ' ' + (e.reason || '') : ''));
    if (e.pyEventName === 'Transferred') transferredTo[e.callId] = e.to;
    if (e.state === 'ended') {
      popEnded(e);
      delete calls[e.callId];
      if (current === e.callId) current = Object.keys(calls)[0] || '';
      if (!current) $('pop').classList.remove('alerting');
    } else {
      calls[e.callId] = e;
      if (!current || !calls[current]) current = e.callId;
      if (e.state !== 'alerting') $('pop').classList.remove('alerting');
    }
    renderCall();
  }

  var start = Desk.session({ storageKey: 'cti-crm-token', client: 'desktop', signin: 'signin', sections: ['agent', 'numbers', 'directory', 'contacts'], link: 'link', media: 'media', error: 'error', onSignedIn: applyCaps });

  CTI.on('Snapshot', function (s) {
    text('agent-id', s.pyAgentId);
    agentState = { status: s.status, reason: s.reason, since: s.since };
    showStatus();
    calls = {};
    s.pyCalls.forEach(function (c) { calls[c.callId] = c; });
    if (!calls[current]) current = Object.keys(calls)[0] || '';
    renderCall();
    log('Snapshot ' + s.pyAgentState + ', ' + s.pyCalls.length + ' call(s)');
  });
  CTI.on('AgentEvent', function (e) {
    agentState = { status: e.status, reason: e.reason, since: e.since || '' };
    showStatus();
    log('AgentEvent ' + e.pyEventName + (e.pyReasonCode ? ' ' + e.pyReasonCode : ''));
  });
  CTI.on('CallEvent', onCall);
  CTI.on('screenPop', screenPop);
  CTI.on('CallInfoEvent', function (e) { log('CallInfo ' + e.callId + ' ' + JSON.stringify(e.variables)); });
  CTI.on('capabilities', applyCaps);
  CTI.on('alertStop', function () { $('pop').classList.remove('alerting'); });
  CTI.on('link', function (l) { log('link ' + l.state); });
  CTI.on('phone', function (p) { if (p.state === 'nomic' || p.state === 'failed') log('phone ' + p.state + ' ' + (p.micError || p.detail)); });
  CTI.on('error', fail);
  CTI.on('MediaEvent', function (e) {
    log('MediaEvent ' + e.pyEventName + ' ' + e.callId + (e.by ? ' by ' + e.by : ''));
    if (calls[e.callId]) calls[e.callId].mediaState = { media: e.media, customer: e.customer, agent: e.agent };
    renderCall();
  });
  CTI.on('video', function () { renderCall(); });
  $('btn-camera').addEventListener('click', function () { var c = calls[current], a = ((c && c.mediaState) || {}).agent || {}; run(a.video ? CTI.disableVideo(current) : CTI.enableVideo(current)); });
  $('btn-screen').addEventListener('click', function () { var c = calls[current], a = ((c && c.mediaState) || {}).agent || {}; run(a.screen ? CTI.stopScreenShare(current) : CTI.startScreenShare(current)); });

  $('signin-form').addEventListener('submit', function (e) { e.preventDefault(); start($('token').value.trim()); });
  $('btn-ready').addEventListener('click', function () { run(CTI.agentReady()); });
  $('btn-notready').addEventListener('click', function () { run(CTI.agentNotReady($('reason').value)); });
  $('btn-logout').addEventListener('click', function () { run(CTI.logout()); });
  $('btn-answer').addEventListener('click', function () { run(CTI.answerCall(current)); });
  $('btn-reject').addEventListener('click', function () { run(CTI.rejectCall(current)); });
  $('btn-hangup').addEventListener('click', function () { run(CTI.hangUpCall(current)); });
  $('btn-hold').addEventListener('click', function () { run(CTI.holdCall(current)); });
  $('btn-retrieve').addEventListener('click', function () { run(CTI.retrieveCall(current)); });
  $('btn-mute').addEventListener('click', function () { run(CTI.muteCall(current)); });
  $('btn-unmute').addEventListener('click', function () { run(CTI.unmuteCall(current)); });
  $('transfer-form').addEventListener('submit', function (e) { e.preventDefault(); run(CTI.blindTransfer(current, $('transfer-to').value.trim())); });
  $('conference-form').addEventListener('submit', function (e) { e.preventDefault(); run(CTI.conferenceInitiate(current, $('conference-to').value.trim())); });
  $('dtmf-form').addEventListener('submit', function (e) { e.preventDefault(); run(CTI.sendDTMF(current, $('dtmf').value.trim())); });

  var ringTimeout = 20;
  CTI.on('link', function (l) {
    if (l.state !== 'CONNECTED') return;
    fetch('/api/v1/settings', { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('cti-crm-token') } })
      .then(function (r) { return r.ok ? r.json() : {}; }).then(function (st) { if (st.ring_timeout_seconds) ringTimeout = st.ring_timeout_seconds; }, function () {});
  });
  Desk.ringer({ answer: 'btn-answer', countdown: 'ring-countdown', timeoutSeconds: function () { return ringTimeout; } });
  Desk.shortcuts({ toggle: 'shortcuts-on', answer: 'btn-answer', hangup: 'btn-hangup', hold: ['btn-hold', 'btn-retrieve'], mute: ['btn-mute', 'btn-unmute'] });
  renderContacts();
  // #token=… signs in at once (then leaves the address bar); a reload of the tab reuses it.
  window.CTIConsult({ destFrom: 'transfer-to', current: function () { return current; }, run: run }); // consult-ui.js

  var tok = Desk.tokenFromPage('cti-crm-token');
  if (tok) start(tok);
})();
