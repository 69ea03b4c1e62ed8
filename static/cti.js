/*! cti.js: the cti-adapter JS shim (Pega OpenCTI-style), no dependencies; docs/js.md.
 * Classic script: sets window.CTI. Module: import CTI from "/static/cti.mjs" (the same object). */
((g) => {
  'use strict';
  if (g.CTI && g.CTI.version) return; // loaded twice (classic and module): keep the first
  const now = () => Date.now(), perf = () => (g.performance ? performance.now() : 0);
  const t0 = perf(), VERSION = '1.0.0', TIMEOUT = 15000, DEST = /^[A-Za-z0-9+*#._@-]{1,64}$/;
  const BASE = ['login', 'logout', 'setdata'], STATE = [...BASE, 'ready', 'notready'];
  const MODES = { simple: BASE, 'agent-state': STATE, full: [...STATE, 'dial', 'answer', 'reject', 'hangup', 'hold', 'retrieve', 'mute', 'unmute', 'senddtmf', 'transfer', 'conference', 'removeparty', 'consult', 'video', 'screenshare'] };
  // method -> the mode operation (modes/modes.go) that governs it
  const OPS = {
    login: 'login', logout: 'logout', agentReady: 'ready', agentNotReady: 'notready', makeCall: 'dial',
    answerCall: 'answer', rejectCall: 'reject', hangUpCall: 'hangup', holdCall: 'hold', retrieveCall: 'retrieve',
    muteCall: 'mute', unmuteCall: 'unmute', sendDTMF: 'senddtmf', blindTransfer: 'transfer',
    conferenceInitiate: 'conference', dropParty: 'removeparty', setCallData: 'setdata',
    consultationCall: 'consult', transferInitiate: 'consult', transferComplete: 'consult', conferenceComplete: 'consult',
    enableVideo: 'video', disableVideo: 'video', startScreenShare: 'screenshare', stopScreenShare: 'screenshare'
  };
  const AGENT = { offline: 'Logout', online: 'Login', ready: 'Ready', dnd: 'NotReady', in_call: 'Busy', after_call_work: 'NotReady' };
  const WORK = { ready: 'MODE_AUTO_IN', online: 'MODE_MANUAL_IN', dnd: 'AUX_WORK', in_call: 'BUSY', after_call_work: 'ACW' };
  const CALLTYPE = { inbound: 'INBOUND', outbound: 'OUTBOUND', internal: 'INTERNAL' };
  const CALLSTATE = { alerting: 'Alerting', dialing: 'Initiated', connected: 'Connected', held: 'Held' };

  // All mutable state of the shim (one per page).
  const S = {
    opts: null, client: 'desktop', token: '', http: '', acct: '',
    ws: null, gen: 0, live: false, wanted: false, everUp: false, tries: 0, retry: 0, resumed: false, openedAt: 0,
    seq: 0, session: '', user: '', mode: '', caps: [], owner: false, agent: { status: 'offline', reason: '' },
    exp: 0, skew: 0, calls: {}, failed: {}, reqs: {}, nreq: 0, waiters: [], handlers: {},
    pc: null, stream: null, mic: false, micError: '', deviceId: '', audio: null, cands: [],
    bc: null, tab: Math.random().toString(36).slice(2, 10), tabs: {}
  };

  const err = (errCode, errMessage) => ({ errCode, errMessage });
  const reject = (code, msg) => Promise.reject(err(code, msg));
  const assign = (a, b) => { for (const k in b) if (b[k] !== undefined) a[k] = b[k]; return a; };

  // --- events ---------------------------------------------------------------------------------
  const on = (name, fn) => { (S.handlers[name] = S.handlers[name] || []).push(fn); return CTI; };
  const off = (name, fn) => {
    if (!fn) delete S.handlers[name]; else S.handlers[name] = (S.handlers[name] || []).filter((h) => h !== fn);
    return CTI;
  };
  const emit = (name, payload) => (S.handlers[name] || []).slice().forEach((h) => {
    try { h(payload); } catch (e) { setTimeout(() => { throw e; }); } // one bad handler does not stop the others
  });

  // --- Pega shapes ----------------------------------------------------------------------------
  const agentEvent = (status, reason, extra) => assign({
    pyEventType: 'AgentStateEvent', pyEventName: AGENT[status] || 'Unknown', pyMedia: 'Phone', pyAgentId: S.user,
    pyReasonCode: reason || '', pyWorkMode: WORK[status] || 'MODE_NONE', status, reason: reason || ''
  }, extra || {});
  const callEvent = (name, c, extra) => {
    const inbound = c.direction !== 'outbound' && c.caller !== S.user;
    return assign({
      pyEventType: 'CallStateEvent', pyEventName: name, pyMedia: 'Phone', pyCallId: c.callId,
      pyCallType: c.consultOf ? 'CONSULT' : c.caller === S.user && c.direction === 'internal' ? 'INTERNAL' : CALLTYPE[c.direction] || 'UNKNOWN', consultOf: c.consultOf || '',
      pyANI: inbound ? c.phone : S.user, pyDNIS: inbound ? S.user : c.phone, pyOtherDN: c.phone, pyThisDN: S.user,
      pyCallData: { ...c.variables }, callId: c.callId, state: c.state, phone: c.phone, displayName: c.displayName,
      source: c.source, media: c.media, queue: c.queue, variables: { ...c.variables }, muted: c.muted, connectedAt: c.connectedAt,
      mediaState: c.mediaState
    }, extra || {});
  };
  const snapshotEvent = () => assign(agentEvent(S.agent.status, S.agent.reason), {
    pyEventType: 'SnapshotEvent', pyEventName: 'Snapshot', pyAgentState: AGENT[S.agent.status] || 'Unknown',
    pyLinkState: S.live ? 'CONNECTED' : 'DISCONNECTED', pyDeviceState: S.agent.phone_ready ? 'OPENED' : 'CLOSED',
    pyCalls: Object.values(S.calls).map((c) => callEvent(CALLSTATE[c.state] || 'Unknown', c)),
    mode: S.mode, capabilities: S.caps.slice(), mediaOwner: S.owner,
    audio: S.owner ? 'this-tab' : S.agent.media_owner ? 'other-tab' : 'none', since: S.agent.since || '', sessionId: S.session, sessions: S.agent.sessions || 0, mic: S.mic
  });

  // --- local call model -----------------------------------------------------------------------
  const fromView = (v) => {
    const old = S.calls[v.call_id] || {};
    const st = v.ringing === S.user ? 'alerting' : v.held ? 'held' : v.state === 'connected' ? 'connected' : v.caller === S.user ? 'dialing' : 'alerting';
    return assign(old, {
      callId: v.call_id, state: st, direction: v.direction, phone: v.phone, displayName: v.display_name || '', source: v.source,
      media: v.media, queue: v.queue || '', caller: v.caller || '', variables: v.variables || {}, muted: (v.muted || []).includes(S.user), consultOf: v.consult_of || '',
      mediaState: v.media_state || old.mediaState || vid.defaults(vid.kind(v.media)),
      // the timer counts from the answer on the server, also in a tab opened during the call
      connectedAt: old.connectedAt || (st === 'connected' || st === 'held' ? serverTime(v.answered_at || v.created_at) : 0)
    });
  };
  // serverTime turns a server timestamp into this browser's clock (skew measured on live events).
  const serverTime = (ts) => (ts && !isNaN(Date.parse(ts)) ? Math.min(now(), Date.parse(ts) + S.skew) : now());
  const newCall = (d, state, extra) => (S.calls[d.call_id] = assign(S.calls[d.call_id] || {
    callId: d.call_id, direction: 'inbound', phone: d.phone || '', displayName: d.display_name || '', source: d.source || 'internal',
    media: [].concat(d.media || 'audio'), queue: d.queue || '', caller: '', variables: {}, muted: false, connectedAt: 0, consultOf: d.consult_of || '',
    mediaState: vid.defaults(vid.kind([].concat(d.media || 'audio')))
  }, assign({ state }, extra || {})));
  const gone = (id, name, extra) => {
    const c = S.calls[id];
    if (!c) return;
    delete S.calls[id];
    if (c.state === 'alerting') emit('alertStop', { callId: id });
    c.state = 'ended';
    emit('CallEvent', callEvent(name, c, extra));
    vid.follow();
  };
  const party = (name, c, d, x) => emit('PartyInfoEvent', assign({
    pyEventType: 'PartyInfoEvent', pyEventName: name, pyCallId: c.callId, pyDN: d.phone || d.user_id, callId: c.callId, party: d.user_id, partyId: d.party_id, code: d.code, reason: d.reason
  }, x));

  // onEvent applies one account event ({event, seq, ts, data}) and emits its Pega form.
  const onEvent = (ev) => {
    if (ev.seq) {
      if (ev.seq <= S.seq) return; // already seen (a resume overlaps)
      S.seq = ev.seq;
    }
    emit('raw', ev);
    const d = ev.data || {}, me = d.user_id === S.user, n = ev.event;
    // replayed: appended before this connection opened, i.e. delivered by resume_from
    const x = { seq: ev.seq, ts: ev.ts, replayed: S.resumed && Date.parse(ev.ts) < S.openedAt };
    if (!x.replayed && ev.ts && S.live) S.skew = now() - Date.parse(ev.ts);
    let c = S.calls[d.call_id];
    if (n === 'status_changed' && me) {
      S.agent.status = d.status; S.agent.reason = d.reason || ''; S.agent.since = ev.ts || '';
      emit('AgentEvent', agentEvent(d.status, d.reason, assign({ previous: d.previous, since: ev.ts }, x)));
    } else if (n === 'incoming_call' && me) {
      c = newCall(d, 'alerting', { phone: d.phone, displayName: d.display_name || '', queue: d.queue || '', variables: d.variables || {} });
      emit('CallEvent', callEvent('Alerting', c, x));
      emit('screenPop', assign({
        callId: c.callId, caller: { phone: d.phone || '', name: d.display_name || '', source: d.source || '', media: [].concat(d.media || []) },
        queue: d.queue || '', variables: { ...d.variables }
      }, x));
    } else if (n === 'outgoing_call' && me) {
      emit('CallEvent', callEvent('Initiated', newCall(d, 'dialing', { direction: 'outbound', caller: S.user, variables: d.variables || {} }), x));
    } else if (n === 'call_connected' && me && c && c.answered) {
      c.answered = false; c.connectedAt = serverTime(ev.ts); // already applied by answerCall
    } else if (n === 'call_connected' && (c || me)) {
      c = c || newCall(d, 'connected');
      if (c.state === 'alerting') emit('alertStop', { callId: c.callId });
      c.state = 'connected'; c.connectedAt = c.connectedAt || serverTime(ev.ts);
      emit('CallEvent', callEvent(me ? 'Connected' : 'Established', c, x));
      vid.follow();
    } else if ((n === 'call_held' || n === 'call_retrieved') && c) {
      c.state = n === 'call_held' ? 'held' : 'connected';
      emit('CallEvent', callEvent(n === 'call_held' ? 'Held' : 'Retrieved', c, x));
    } else if ((n === 'call_muted' || n === 'call_unmuted') && c && me) {
      c.muted = n === 'call_muted';
      emit('CallEvent', callEvent(c.muted ? 'Muted' : 'Unmuted', c, x));
    } else if (n === 'data_updated' && c) {
      c.variables = d.variables || {};
      emit('CallInfoEvent', assign({ pyEventType: 'CallInfoEvent', pyEventName: 'CallInfo', pyCallId: c.callId, pyCallData: { ...c.variables }, callId: c.callId, variables: { ...c.variables } }, x));
    } else if (n === 'party_removed' && c && me) {
      gone(c.callId, 'Disconnected', assign({ reason: 'left' }, x)); // transferred away, or left a conference
    } else if ((n === 'party_added' || n === 'party_removed') && c) {
      party(n === 'party_added' ? 'PartyAdded' : 'PartyRemoved', c, d, x);
    } else if (n === 'call_transferred' && c) {
      emit('CallEvent', callEvent('Transferred', c, assign({ to: d.to, toUserId: d.to_user_id, toPhone: d.phone }, x)));
    } else if (n === 'call_failed' && me) {
      S.failed[d.call_id] = { code: d.code, reason: d.reason };
      gone(d.call_id, 'Disconnected', assign({ code: d.code, reason: d.reason }, x)); // missed, rejected or failed dial
    } else if (n === 'call_failed' && c) {
      party('PartyFailed', c, d, x); // a conference invitee did not answer
    } else if (n === 'call_disconnected' && c) {
      gone(c.callId, c.state === 'alerting' ? 'Abandoned' : 'Disconnected', assign({ endedBy: d.ended_by, durationMs: d.duration_ms }, x));
    } else if (vid.event(n, d, c, x)) { // media_changed, screen_share_* (video section below)
    } else if (chatOnEvent(n, d, x)) { // chat_* (chat section below)
    } else if (n === 'settings_changed') {
      const m = d.settings && d.settings.mode;
      if (MODES[m] && m !== S.mode) {
        S.mode = m; S.caps = MODES[m].slice();
        emit('capabilities', capabilities());
        request('snapshot', {}).catch(() => {});
      }
    }
  };

  const onSnapshot = (f) => {
    const a = f.agent || {}, seen = {};
    S.agent = { status: a.status || 'offline', reason: a.reason || '', since: a.since || '', phone_ready: a.phone_ready, sessions: a.sessions, media_owner: a.media_owner || '' };
    (f.calls || []).forEach((v) => { seen[v.call_id] = 1; S.calls[v.call_id] = fromView(v); });
    for (const id in S.calls) if (!seen[id]) gone(id, 'Disconnected', { reason: 'snapshot' });
    const first = !S.live, modeChanged = f.mode && f.mode !== S.mode && !first;
    if (f.mode) { S.mode = f.mode; S.caps = f.desktop_capabilities || MODES[f.mode] || []; }
    S.owner = !!f.owner;
    S.live = S.everUp = true; S.tries = 0;
    if (first) {
      emit('link', { state: 'CONNECTED', sessionId: S.session });
      S.waiters.splice(0).forEach((w) => w.ok());
      phone();
    }
    if (modeChanged) emit('capabilities', capabilities());
    post('state'); emit('tabs', tabs());
    chatOnSnapshot(f.chats);
    emit('Snapshot', snapshotEvent());
    vid.follow();
  };

  // --- connection -----------------------------------------------------------------------------
  const send = (o) => { if (S.ws && S.ws.readyState === 1) { S.ws.send(JSON.stringify(o)); return true; } return false; };
  const connect = () => {
    clearTimeout(S.retry);
    const gen = ++S.gen;
    // The token travels as a subprotocol, not in the URL: browsers print a failed socket's URL
    // into the console (docs/js.md).
    const url = S.http.replace(/^http/, 'ws') + '/rtc?client=' + S.client + (S.seq ? '&resume_from=' + S.seq : '');
    S.resumed = S.seq > 0; S.openedAt = now();
    let ws;
    try { ws = new WebSocket(url, ['cti.rtc', 'access_token.' + S.token]); } catch (e) { return fail(gen, 1006, String(e)); }
    S.ws = ws;
    ws.onmessage = (e) => {
      if (gen !== S.gen) return;
      let f;
      try { f = JSON.parse(e.data); } catch (x) { return; }
      frame(f);
    };
    ws.onclose = (e) => fail(gen, e.code, e.reason);
  };
  // fail handles the end of connection gen: logged out (4001), refused at login, or reconnect.
  const fail = (gen, code, reason) => {
    if (gen !== S.gen) return;
    const was = S.live;
    S.live = false; S.ws = null;
    closePc();
    for (const id in S.reqs) S.reqs[id].no(err('OPENCTI_LINK_DOWN', `the connection closed (${code}) before the answer`));
    S.reqs = {};
    if (code === 4001 || code === 4003) { // logged out (every session of the agent ended), or the token ended
      S.wanted = false; S.owner = false;
      S.agent = { status: 'offline', reason: '' };
      for (const c in S.calls) gone(c, 'Disconnected', { reason: code === 4001 ? 'logout' : 'token' });
      emit('AgentEvent', agentEvent('offline', reason));
    }
    if (code === 4003) {
      const m = S.exp && S.exp * 1000 <= now() ? 'the token expired: sign in with a new one' : 'the token was revoked: sign in with a new one';
      emit('link', { state: 'SIGNED_OUT', code, reason: m, final: true });
      emit('error', err('OPENCTI_LOGIN_FAILED', m));
    } else if (!S.wanted) emit('link', { state: 'SIGNED_OUT', code, reason: 'signed out', final: true });
    else if (was) emit('link', { state: 'DISCONNECTED', code, reason: reason || '' });
    if (!S.wanted) return flush('OPENCTI_AGENT_NOT_LOGGED_IN', 'logged out');
    if (!S.everUp) return refused(); // never connected: the token, the origin or the user was refused
    S.retry = setTimeout(connect, Math.min(8000, 250 * 2 ** S.tries++) * (0.75 + Math.random() / 2)); // backoff with jitter
  };
  // refused ends a login refused before the upgrade: GET /api/v1/settings says why (same origin).
  const refused = () => {
    S.wanted = false;
    const gen = S.gen, give = (m) => {
      if (gen !== S.gen) return;
      flush('OPENCTI_LOGIN_FAILED', m);
      emit('link', { state: 'SIGNED_OUT', code: 0, reason: m, final: true });
      emit('error', err('OPENCTI_LOGIN_FAILED', m));
    };
    fetch(S.http + '/api/v1/settings', { headers: { Authorization: 'Bearer ' + S.token } })
      .then((r) => (r.ok ? 'the server refused the login: the agent may no longer exist, or this page\'s origin is not allowed'
        : r.json().then((p) => tokenWords(p.detail || '')))).catch(() => 'the server cannot be reached').then(give);
  };
  const tokenWords = (m) => 'the token ' + (/expired/i.test(m) ? 'expired' : /revoked/i.test(m) ? 'was revoked' : 'is not valid here') + ': sign in with a new one';
  const flush = (code, msg) => S.waiters.splice(0).forEach((w) => w.no(err(code, msg)));
  const whenLive = (ms) => {
    if (S.live) return Promise.resolve();
    if (!S.wanted) return reject('OPENCTI_AGENT_NOT_LOGGED_IN', 'the agent is not logged in: call login()');
    return new Promise((ok, no) => {
      const t = setTimeout(() => { S.waiters.splice(S.waiters.indexOf(w), 1); no(err('OPENCTI_LINK_DOWN', 'no connection to the server')); }, ms || TIMEOUT);
      const w = { ok: () => { clearTimeout(t); ok(); }, no: (e) => { clearTimeout(t); no(e); } };
      S.waiters.push(w);
    });
  };

  const frame = (f) => {
    const t = f.type, pc = S.pc;
    if (chatOnFrame(f)) return; // chat_message, chat_typing, chat_delivered, chat errors (chat section)
    if (t === 'welcome') { S.session = f.session_id; S.user = f.user_id; if (f.client) S.client = f.client; tabsOpen(); }
    else if (t === 'snapshot') onSnapshot(f);
    else if (t === 'event') onEvent(f.event);
    else if (t === 'answer' && pc) {
      pc.setRemoteDescription({ type: 'answer', sdp: f.sdp }).then(() => S.cands.splice(0).forEach((c) => pc.addIceCandidate(c).catch(() => {})),
        (e) => emit('phone', phoneState('failed', String(e))));
    } else if (t === 'candidate' && pc) {
      if (pc.remoteDescription) pc.addIceCandidate(f.candidate).catch(() => {}); else S.cands.push(f.candidate);
    } else if (t === 'result' || t === 'error') {
      const r = f.request_id && S.reqs[f.request_id];
      if (r) {
        delete S.reqs[f.request_id];
        if (t === 'result') r.ok(f.data || {}); else r.no(mapError(f.code, f.message || '', r.command));
      } else if (t === 'error') emit('error', mapError(f.code, f.message || ''));
    } else if (t === 'resync_required') emit('resync', { oldestSeq: f.oldest_seq });
  };

  // mapError turns a signalling error (docs/rtc.md) into an OPENCTI_* rejection.
  const mapError = (code, msg, command) => {
    const dest = ['dial', 'transfer', 'conference', 'consult'].includes(command);
    let c = {
      forbidden: /not available in .* mode/.test(msg) ? 'OPENCTI_MODE_NOT_SUPPORTED' : 'OPENCTI_NOT_AUTHORIZED',
      not_found: dest ? 'OPENCTI_CF_INVALID_DESTINATION' : 'OPENCTI_CALL_NOT_FOUND',
      invalid_message: dest ? 'OPENCTI_CF_INVALID_DESTINATION' : 'OPENCTI_INVALID_ARGUMENT',
      invalid_json: 'OPENCTI_INVALID_ARGUMENT', unknown_command: 'OPENCTI_NOT_SUPPORTED', out_of_order: 'OPENCTI_CF_INVALID_OBJECT_STATE',
      rate_limited: 'OPENCTI_RATE_LIMITED', no_consult: 'OPENCTI_CF_INVALID_OBJECT_STATE'
    }[code];
    if (code === 'conflict') {
      c = /busy|offline|unavailable/.test(msg) ? 'OPENCTI_DEST_BUSY'
        : /not a user, an extension or a queue|no outbound route/.test(msg) ? 'OPENCTI_CF_INVALID_DESTINATION'
          : /no phone|healthy phone/.test(msg) ? 'OPENCTI_DEVICE_NOT_READY'
            : /not logged in|session ended/.test(msg) ? 'OPENCTI_AGENT_NOT_LOGGED_IN' : 'OPENCTI_CF_INVALID_OBJECT_STATE';
    }
    return err(c || 'OPENCTI_SERVER_ERROR', msg || code);
  };

  // request sends a command (waiting for the link if it is down) and resolves with its result.
  const request = (command, fields) => whenLive().then(() => new Promise((ok, no) => {
    const id = 'r' + ++S.nreq + '-' + S.tab;
    const t = setTimeout(() => { delete S.reqs[id]; no(err('OPENCTI_TIMEOUT', `${command}: no answer within ${TIMEOUT / 1000} s`)); }, TIMEOUT);
    S.reqs[id] = { command, ok: (v) => { clearTimeout(t); ok(v); }, no: (e) => { clearTimeout(t); no(e); } };
    if (!send(assign({ type: 'command', request_id: id, command }, fields))) { S.reqs[id].no(err('OPENCTI_LINK_DOWN', 'no connection to the server')); delete S.reqs[id]; }
  }));

  // --- the phone: this tab's persistent peer connection and microphone -----------------------
  const phoneState = (state, detail) => ({ state, mic: S.mic, micError: S.micError, owner: S.owner, detail: detail || '', deviceId: S.deviceId });
  const getMic = () => {
    if (S.stream && S.stream.getAudioTracks().some((t) => t.readyState === 'live')) return Promise.resolve(S.stream);
    const md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) { S.mic = false; S.micError = 'no media devices (https needed)'; return Promise.resolve(null); }
    return md.getUserMedia({ audio: S.deviceId ? { deviceId: { exact: S.deviceId } } : true }).then((s) => {
      S.stream = s; S.mic = true; S.micError = '';
      s.getAudioTracks().forEach((t) => { t.onended = () => micChanged(false, 'microphone ended'); });
      return s;
    }, (e) => { S.mic = false; S.micError = e.name + ': ' + e.message; return null; });
  };
  const micChanged = (granted, why) => {
    S.mic = granted; S.micError = granted ? '' : why || '';
    send({ type: 'mic', granted });
    emit('phone', phoneState(granted ? 'mic' : 'nomic'));
  };
  const closePc = () => {
    if (S.pc) try { S.pc.close(); } catch (e) { /* closed */ }
    S.pc = null; S.cands = [];
  };
  // phone negotiates this connection's one persistent peer connection (docs/rtc.md: offer + mic).
  const phone = () => {
    if (S.opts.phone === false) return;
    const gen = S.gen;
    getMic().then((stream) => {
      if (gen !== S.gen || !S.live) return;
      closePc();
      const pc = S.pc = new RTCPeerConnection({ iceServers: [] });
      if (stream) stream.getAudioTracks().forEach((t) => pc.addTrack(t, stream)); else pc.addTransceiver('audio', { direction: 'recvonly' });
      S.vtx = pc.addTransceiver('video', { direction: 'sendrecv' }); // no track until a video call needs the camera
      pc.ontrack = (e) => {
        if (e.track.kind === 'video') return vid.remote(e.track);
        if (!S.audio) {
          S.audio = document.createElement('audio');
          S.audio.autoplay = S.audio.hidden = true;
          S.audio.setAttribute('data-cti-audio', '');
          (document.body || document.documentElement).appendChild(S.audio);
        }
        S.audio.srcObject = e.streams[0] || new MediaStream([e.track]);
        S.audio.play().catch(() => {}); // autoplay may wait for a gesture; RTP flows anyway
      };
      pc.onicecandidate = (e) => { if (e.candidate && e.candidate.candidate && S.pc === pc) send({ type: 'candidate', candidate: e.candidate.toJSON() }); };
      pc.onconnectionstatechange = () => { if (S.pc === pc) emit('phone', phoneState(pc.connectionState)); };
      return pc.createOffer().then((o) => pc.setLocalDescription(o)).then(() => { if (S.pc === pc) send({ type: 'offer', sdp: pc.localDescription.sdp, mic: !!stream }); });
    }).catch((e) => emit('phone', phoneState('failed', String(e))));
  };
  const watchPermission = () => {
    if (!navigator.permissions || !navigator.permissions.query) return;
    navigator.permissions.query({ name: 'microphone' }).then((p) => {
      p.onchange = () => {
        if (p.state !== 'granted') { if (S.mic) micChanged(false, 'permission ' + p.state); } else if (!S.mic && S.live) { S.stream = null; phone(); }
      };
    }, () => {});
  };
  const setMicrophone = (deviceId) => {
    S.deviceId = deviceId || '';
    const old = S.stream;
    S.stream = null;
    return getMic().then((s) => {
      if (!s) { S.stream = old; return reject('OPENCTI_DEVICE_NOT_READY', S.micError || 'microphone unavailable'); }
      const track = s.getAudioTracks()[0], sender = S.pc && S.pc.getSenders().find((x) => x.track && x.track.kind === 'audio');
      return Promise.resolve(sender ? sender.replaceTrack(track) : S.live && phone()).then(() => {
        if (old && old !== s) old.getTracks().forEach((t) => t.stop());
        micChanged(true);
        return { deviceId: S.deviceId, label: track.label };
      });
    });
  };

  // --- tabs of one agent (BroadcastChannel): presence, and alerting stops everywhere on answer ---
  const tabsOpen = () => {
    if (S.bc || !g.BroadcastChannel) return;
    S.bc = new BroadcastChannel('cti-adapter:' + S.acct + ':' + S.user);
    S.bc.onmessage = ({ data: m }) => {
      if (!m || !m.tab) return;
      if (m.t === 'answered') {
        const c = S.calls[m.callId];
        if (c && c.state === 'alerting') emit('alertStop', { callId: m.callId, by: m.tab });
        return;
      }
      if (m.t === 'bye') delete S.tabs[m.tab];
      else S.tabs[m.tab] = { tab: m.tab, owner: m.owner, client: m.client, self: false };
      if (m.t === 'hello') post('state');
      emit('tabs', tabs());
    };
    post('hello');
  };
  const post = (t, extra) => { if (S.bc) S.bc.postMessage(assign({ t, tab: S.tab, owner: S.owner, client: S.client }, extra || {})); };
  const tabs = () => [{ tab: S.tab, owner: S.owner, client: S.client, self: true },
    ...Object.values(S.tabs).map((x) => assign({ ...x }, S.owner ? { owner: false } : {}))];

  // --- video (docs/video.md) -------------------------------------------------------------------
  // The phone's peer connection always carries a video transceiver; the tab that owns the media
  // sends the agent's camera or screen on it as the call's media state says (media_changed), and
  // shows the customer's video. enableVideo & co. ask the server, which decides for every tab.
  const vid = {
    defaults: (m) => (m === 'video' ? { media: 'video', customer: { video: true, screen: false }, agent: { video: true, screen: false } }
      : m === 'screen' ? { media: 'screen', customer: { video: false, screen: true }, agent: { video: false, screen: false } } : null),
    kind: (m) => ((m || []).includes('screen') ? 'screen' : (m || []).includes('video') ? 'video' : ''),
    cam: null, screen: null, remoteStream: null,
    remote(track) { vid.remoteStream = new MediaStream([track]); emit('video', vid.view()); },
    view: () => ({ remote: vid.remoteStream, local: S.vtx && S.vtx.sender.track ? new MediaStream([S.vtx.sender.track]) : null }),
    // event applies a media event to the local call model; true when n was one
    event(n, d, c, x) {
      if (n !== 'media_changed' && n !== 'screen_share_started' && n !== 'screen_share_stopped') return false;
      if (!c) return true;
      if (n === 'media_changed') c.mediaState = { media: d.media, customer: d.customer, agent: d.agent };
      const name = { media_changed: 'MediaChanged', screen_share_started: 'ScreenShareStarted', screen_share_stopped: 'ScreenShareStopped' }[n];
      emit('MediaEvent', assign({ pyEventType: 'MediaEvent', pyEventName: name, pyCallId: c.callId, callId: c.callId, by: d.by, media: (c.mediaState || {}).media,
        customer: (c.mediaState || {}).customer, agent: (c.mediaState || {}).agent }, x));
      vid.follow();
      return true;
    },
    // follow makes this tab send what the agent's side of its talking video call says.
    follow() {
      const tr = S.vtx;
      if (!tr || !S.pc) return;
      const c = Object.values(S.calls).find((k) => (k.state === 'connected' || k.state === 'held') && k.mediaState);
      const st = c && c.mediaState, side = S.owner && st ? st.agent : { video: false, screen: false };
      const stop = (k) => { if (vid[k]) vid[k].stop(); vid[k] = null; };
      let p;
      if (side.screen) p = (vid.screen ? Promise.resolve(vid.screen) : navigator.mediaDevices.getDisplayMedia({ video: true }).then((s) => (vid.screen = s.getVideoTracks()[0])));
      else if (side.video) p = (vid.cam ? Promise.resolve(vid.cam) : navigator.mediaDevices.getUserMedia({ video: true }).then((s) => (vid.cam = s.getVideoTracks()[0])));
      else p = Promise.resolve(null);
      p.then((t) => {
        if (!side.screen) stop('screen');
        if (!side.video) stop('cam');
        return tr.sender.replaceTrack(t);
      }).then(() => emit('video', vid.view()), (e) => emit('error', err('OPENCTI_DEVICE_NOT_READY', 'camera or screen: ' + (e && e.message || e))));
    },
    // request sends a media frame and resolves with the call's media.
    request(method, callId, fields) {
      const e = guard(method);
      if (e) return Promise.reject(e);
      const id = callId || pick(['connected', 'held']);
      if (!id) return reject('OPENCTI_CF_INVALID_OBJECT_STATE', method + ': there is no call to act on');
      return whenLive().then(() => new Promise((ok, no) => {
        const rid = 'v' + ++S.nreq + '-' + S.tab;
        const t = setTimeout(() => { delete S.reqs[rid]; no(err('OPENCTI_TIMEOUT', `${method}: no answer within ${TIMEOUT / 1000} s`)); }, TIMEOUT);
        S.reqs[rid] = { command: method, ok: (v) => { clearTimeout(t); ok(assign({ callId: id }, v)); }, no: (x) => { clearTimeout(t); no(x); } };
        if (!send(assign({ type: 'media', request_id: rid, call_id: id }, fields))) { S.reqs[rid].no(err('OPENCTI_LINK_DOWN', 'no connection to the server')); delete S.reqs[rid]; }
      }));
    }
  };

  // --- public API -----------------------------------------------------------------------------
  const capabilities = () => {
    const caps = S.client === 'phone' ? MODES.full : S.caps;
    return { mode: S.mode, client: S.client, capabilities: caps.slice(), methods: Object.keys(OPS).filter((m) => caps.includes(OPS[m])) };
  };
  // guard refuses, without a round trip, what init, the mode or the login state does not allow
  // (until the mode is known, the server decides).
  const guard = (method) => !S.opts ? err('OPENCTI_NOT_INITIALIZED', 'call CTI.init({server, token}) first')
    : S.client !== 'phone' && S.mode && !S.caps.includes(OPS[method]) ? err('OPENCTI_MODE_NOT_SUPPORTED', `${method} is not available in ${S.mode} telephony mode`)
      : !S.wanted && method !== 'login' ? err('OPENCTI_AGENT_NOT_LOGGED_IN', 'the agent is not logged in: call login()') : null;
  // answered applies a successful answer at once (the server's call_connected follows and is
  // then not emitted twice).
  const answered = (id, state) => {
    const c = S.calls[id];
    if (!c || c.state !== 'alerting' || (state && state !== 'connected')) return;
    emit('alertStop', { callId: id });
    c.state = 'connected'; c.connectedAt = c.connectedAt || now(); c.answered = true;
    emit('CallEvent', callEvent('Connected', c, {}));
    vid.follow();
  };
  const pick = (want) => Object.keys(S.calls).find((id) => want.includes(S.calls[id].state)) || '';
  // control runs a call control; callId defaults to the alerting call (answer, reject) or the active one.
  const control = (method, callId, arg) => {
    const e = guard(method), op = OPS[method];
    if (e) return Promise.reject(e);
    const id = callId || pick(op === 'answer' || op === 'reject' ? ['alerting'] : ['connected', 'held', 'dialing', 'alerting']);
    if (!id) return reject('OPENCTI_CF_INVALID_OBJECT_STATE', method + ': there is no call to act on');
    if (typeof id !== 'string') return reject('OPENCTI_INVALID_ARGUMENT', method + ': callId must be a string');
    return request(op, arg === undefined ? { call_id: id } : { call_id: id, arg }).then((v) => {
      if (op === 'answer') { post('answered', { callId: id }); answered(id, v.state); }
      return { callId: id, state: v.state };
    });
  };
  // checked runs control after an argument check (the mode check comes first).
  const checked = (method, callId, arg, ok, msg) => (ok ? control(method, callId, arg) : Promise.reject(guard(method) || err(method === 'dropParty' || method === 'sendDTMF' ? 'OPENCTI_INVALID_ARGUMENT' : 'OPENCTI_CF_INVALID_DESTINATION', method + ': ' + msg)));
  const destOK = (d) => typeof d === 'string' && DEST.test(d), DESTMSG = 'destination: 1-64 of A-Z a-z 0-9 + * # . _ @ -';
  const waitFailed = (id, ms) => new Promise((ok) => {
    const end = now() + ms;
    const poll = () => (S.failed[id] || now() > end ? ok(S.failed[id]) : setTimeout(poll, 20));
    poll();
  });
  // consult starts a consult call from callId (default: the active call) and resolves with its id.
  const consult = (method, callId, destination) => {
    const e = guard(method) || (destOK(destination) ? null : err('OPENCTI_CF_INVALID_DESTINATION', method + ': ' + DESTMSG));
    const id = callId || pick(['connected', 'held']);
    if (e || !id) return Promise.reject(e || err('OPENCTI_CF_INVALID_OBJECT_STATE', method + ': there is no call to consult from'));
    return request('consult', { call_id: id, arg: destination }).then((v) => {
      if (v.state !== 'ended') return { callId: id, consultCallId: v.call_id };
      return waitFailed(v.call_id, 1000).then((x) => { throw err('OPENCTI_DEST_BUSY', `consult to ${destination} failed` + (x ? `: ${x.code} ${x.reason}` : '')); });
    });
  };
  // complete ends the consult of callId (the primary or its consult call; default: the consult call).
  const complete = (method, callId, command) => {
    const e = guard(method), id = callId || Object.keys(S.calls).find((k) => S.calls[k].consultOf) || '';
    if (e || !id) return Promise.reject(e || err('OPENCTI_CF_INVALID_OBJECT_STATE', method + ': there is no consult call'));
    return request(command, { call_id: id }).then((v) => ({ callId: v.call_id, state: v.state }));
  };
  const claimsOf = (tok) => {
    try {
      const p = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(p + '==='.slice((p.length + 3) % 4)));
    } catch (e) { return null; }
  };

  const CTI = {
    version: VERSION,
    timing: { scriptStart: t0, scriptEnd: 0, initStart: 0, initEnd: 0 },
    init(o) {
      o = o || {};
      const claims = typeof o.token === 'string' && claimsOf(o.token);
      if (!claims) return reject('OPENCTI_INVALID_ARGUMENT', 'init needs {server, token} with an agent JWT');
      if (claims.role !== 'agent') return reject('OPENCTI_LOGIN_FAILED', `this is ${/^[aeiou]/.test(claims.role || '') ? 'an' : 'a'} ${claims.role || 'unknown'} token: this page needs an agent token`);
      if (claims.exp && claims.exp * 1000 < now()) return reject('OPENCTI_LOGIN_FAILED', 'the token expired: sign in with a new one');
      if (S.ws) { S.gen++; S.ws.close(1000); S.ws = null; }
      CTI.timing.initStart = perf();
      assign(S, {
        opts: o, token: o.token, client: o.client === 'phone' ? 'phone' : 'desktop', http: (o.server || location.origin).replace(/\/+$/, ''),
        acct: claims.acct || '', exp: claims.exp || 0, seq: 0, everUp: false, live: false, calls: {}, mode: '', caps: [], wanted: true, tries: 0
      });
      // The mode: from GET /api/v1/settings or the first snapshot (cross-origin pages), whichever is first.
      const link = whenLive(o.timeout || TIMEOUT);
      const settings = fetch(S.http + '/api/v1/settings', { headers: { Authorization: 'Bearer ' + S.token } }).then((r) => {
        if (r.status === 401) return r.json().then((p) => { throw err('OPENCTI_LOGIN_FAILED', tokenWords(p.detail || p.title || '')); });
        return r.ok ? r.json() : link;
      }, () => link).then((st) => { if (st && MODES[st.mode] && !S.mode) { S.mode = st.mode; S.caps = MODES[st.mode].slice(); } });
      connect();
      watchPermission();
      link.catch(() => {});
      return Promise.race([settings, link]).then(() => {
        CTI.timing.initEnd = perf();
        return assign({ version: VERSION }, capabilities());
      }, (e) => { S.wanted = false; S.gen++; if (S.ws) S.ws.close(1000); S.ws = null; throw e; });
    },
    getVersion: () => Promise.resolve({ version: VERSION, protocol: 'rtc/1' }),
    getCapabilities: () => (S.opts ? Promise.resolve(capabilities()) : reject('OPENCTI_NOT_INITIALIZED', 'call CTI.init({server, token}) first')),
    login() {
      const e = guard('login');
      if (e) return Promise.reject(e);
      if (!S.wanted) { S.wanted = true; S.everUp = false; S.seq = 0; connect(); }
      return whenLive().then(snapshotEvent);
    },
    logout() {
      const e = guard('logout');
      if (e) return Promise.reject(e);
      // The server may close the socket (4001) before the answer arrives: that is a success too.
      return request('logout', {}).catch((x) => { if (S.wanted) throw x; }).then(() => { S.wanted = false; return { status: 'offline' }; });
    },
    agentReady() {
      const e = guard('agentReady');
      return e ? Promise.reject(e) : request('ready', {}).then((a) => ({ status: a.status }));
    },
    agentNotReady(reason) {
      const e = guard('agentNotReady');
      if (e) return Promise.reject(e);
      reason = reason == null ? '' : String(reason);
      if (!/^[A-Za-z0-9_ .-]{0,64}$/.test(reason)) return reject('OPENCTI_INVALID_ARGUMENT', 'reason: 0-64 of A-Z a-z 0-9 _ . - space');
      return request('notready', { reason }).then((a) => ({ status: a.status, reason: a.reason }));
    },
    makeCall(destination, variables) {
      const e = guard('makeCall') || (destOK(destination) ? null : err('OPENCTI_CF_INVALID_DESTINATION', 'makeCall: ' + DESTMSG));
      if (e) return Promise.reject(e);
      return request('dial', variables ? { arg: destination, variables } : { arg: destination }).then((v) => {
        if (v.state !== 'ended') return { callId: v.call_id, state: v.state };
        return waitFailed(v.call_id, 1000).then((x) => { // the call failed at once: say why
          const code = x && x.code;
          throw err(code === 404 || !code ? 'OPENCTI_CF_INVALID_DESTINATION' : 'OPENCTI_DEST_BUSY', `call to ${destination} failed` + (x ? `: ${code} ${x.reason}` : ''));
        });
      });
    },
    blindTransfer: (callId, destination) => checked('blindTransfer', callId, destination, destOK(destination), DESTMSG),
    // Consult calls (docs/consult.md): hold callId and dial destination; then complete, or hang up the consult and retrieve.
    consultationCall: (callId, destination) => consult('consultationCall', callId, destination),
    transferInitiate: (callId, destination) => consult('transferInitiate', callId, destination),
    transferComplete: (callId) => complete('transferComplete', callId, 'consult_transfer'),
    conferenceComplete: (callId) => complete('conferenceComplete', callId, 'consult_conference'),
    conferenceInitiate: (callId, destination) => checked('conferenceInitiate', callId, destination, destOK(destination), DESTMSG),
    dropParty: (callId, number) => checked('dropParty', callId, number, typeof number === 'string' && number !== '', "number (the party's user id) is required"),
    sendDTMF: (callId, digits) => checked('sendDTMF', callId, String(digits), /^[0-9A-D*#]{1,32}$/.test(String(digits)), '1-32 of 0-9 * # A-D'),
    setCallData(callId, variables) {
      const e = guard('setCallData');
      if (e) return Promise.reject(e);
      if (!callId || !variables || typeof variables !== 'object') return reject('OPENCTI_INVALID_ARGUMENT', 'setCallData(callId, {name: "value"})');
      return request('setdata', { call_id: callId, variables }).then((v) => ({ callId, variables: v.variables }));
    },
    // setDisposition gives a call (live, or ended and taken part in) its wrap-up code and notes:
    // POST /api/v1/calls/{callId}/disposition with the agent's token (docs/js.md, "Wrap-up").
    setDisposition(callId, code, notes) {
      if (!S.opts) return reject('OPENCTI_NOT_INITIALIZED', 'call CTI.init first');
      if (!callId || (code == null || code === '') && !notes) return reject('OPENCTI_INVALID_ARGUMENT', 'setDisposition(callId, code, notes): a code or notes');
      const body = {};
      if (code) body.code = String(code);
      if (notes) body.notes = String(notes);
      return fetch(S.http + '/api/v1/calls/' + encodeURIComponent(callId) + '/disposition', {
        method: 'POST', headers: { Authorization: 'Bearer ' + S.token, 'Content-Type': 'application/json' }, body: JSON.stringify(body)
      }).catch(() => { throw err('OPENCTI_LINK_DOWN', 'the server cannot be reached'); }).then((r) => r.json().then((j) => {
        const code = { 403: 'OPENCTI_NOT_AUTHORIZED', 404: 'OPENCTI_CALL_NOT_FOUND', 409: 'OPENCTI_CF_INVALID_OBJECT_STATE' }[r.status];
        if (!r.ok) throw err(code || (r.status >= 500 ? 'OPENCTI_SERVER_ERROR' : 'OPENCTI_INVALID_ARGUMENT'),
          (j.errors && j.errors.length ? j.errors.map((x) => x.field + ': ' + x.message).join('; ') : j.detail) || 'refused (' + r.status + ')');
        return { callId, disposition: j.disposition };
      }));
    },
    // Extras (not in OpenCTI): media, state and tabs.
    takeMedia: () => (S.opts ? request('take_ownership', {}) : reject('OPENCTI_NOT_INITIALIZED', 'call CTI.init first')),
    setMicrophone,
    // retryMicrophone asks for the microphone again (after a denial) and renegotiates with it.
    retryMicrophone: () => (!S.opts ? reject('OPENCTI_NOT_INITIALIZED', 'call CTI.init first') : getMic().then((st) => {
      if (!st) return reject('OPENCTI_DEVICE_NOT_READY', S.micError || 'microphone unavailable');
      const pc = S.pc, tr = pc && pc.getTransceivers().find((x) => x.receiver.track.kind === 'audio');
      if (!tr) { if (S.live) phone(); return { mic: true }; }
      tr.direction = 'sendrecv'; // renegotiate the same peer connection, now sending the microphone
      return tr.sender.replaceTrack(st.getAudioTracks()[0]).then(() => pc.createOffer()).then((o) => pc.setLocalDescription(o)).then(() => {
        send({ type: 'offer', sdp: pc.localDescription.sdp, mic: true });
        micChanged(true);
        return { mic: true };
      });
    })),
    getMicrophoneStream: () => S.stream,
    // Video calls (PROTOCOLS.md section 7): this agent's camera and screen on a video call.
    enableVideo: (callId) => vid.request('enableVideo', callId, { video: true }),
    disableVideo: (callId) => vid.request('disableVideo', callId, { video: false }),
    startScreenShare: (callId) => vid.request('startScreenShare', callId, { screen: true }),
    stopScreenShare: (callId) => vid.request('stopScreenShare', callId, { screen: false }),
    getVideo: () => vid.view(),
    getPeerConnection: () => S.pc,
    getCalls: () => Object.values(S.calls).map((c) => callEvent(CALLSTATE[c.state] || 'Unknown', c)),
    getState: snapshotEvent,
    getTabs: tabs,
    on,
    off
  };

  // answerCall, rejectCall, hangUpCall, holdCall, retrieveCall, muteCall, unmuteCall (callId)
  ['answerCall', 'rejectCall', 'hangUpCall', 'holdCall', 'retrieveCall', 'muteCall', 'unmuteCall'].forEach((m) => { CTI[m] = (callId) => control(m, callId); });
  // startRecording, stopRecording, pauseRecording, resumeRecording (callId): mode op record (docs/recording.md)
  MODES.full.push('record');
  ['start', 'stop', 'pause', 'resume'].forEach((w) => {
    const m = w + 'Recording';
    OPS[m] = 'record';
    CTI[m] = (callId) => {
      const e = guard(m), id = callId || pick(['connected', 'held']);
      if (e) return Promise.reject(e);
      if (!id) return reject('OPENCTI_CF_INVALID_OBJECT_STATE', m + ': there is no call to record');
      return request(w + '_recording', { call_id: id }).then((v) => ({ callId: id, recordingId: v.recording_id, state: v.state }));
    };
  });

  // Chats (docs/chat.md): acceptChat, rejectChat, sendChatMessage, endChat, completeChat,
  // sendChatTyping, markChatDelivered, getChats; event ChatEvent with pyEventName Offered,
  // Withdrawn, Accepted, Message, Typing, Delivered, Ended, Completed. Mode ops chat_accept,
  // chat_send, chat_end (full mode only).
  MODES.full.push('chat_accept', 'chat_send', 'chat_end');
  Object.assign(OPS, { acceptChat: 'chat_accept', rejectChat: 'chat_accept', sendChatMessage: 'chat_send', sendChatTyping: 'chat_send',
    markChatDelivered: 'chat_send', endChat: 'chat_end', completeChat: 'chat_end' });
  const chats = {}, chatSends = {};
  const chatEvent = (name, id, extra) => {
    const c = chats[id] || {};
    emit('ChatEvent', assign({ pyEventType: 'ChatEvent', pyEventName: name, pyMedia: 'Chat', pyChatId: id, chatId: id,
      displayName: c.displayName || '', queue: c.queue || '', state: c.state || 'ended' }, extra || {}));
  };
  function chatOnEvent(n, d, x) {
    if (n.indexOf('chat_') !== 0) return false;
    const id = d.chat_id, c = chats[id], mine = d.user_id === S.user;
    if (n === 'chat_started' && mine) {
      chats[id] = { chatId: id, displayName: d.display_name || '', queue: d.queue || '', state: 'offered', messages: [] };
      chatEvent('Offered', id, x);
    } else if (n === 'chat_offer_failed' && mine && c) { delete chats[id]; chatEvent('Withdrawn', id, assign({ reason: d.reason }, x)); }
    else if (n === 'chat_accepted' && mine && c) { c.state = 'active'; chatEvent('Accepted', id, x); }
    else if (n === 'chat_ended' && c) { c.state = 'wrap_up'; chatEvent('Ended', id, assign({ endedBy: d.ended_by, reason: d.reason, wrapUpSeconds: d.wrap_up_seconds }, x)); }
    else if (n === 'chat_completed' && c) { delete chats[id]; chatEvent('Completed', id, x); }
    return true;
  }
  function chatOnFrame(f) {
    const t = f.type, id = f.chat_id;
    if (t === 'chat_message') {
      if (f.seq) { if (f.seq <= S.seq) return true; S.seq = f.seq; }
      const m = { from: f.from, userId: f.user_id || '', text: f.text, ts: f.ts, msgSeq: f.msg_seq, clientMsgId: f.client_msg_id || '' };
      if (chats[id]) chats[id].messages.push(m);
      const p = m.clientMsgId && chatSends[m.clientMsgId];
      if (p) { delete chatSends[m.clientMsgId]; p.ok({ chatId: id, msgSeq: m.msgSeq, ts: m.ts }); }
      chatEvent('Message', id, m);
    } else if (t === 'chat_typing') chatEvent('Typing', id, { from: f.from, typing: f.typing });
    else if (t === 'chat_delivered') chatEvent('Delivered', id, { by: f.by, msgSeq: f.msg_seq });
    else if (t === 'error' && f.client_msg_id && chatSends[f.client_msg_id]) {
      const p = chatSends[f.client_msg_id];
      delete chatSends[f.client_msg_id];
      p.no(mapError(f.code, f.message || '', 'chat'));
    } else return false;
    return true;
  }
  function chatOnSnapshot(list) {
    const seen = {};
    (list || []).forEach((v) => {
      seen[v.chat_id] = 1;
      const st = v.offered === S.user ? 'offered' : v.state;
      chats[v.chat_id] = assign(chats[v.chat_id] || { messages: [] }, { chatId: v.chat_id, displayName: v.display_name || '', queue: v.queue || '', state: st });
      if (!chats[v.chat_id].messages.length) chats[v.chat_id].messages = (v.messages || []).map((m) => ({ from: m.from, userId: m.user_id || '', text: m.text, ts: m.ts, msgSeq: m.msg_seq }));
    });
    for (const id in chats) if (!seen[id]) delete chats[id];
  }
  const chatCommand = (method, command) => (chatId) => {
    const e = guard(method) || (typeof chatId === 'string' && chatId ? null : err('OPENCTI_INVALID_ARGUMENT', method + ': chatId is required'));
    if (e) return Promise.reject(e);
    return request(command, { chat_id: chatId }).then((v) => {
      if (chats[chatId]) chats[chatId].state = v.state;
      return { chatId, state: v.state, messages: (v.messages || []).map((m) => ({ from: m.from, userId: m.user_id || '', text: m.text, ts: m.ts, msgSeq: m.msg_seq })) };
    });
  };
  CTI.acceptChat = chatCommand('acceptChat', 'chat_accept');
  CTI.rejectChat = chatCommand('rejectChat', 'chat_reject');
  CTI.endChat = chatCommand('endChat', 'chat_end');
  CTI.completeChat = chatCommand('completeChat', 'chat_complete');
  // sendChatMessage resolves with {chatId, msgSeq, ts} once the message is stored (its echo).
  CTI.sendChatMessage = (chatId, text) => {
    const e = guard('sendChatMessage') || (typeof text === 'string' && text.trim() && new TextEncoder().encode(text).length <= 4096
      ? null : err('OPENCTI_INVALID_ARGUMENT', 'sendChatMessage: text must be 1 to 4096 bytes, not blank'));
    if (e) return Promise.reject(e);
    return whenLive().then(() => new Promise((ok, no) => {
      const id = 'm' + ++S.nreq + '-' + S.tab;
      const tm = setTimeout(() => { delete chatSends[id]; no(err('OPENCTI_TIMEOUT', `sendChatMessage: not stored within ${TIMEOUT / 1000} s`)); }, TIMEOUT);
      chatSends[id] = { ok: (v) => { clearTimeout(tm); ok(v); }, no: (x) => { clearTimeout(tm); no(x); } };
      if (!send({ type: 'chat', chat_id: chatId, text, client_msg_id: id })) chatSends[id].no(err('OPENCTI_LINK_DOWN', 'no connection to the server'));
    }));
  };
  CTI.sendChatTyping = (chatId, typing) => { const e = guard('sendChatTyping'); return e ? Promise.reject(e) : Promise.resolve(send({ type: 'chat_typing', chat_id: chatId, typing: !!typing })); };
  CTI.markChatDelivered = (chatId, msgSeq) => { const e = guard('markChatDelivered'); return e ? Promise.reject(e) : Promise.resolve(send({ type: 'chat_delivered', chat_id: chatId, msg_seq: msgSeq })); };
  CTI.getChats = () => Object.values(chats).map((c) => assign({}, c));

  g.addEventListener('pagehide', () => { // the tab closes or is frozen: let the server hand the media over now
    post('bye');
    const ws = S.ws;
    if (!ws) return;
    S.gen++; S.ws = null; S.live = false;
    closePc();
    try { ws.close(1000, 'page closed'); } catch (e) { /* closing */ }
  });
  g.addEventListener('pageshow', (e) => { if (e.persisted && S.wanted) connect(); }); // back from the bfcache
  g.CTI = CTI;
  CTI.timing.scriptEnd = perf();
})(globalThis);
