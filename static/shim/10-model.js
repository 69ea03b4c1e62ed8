/*! cti.js: the cti-adapter JS shim (Pega OpenCTI-style), no dependencies; docs/js.md.
 * Classic script: sets window.CTI. Module: import CTI from "/static/cti.mjs" (the same object).
 * Sources: static/shim/10-model.js, 20-link.js, 30-api.js, served together as one file. */
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

