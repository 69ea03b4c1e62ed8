// softphone.js: the agent's standalone phone (client=phone: never limited by the telephony mode).
// It is built on window.CTI like any page, so its tab is one of the agent's phones.
(function () {
  'use strict';
  var CTI = window.CTI, Desk = window.CTIDesk;
  var $ = function (id) { return document.getElementById(id); };
  var calls = {}, current = '', timer = 0, audioCtx = null, meters = {};

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
  function run(p) { text('error', ''); return p.catch(fail); }
  function call() { return current && calls[current]; }

  // --- level meters (Web Audio analysers, polled: they keep working in a background tab) ---
  function meter(id, stream) {
    if (!stream || !window.AudioContext) return;
    audioCtx = audioCtx || new AudioContext();
    if (meters[id]) meters[id].src.disconnect();
    var src = audioCtx.createMediaStreamSource(stream), an = audioCtx.createAnalyser();
    an.fftSize = 512;
    src.connect(an);
    meters[id] = { src: src, an: an, buf: new Float32Array(an.fftSize) };
  }
  setInterval(function () {
    Object.keys(meters).forEach(function (id) {
      var m = meters[id], sum = 0;
      m.an.getFloatTimeDomainData(m.buf);
      for (var i = 0; i < m.buf.length; i++) sum += m.buf[i] * m.buf[i];
      $(id).value = Math.min(1, Math.sqrt(sum / m.buf.length) * 4);
    });
  }, 100);
  document.addEventListener('click', function () { if (audioCtx && audioCtx.state === 'suspended') audioCtx.resume(); });

  function devices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    navigator.mediaDevices.enumerateDevices().then(function (list) {
      var sel = $('device'), cur = sel.value;
      sel.textContent = '';
      list.filter(function (d) { return d.kind === 'audioinput'; }).forEach(function (d, i) {
        var o = document.createElement('option');
        o.value = d.deviceId; o.textContent = d.label || 'Microphone ' + (i + 1);
        sel.appendChild(o);
      });
      if (cur) sel.value = cur;
    });
  }

  // --- calls -----------------------------------------------------------------------------
  function render() {
    var c = call();
    var alerting = c && c.state === 'alerting', active = c && !alerting;
    $('incoming').hidden = !alerting;
    $('call').hidden = !active;
    $('device').disabled = !!c;
    $('device-note').hidden = !c;
    text('btn-dial', active ? 'Send tones' : 'Call');
    if (alerting) {
      text('in-name', c.displayName || c.phone || 'Unknown caller');
      text('in-phone', c.phone);
      text('in-source', c.source + ' · ' + (c.media || []).join(', '));
      text('incoming-h', isVideo(c) ? 'Incoming video call' : 'Incoming call');
      text('in-queue', c.queue || '–');
      var dl = $('in-vars');
      dl.textContent = '';
      Object.keys(c.variables).sort().forEach(function (k) {
        var dt = document.createElement('dt'), dd = document.createElement('dd');
        dt.textContent = k; dd.textContent = c.variables[k];
        dl.appendChild(dt); dl.appendChild(dd);
      });
    }
    if (active) {
      text('call-with', c.displayName || c.phone);
      text('call-state', c.state);
      $('btn-hold').disabled = c.state !== 'connected';
      $('btn-retrieve').disabled = c.state !== 'held';
      text('btn-mute', c.muted ? 'Unmute' : 'Mute');
      $('btn-mute').setAttribute('aria-pressed', String(!!c.muted));
      showVideo(c);
      if (!timer) timer = setInterval(tick, 500);
      tick();
    } else if (timer) { clearInterval(timer); timer = 0; }
  }
  function tick() {
    var c = call();
    text('call-timer', Desk.clock(c && c.connectedAt ? Date.now() - c.connectedAt : 0));
  }
  var agentState = { status: 'offline', reason: '', since: '' };
  function showStatus() {
    text('agent-status', Desk.label(agentState.status, agentState.reason));
    $('agent-status').setAttribute('data-status', agentState.status);
    text('agent-since', Desk.since(agentState.since));
  }
  setInterval(showStatus, 1000);
  function pickCurrent() {
    if (calls[current]) return;
    current = Object.keys(calls)[0] || '';
  }

  CTI.on('Snapshot', function (s) {
    text('agent-id', s.pyAgentId);
    agentState = { status: s.status, reason: s.reason, since: s.since };
    showStatus();
    $('btn-take').disabled = s.mediaOwner;
    calls = {};
    s.pyCalls.forEach(function (c) { calls[c.callId] = c; });
    pickCurrent();
    render();
  });
  CTI.on('AgentEvent', function (e) {
    agentState = { status: e.status, reason: e.reason, since: e.since || '' };
    showStatus();
    log('status ' + Desk.label(e.status, e.reason));
  });
  CTI.on('CallEvent', function (e) {
    log(e.pyEventName + ' ' + (e.displayName || e.phone) + (e.code ? ': ' + Desk.sip(e.code, e.reason) : ''));
    if (e.state === 'ended') delete calls[e.callId]; else calls[e.callId] = e;
    if (e.state !== 'ended' && (!calls[current] || e.state === 'alerting' && !current)) current = e.callId;
    pickCurrent();
    render();
  });
  CTI.on('alertStop', function (a) { if (calls[a.callId] && calls[a.callId].state === 'alerting') { $('incoming').hidden = true; } });
  CTI.on('phone', function (p) {
    text('mic-state', Desk.micWords(p));
    $('btn-mic-retry').hidden = !!p.mic;
    if (p.state === 'mic' || p.state === 'connected') { meter('level', CTI.getMicrophoneStream()); devices(); }
    var pc = CTI.getPeerConnection();
    if (p.state === 'connected' && pc) {
      var r = pc.getReceivers().filter(function (x) { return x.track && x.track.kind === 'audio'; })[0];
      if (r) meter('rx-level', new MediaStream([r.track]));
    }
  });
  CTI.on('error', fail);
  // --- video (docs/video.md): the customer's picture, this agent's own, camera and screen buttons
  // a video call, or a screen share from a chat (its kind arrives with media_changed)
  function isVideo(c) { return (c.media || []).some(function (m) { return m === 'video' || m === 'screen'; }) || !!(c.mediaState && c.mediaState.media !== 'audio'); }
  function showVideo(c) {
    var v = isVideo(c), ag = (c.mediaState || {}).agent || {};
    $('videos').hidden = $('video-row').hidden = !v; // the boxes stay with both cameras off
    attach(v ? CTI.getVideo() : { remote: null, local: null });
    text('btn-camera', ag.video ? 'Camera off' : 'Camera on');
    $('btn-camera').setAttribute('aria-pressed', String(!!ag.video));
    text('btn-screen', ag.screen ? 'Stop sharing' : 'Share screen');
    $('btn-screen').setAttribute('aria-pressed', String(!!ag.screen));
  }
  // The streams go into the video elements only during a video call: a media element waiting
  // for a first frame delays the page's load event.
  function attach(v) {
    if ($('remote-video').srcObject !== v.remote) $('remote-video').srcObject = v.remote;
    var l = v.local && v.local.getVideoTracks()[0], cur = $('self-video').srcObject;
    if (!l) $('self-video').srcObject = null;
    else if (!cur || cur.getVideoTracks()[0] !== l) $('self-video').srcObject = v.local;
  }
  CTI.on('video', function () { var c = call(); if (c && c.state !== 'alerting') render(); });
  CTI.on('MediaEvent', function (e) {
    var c = calls[e.callId];
    if (c) c.mediaState = { media: e.media, customer: e.customer, agent: e.agent };
    if (e.pyEventName !== 'MediaChanged') log((e.pyEventName === 'ScreenShareStarted' ? 'screen sharing started by ' : 'screen sharing stopped by ') + e.by);
    render();
  });
  $('btn-camera').addEventListener('click', function () { var c = call(); if (c) run(((c.mediaState || {}).agent || {}).video ? CTI.disableVideo(current) : CTI.enableVideo(current)); });
  $('btn-screen').addEventListener('click', function () { var c = call(); if (c) run(((c.mediaState || {}).agent || {}).screen ? CTI.stopScreenShare(current) : CTI.startScreenShare(current)); });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) navigator.mediaDevices.addEventListener('devicechange', devices);

  var start = Desk.session({ storageKey: 'cti-phone-token', client: 'phone', signin: 'signin', sections: ['agent', 'mic', 'numbers', 'directory', 'dialer'], link: 'link', media: 'media', error: 'error' });
  // Ringing: ring_timeout_seconds from the account settings (read with the agent token).
  var ringTimeout = 20;
  CTI.on('link', function (l) {
    if (l.state !== 'CONNECTED') return;
    fetch('/api/v1/settings', { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('cti-phone-token') } })
      .then(function (r) { return r.ok ? r.json() : {}; }).then(function (st) { if (st.ring_timeout_seconds) ringTimeout = st.ring_timeout_seconds; }, function () {});
  });
  var ring = Desk.ringer({ answer: 'btn-answer', countdown: 'ring-countdown', timeoutSeconds: function () { return ringTimeout; } });
  $('ring-volume').value = localStorage.getItem('cti-ring-volume') || '0.8';
  $('ring-muted').checked = localStorage.getItem('cti-ring-muted') === '1';
  $('ring-volume').addEventListener('input', function () { localStorage.setItem('cti-ring-volume', $('ring-volume').value); ring.prefs(); });
  $('ring-muted').addEventListener('change', function () { localStorage.setItem('cti-ring-muted', $('ring-muted').checked ? '1' : '0'); ring.prefs(); });
  $('ring-test').addEventListener('click', function () { ring.prefs(); ring.audio.play().then(function () { setTimeout(function () { if (!ring.ringing()) ring.audio.pause(); }, 1500); }, fail); });
  Desk.shortcuts({ toggle: 'shortcuts-on', answer: 'btn-answer', hangup: 'btn-hangup', hold: ['btn-hold', 'btn-retrieve'], mute: 'btn-mute' });
  $('btn-mic-retry').addEventListener('click', function () { run(CTI.retryMicrophone()); });

  $('signin-form').addEventListener('submit', function (e) { e.preventDefault(); start($('token').value.trim()); });
  $('btn-ready').addEventListener('click', function () { run(CTI.agentReady()); });
  $('btn-notready').addEventListener('click', function () { run(CTI.agentNotReady($('reason').value)); });
  $('btn-take').addEventListener('click', function () { run(CTI.takeMedia()); });
  $('btn-logout').addEventListener('click', function () { sessionStorage.removeItem('cti-phone-token'); run(CTI.logout()); });
  $('btn-answer').addEventListener('click', function () { run(CTI.answerCall(current)); });
  $('btn-reject').addEventListener('click', function () { run(CTI.rejectCall(current)); });
  $('btn-hangup').addEventListener('click', function () { run(CTI.hangUpCall(current)); });
  $('btn-hold').addEventListener('click', function () { run(CTI.holdCall(current)); });
  $('btn-retrieve').addEventListener('click', function () { run(CTI.retrieveCall(current)); });
  $('btn-mute').addEventListener('click', function () { var c = call(); if (c) run(c.muted ? CTI.unmuteCall(current) : CTI.muteCall(current)); });
  $('transfer-form').addEventListener('submit', function (e) { e.preventDefault(); run(CTI.blindTransfer(current, $('transfer-to').value.trim())); });
  $('btn-conference').addEventListener('click', function () { run(CTI.conferenceInitiate(current, $('transfer-to').value.trim())); });
  $('drop-form').addEventListener('submit', function (e) { e.preventDefault(); run(CTI.dropParty(current, $('drop-who').value.trim())); });
  $('device').addEventListener('change', function () {
    run(CTI.setMicrophone($('device').value).then(function (d) { log('microphone ' + d.label); meter('level', CTI.getMicrophoneStream()); }));
  });

  // Dial pad: in a call each key sends a tone; otherwise it types the number.
  '123456789*0#'.split('').forEach(function (k) {
    var b = document.createElement('button');
    b.type = 'button'; b.textContent = k; b.setAttribute('aria-label', k === '*' ? 'star' : k === '#' ? 'hash' : k);
    b.addEventListener('click', function () {
      var c = call();
      $('number').value += k;
      if (c && c.state === 'connected') run(CTI.sendDTMF(current, k));
    });
    $('pad').appendChild(b);
  });
  function dial() {
    var v = $('number').value.trim(), c = call();
    if (!v) return;
    if (c && c.state !== 'alerting') return run(CTI.sendDTMF(current, v)).then(function () { $('number').value = ''; });
    run(CTI.makeCall(v).then(function (r) { log('dialing ' + v + ' (' + r.callId + ')'); $('number').value = ''; }));
  }
  $('btn-dial').addEventListener('click', dial);
  $('number').addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); dial(); } });
  $('btn-clear').addEventListener('click', function () { $('number').value = ''; });

  window.CTIConsult({ destFrom: 'transfer-to', current: function () { return current; }, run: run }); // consult-ui.js

  // The account's notify_monitored tells agents a supervisor is on their call (docs/supervision.md).
  CTI.on('raw', function (ev) {
    if (ev.event !== 'monitor_started' && ev.event !== 'monitor_ended') return;
    var d = ev.data || {};
    $('monitored').hidden = ev.event === 'monitor_ended';
    text('monitored', ev.event === 'monitor_started' ? 'supervisor ' + d.supervisor_id + ' (' + d.mode + ')' : '');
  });

  var tok = Desk.tokenFromPage('cti-phone-token');
  if (tok) start(tok);
})();
