  // cti.js part 3 of 3 (the public API). adapter/web serves static/shim/*.js, in name order, as one
  // classic script at /static/cti.js; a part alone is not a script.
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
