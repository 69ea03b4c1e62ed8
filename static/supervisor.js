// supervisor.js: the supervisor page (docs/supervision.md). One /rtc connection with the
// supervisor token is both the live view (a snapshot of the account's agents and calls, then
// every event) and the supervisor's phone (one persistent peer connection); the Listen, Whisper,
// Barge and Stop buttons send the monitor commands on it.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var ws = null, pc = null, me = '', agents = {}, calls = {}, mons = {}, watching = null, nextId = 1, pending = {}, refresh = 0;

  function text(id, s) { $(id).textContent = s == null ? '' : String(s); }
  function log(s) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + ' ' + s;
    var ol = $('log');
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 100) ol.removeChild(ol.lastChild);
  }
  function fail(m) { text('error', m); log('error ' + m); }
  function send(v) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(v)); }
  function command(cmd, fields) {
    var id = 'p' + nextId++, m = { type: 'command', request_id: id, command: cmd };
    Object.keys(fields || {}).forEach(function (k) { m[k] = fields[k]; });
    return new Promise(function (resolve, reject) { pending[id] = { resolve: resolve, reject: reject }; send(m); });
  }
  function cell(tr, s) {
    var td = document.createElement('td'), th = tr.parentNode && tr.parentNode.parentNode.querySelectorAll('thead th')[tr.children.length];
    td.textContent = s == null ? '' : String(s);
    if (th) td.setAttribute('data-label', th.textContent);
    tr.appendChild(td);
    return td;
  }

  // --- the live view ------------------------------------------------------------------------
  function render() {
    var tb = $('agents');
    tb.textContent = '';
    Object.keys(agents).sort().forEach(function (id) {
      var a = agents[id], tr = document.createElement('tr');
      tr.setAttribute('data-user', id);
      tb.appendChild(tr);
      cell(tr, id); cell(tr, a.name); cell(tr, a.status + (a.reason ? ' (' + a.reason + ')' : '')); cell(tr, (a.calls || []).join(', '));
    });
    var cb = $('calls'), ids = Object.keys(calls);
    cb.textContent = '';
    ids.forEach(function (id) {
      var c = calls[id], tr = document.createElement('tr'), m = mons[id] || {};
      tr.setAttribute('data-call', id);
      cb.appendChild(tr);
      cell(tr, id); cell(tr, (c.display_name ? c.display_name + ' ' : '') + (c.phone || '')); cell(tr, c.state);
      cell(tr, (c.agents || []).join(', '));
      cell(tr, Object.keys(m).map(function (s) { return s + ' (' + m[s] + ')'; }).join(', '));
      var td = cell(tr, '');
      ['listen', 'whisper', 'barge'].forEach(function (mode) {
        var b = document.createElement('button');
        b.type = 'button'; b.textContent = mode[0].toUpperCase() + mode.slice(1);
        b.setAttribute('data-mode', mode);
        b.className = m[me] === mode ? 'ok' : 'secondary';
        b.setAttribute('aria-pressed', String(m[me] === mode));
        b.disabled = c.state !== 'connected' && c.state !== 'held';
        b.addEventListener('click', function () { monitor(id, mode); });
        td.appendChild(b);
      });
      if (m[me]) {
        var stop = document.createElement('button');
        stop.type = 'button'; stop.textContent = 'Stop'; stop.className = 'danger'; stop.setAttribute('data-mode', 'stop');
        stop.addEventListener('click', function () { unmonitor(id); });
        td.appendChild(stop);
      }
    });
    $('no-calls').hidden = ids.length > 0;
    text('monitoring', watching ? watching.call + ' (' + watching.mode + ')' : 'nothing');
  }
  function monitor(id, mode) {
    text('error', '');
    command('monitor', { call_id: id, arg: mode }).then(function () { log(mode + ' ' + id); }, function (e) { fail(e.message); });
  }
  function unmonitor(id) {
    text('error', '');
    command('unmonitor', { call_id: id }).then(function () { log('stopped ' + id); }, function (e) { fail(e.message); });
  }
  function snapshot(s) {
    agents = {}; calls = {};
    (s.agents || []).forEach(function (a) { agents[a.user_id] = a; });
    (s.calls || []).forEach(function (c) { calls[c.call_id] = c; });
    Object.keys(mons).forEach(function (id) { if (!calls[id]) delete mons[id]; });
    render();
  }
  function onEvent(ev) {
    var d = ev.data || {};
    log(ev.seq + ' ' + ev.event + ' ' + (d.call_id || d.user_id || ''));
    switch (ev.event) {
      case 'status_changed':
        agents[d.user_id] = agents[d.user_id] || { user_id: d.user_id, calls: [] };
        agents[d.user_id].status = d.status; agents[d.user_id].reason = d.reason;
        break;
      case 'monitor_started':
        (mons[d.call_id] = mons[d.call_id] || {})[d.supervisor_id] = d.mode;
        if (d.supervisor_id === me) watching = { call: d.call_id, mode: d.mode };
        break;
      case 'monitor_ended':
        if (mons[d.call_id]) delete mons[d.call_id][d.supervisor_id];
        if (d.supervisor_id === me) watching = null;
        break;
    }
    if (d.call_id && !refresh) refresh = setTimeout(function () { refresh = 0; command('snapshot').catch(function () {}); }, 150);
    render();
  }

  // --- the phone ----------------------------------------------------------------------------
  function phone() {
    var md = navigator.mediaDevices;
    var mic = md && md.getUserMedia ? md.getUserMedia({ audio: true }).catch(function () { return null; }) : Promise.resolve(null);
    mic.then(function (stream) {
      pc = new RTCPeerConnection({ iceServers: [] });
      if (stream) stream.getAudioTracks().forEach(function (t) { pc.addTrack(t, stream); }); else pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.ontrack = function (e) {
        var a = document.createElement('audio');
        a.autoplay = a.hidden = true;
        a.srcObject = e.streams[0] || new MediaStream([e.track]);
        document.body.appendChild(a);
        a.play().catch(function () {});
      };
      pc.onicecandidate = function (e) { if (e.candidate && e.candidate.candidate) send({ type: 'candidate', candidate: e.candidate.toJSON() }); };
      pc.onconnectionstatechange = function () { text('phone', 'phone: ' + pc.connectionState + (stream ? '' : ' (no microphone: listen only)')); };
      return pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).then(function () {
        send({ type: 'offer', sdp: pc.localDescription.sdp, mic: !!stream });
      });
    }).catch(function (e) { fail('phone: ' + e); });
  }

  function start(tok) {
    if (!tok) return;
    sessionStorage.setItem('cti-supervisor-token', tok);
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/rtc';
    try { ws = new WebSocket(url, ['cti.rtc', 'access_token.' + tok]); } catch (e) { return fail(String(e)); }
    text('link', 'connecting');
    ws.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (x) { return; }
      switch (m.type) {
        case 'welcome':
          if (m.role !== 'supervisor') { fail('this is not a supervisor token'); ws.close(); return; }
          me = m.user_id; text('link', 'signed in as ' + me);
          $('signin').hidden = true;
          ['monitor-sec', 'agents-sec', 'calls-sec'].forEach(function (id) { $(id).hidden = false; });
          phone();
          break;
        case 'snapshot': snapshot(m); break;
        case 'event': onEvent(m.event); break;
        case 'answer': if (pc) pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch(function (x) { fail(String(x)); }); break;
        case 'candidate': if (pc && m.candidate) pc.addIceCandidate(m.candidate).catch(function () {}); break;
        case 'result': if (pending[m.request_id]) { pending[m.request_id].resolve(m.data); delete pending[m.request_id]; } break;
        case 'error':
          if (pending[m.request_id]) { pending[m.request_id].reject(new Error(m.message)); delete pending[m.request_id]; } else fail(m.message);
          break;
      }
    };
    ws.onclose = function (e) {
      text('link', 'signed out (' + e.code + ')');
      if (e.code === 4003 || e.code === 1006 && !me) { sessionStorage.removeItem('cti-supervisor-token'); $('signin').hidden = false; }
    };
  }

  // For tests and embedding pages: the phone's peer connection and the call monitored now.
  window.CTISupervisor = { peerConnection: function () { return pc; }, watching: function () { return watching; } };

  $('signin-form').addEventListener('submit', function (e) { e.preventDefault(); start($('token').value.trim()); });
  var hash = /[#&]token=([^&]+)/.exec(location.hash);
  if (hash) { history.replaceState(null, '', location.pathname + location.search); start(decodeURIComponent(hash[1])); } else start(sessionStorage.getItem('cti-supervisor-token'));
})();
