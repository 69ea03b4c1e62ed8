  // cti.js part 2 of 3 (the connection, the phone, tabs, video). adapter/web serves static/shim/*.js, in name order, as one
  // classic script at /static/cti.js; a part alone is not a script.
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
    else if (t === 'presence') emit('presence', { userId: f.user_id, status: f.status, reason: f.reason, since: f.since, seq: f.seq });
    else if (t === 'directory_changed') emit('directoryChanged', { seq: f.seq });
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

