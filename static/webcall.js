/*! webcall.js: the cti-adapter "call us" widget. No dependencies. docs/js.md.
 * <script src="https://ADAPTER/static/webcall.js" defer></script>
 * <div data-cti-webcall data-account="demo"></div>
 * Each element gets a button that calls the account from the browser: the IVR menu answers
 * (use the dial pad), then the queue and an agent. The page's origin must be in the account's
 * allowed_origins. window.CTIWebCall.mount(el, {account, server, name, phone}) mounts by hand. */
(function (g) {
  'use strict';
  if (g.CTIWebCall) return;
  var me = document.currentScript;
  var SERVER = me && me.src ? new URL(me.src).origin : location.origin;
  var STATES = {
    ivr: 'Welcome: choose an option on the keypad', queued: 'Waiting for an agent…', ringing: 'Ringing an agent…',
    connected: 'Connected', held: 'On hold', ended: 'Call ended'
  };
  var instances = [];

  function el(tag, cls, txt, attrs) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (txt) e.textContent = txt;
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
  function css() {
    if (document.querySelector('link[data-ctiw]')) return;
    var l = el('link', '', '', { rel: 'stylesheet', href: SERVER + '/static/webcall.css', 'data-ctiw': '' });
    document.head.appendChild(l);
  }

  function mount(root, o) {
    o = o || {};
    css();
    var account = o.account || root.getAttribute('data-account') || 'demo';
    var server = (o.server || root.getAttribute('data-server') || SERVER).replace(/\/+$/, '');
    var w = { state: 'idle', callId: '', pc: null, ws: null, stream: null, muted: false, started: 0, digits: '', pendingDigits: '' };
    var box = el('div', 'ctiw'), uid = 'ctiw' + instances.length;
    var form = el('div', 'ctiw-form');
    var nameL = el('label', '', 'Your name', { for: uid + '-name' }), name = el('input', '', '', { id: uid + '-name', autocomplete: 'name', maxlength: '128' });
    var phoneL = el('label', '', 'Your phone (optional)', { for: uid + '-phone' }), phone = el('input', '', '', { id: uid + '-phone', autocomplete: 'tel', inputmode: 'tel', maxlength: '64' });
    name.value = o.name || root.getAttribute('data-name') || '';
    phone.value = o.phone || root.getAttribute('data-phone') || '';
    var callBtn = el('button', 'ctiw-call', root.getAttribute('data-label') || 'Call us', { type: 'button' });
    var panel = el('div', 'ctiw-panel', '', { hidden: '' });
    var status = el('p', 'ctiw-status', '', { role: 'status', 'aria-live': 'polite' });
    var clock = el('span', 'ctiw-timer', '00:00', { role: 'timer' });
    var pad = el('div', 'ctiw-pad', '', { role: 'group', 'aria-label': 'Dial pad' });
    var muteBtn = el('button', 'ctiw-mute', 'Mute', { type: 'button', 'aria-pressed': 'false' });
    var hangBtn = el('button', 'ctiw-hangup', 'Hang up', { type: 'button' });
    var audio = el('audio', '', '', { autoplay: '', hidden: '' });
    var vid = videoParts(w, box, root); // video call: button, boxes, camera and screen buttons (below)
    '123456789*0#'.split('').forEach(function (d) {
      var b = el('button', '', d, { type: 'button', 'data-digit': d, 'aria-label': d === '*' ? 'star' : d === '#' ? 'hash' : d });
      b.addEventListener('click', function () { w.dtmf(d); });
      pad.appendChild(b);
    });
    [nameL, name, phoneL, phone].forEach(function (x) { form.appendChild(x); });
    var row = el('div', 'ctiw-row');
    row.appendChild(muteBtn); row.appendChild(hangBtn);
    [status, clock, vid.boxes, pad, row, vid.row, audio].forEach(function (x) { panel.appendChild(x); });
    [form, callBtn, vid.button, panel].forEach(function (x) { box.appendChild(x); });
    root.appendChild(box);

    function show(state, msg) {
      w.state = state;
      status.textContent = msg || STATES[state] || state;
      box.setAttribute('data-state', state);
      var busy = state !== 'idle' && state !== 'ended' && state !== 'failed';
      callBtn.hidden = busy; form.hidden = busy; vid.show(busy); panel.hidden = !busy && state !== 'ended' && state !== 'failed';
      pad.hidden = muteBtn.hidden = hangBtn.hidden = !busy;
      if (state === 'connected' && !w.started) w.started = Date.now();
      vid.fire('state', state);
      if (state === 'ended' || state === 'failed') vid.fire('ended', { state: state });
    }
    setInterval(function () {
      // after the end the timer shows the call's length (frozen at the end)
      var s = w.started ? Math.floor(((w.endedAt || Date.now()) - w.started) / 1000) : 0;
      if (w.started) clock.textContent = ('0' + Math.floor(s / 60)).slice(-2) + ':' + ('0' + s % 60).slice(-2);
    }, 500);
    function send(m) { if (w.ws && w.ws.readyState === 1) w.ws.send(JSON.stringify(m)); }
    function end(msg, failed) {
      if (w.pc) w.pc.close();
      if (w.stream) w.stream.getTracks().forEach(function (t) { t.stop(); });
      vid.end();
      w.pc = null; w.stream = null;
      if (w.started && !w.endedAt) w.endedAt = Date.now();
      if (w.ws && w.ws.readyState <= 1) w.ws.close(1000);
      show(failed ? 'failed' : 'ended', msg);
      callBtn.textContent = 'Call again';
    }

    w.start = function (media) {
      if (w.ws) return;
      w.video = media === 'video';
      show('connecting', 'Connecting…');
      w.started = 0; w.endedAt = 0; w.callId = ''; w.digits = ''; w.pendingDigits = '';
      var cands = [];
      return fetch(server + '/webcall/' + encodeURIComponent(account) + '/token', { method: 'POST' }).then(function (r) {
        if (r.status === 429) throw new Error('Too many calls from here just now: try again in a minute.');
        if (r.status === 403) throw new Error('Calls are not enabled from this website.');
        if (!r.ok) throw new Error('The call could not start (' + r.status + ').');
        return r.json();
      }).then(function (t) {
        return navigator.mediaDevices.getUserMedia({ audio: true, video: !!w.video }).then(function (s) { w.stream = s; return t; }, function () {
          throw new Error(w.video ? 'A video call needs your camera and microphone: allow them and try again.' : 'The call needs your microphone: allow it and try again.');
        });
      }).then(function (t) {
        // the token as a subprotocol: a failed socket's URL is printed in the console (docs/js.md)
        var ws = w.ws = new WebSocket(server.replace(/^http/, 'ws') + (t.rtc_path || '/rtc'), ['cti.rtc', 'access_token.' + t.token]);
        ws.onmessage = function (e) {
          var f = JSON.parse(e.data);
          if (f.type === 'welcome') offer();
          else if (f.type === 'answer') w.pc.setRemoteDescription({ type: 'answer', sdp: f.sdp }).then(function () { cands.splice(0).forEach(function (c) { w.pc.addIceCandidate(c).catch(function () {}); }); });
          else if (f.type === 'candidate' && w.pc) { if (w.pc.remoteDescription) w.pc.addIceCandidate(f.candidate).catch(function () {}); else cands.push(f.candidate); }
          else if (f.type === 'call') { w.callId = f.call_id; box.setAttribute('data-call-id', f.call_id); if (w.video) vid.apply(vid.defaults); }
          else if (f.type === 'state') { if (f.state === 'ended') end(); else show(f.state, f.state === 'queued' && f.queue ? 'Waiting for ' + f.queue + '…' : ''); }
          else if (f.type === 'media_changed' || f.type === 'result' && f.data && f.data.customer) vid.apply(f.data || f);
          else if (f.type === 'error') { status.textContent = 'Problem: ' + f.message; vid.refused(f); }
        };
        ws.onclose = function (e) { w.ws = null; if (w.state !== 'ended' && w.state !== 'failed') end(e.code === 4000 ? '' : 'The call was cut off.', e.code !== 4000); };
      }).catch(function (e) { w.ws = null; end(e.message, true); });
    };
    function offer() {
      var pc = w.pc = new RTCPeerConnection({ iceServers: [] });
      w.stream.getAudioTracks().forEach(function (t) { pc.addTrack(t, w.stream); });
      w.stream.getVideoTracks().forEach(function (t) { w.camSender = pc.addTrack(t, w.stream); });
      pc.ontrack = function (e) { if (e.track.kind === 'video') return vid.remote(e.track); audio.srcObject = e.streams[0] || new MediaStream([e.track]); audio.play().catch(function () {}); };
      pc.onconnectionstatechange = function () {
        if (pc.connectionState !== 'connected' || !w.pendingDigits) return;
        var p = w.pendingDigits; w.pendingDigits = '';
        p.split('').forEach(w.dtmf);
      };
      pc.onicecandidate = function (e) { if (e.candidate && e.candidate.candidate) send({ type: 'candidate', candidate: e.candidate.toJSON() }); };
      pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).then(function () {
        var m = { type: 'offer', sdp: pc.localDescription.sdp, media: w.video ? ['audio', 'video'] : ['audio'], display_name: name.value.trim().slice(0, 128) || 'Web caller' };
        if (/^[A-Za-z0-9+*#._@-]{1,64}$/.test(phone.value.trim())) m.phone = phone.value.trim();
        send(m);
        show('calling', 'Calling…');
      });
    }
    // dtmf sends a digit in the call's audio (RFC 4733 telephone-event), as a phone keypad does.
    // Digits pressed before the audio path is up (the menu shows as soon as the call is in the
    // IVR) wait for it instead of being lost; a digit pressed while others still play is added
    // to the tones in flight (insertDTMF alone would replace them).
    w.dtmf = function (d) {
      if (w.state === 'idle' || w.state === 'ended' || w.state === 'failed') return;
      if (!w.pc || w.pc.connectionState !== 'connected') { w.pendingDigits += d; return; }
      var s = w.pc.getSenders().filter(function (x) { return x.dtmf; })[0];
      if (s && s.dtmf.canInsertDTMF !== false) { s.dtmf.insertDTMF(s.dtmf.toneBuffer + d, 120, 80); w.digits += d; }
    };
    w.mute = function (on) {
      w.muted = on === undefined ? !w.muted : !!on;
      if (w.stream) w.stream.getAudioTracks().forEach(function (t) { t.enabled = !w.muted; });
      muteBtn.textContent = w.muted ? 'Unmute' : 'Mute';
      muteBtn.setAttribute('aria-pressed', String(w.muted));
    };
    w.send = send;
    w.hangup = function () { send({ type: 'hangup' }); setTimeout(function () { if (w.ws) end(); }, 1500); };
    callBtn.addEventListener('click', function () { w.start(); });
    muteBtn.addEventListener('click', function () { w.mute(); });
    hangBtn.addEventListener('click', function () { w.hangup(); });
    show('idle', '');
    panel.hidden = true;
    instances.push(w);
    return w;
  }

  // videoParts adds a video call to a widget: the "Video call" button (data-video="off" hides
  // it), the remote and self video boxes (they stay while a camera is off: it is still a video
  // call), and the camera and screen buttons. The server decides each side's media
  // (media_changed, docs/video.md); the widget sends what the customer's side should send.
  function videoParts(w, box, root) {
    var v = { button: el('button', 'ctiw-videocall', root.getAttribute('data-video-label') || 'Video call', { type: 'button' }),
      boxes: el('div', 'ctiw-videos', '', { hidden: '' }), row: el('div', 'ctiw-row ctiw-vrow', '', { hidden: '' }) };
    var remoteV = el('video', 'ctiw-remote', '', { autoplay: '', playsinline: '', 'aria-label': 'Agent video' });
    var selfV = el('video', 'ctiw-self', '', { autoplay: '', playsinline: '', 'aria-label': 'Your video' });
    remoteV.muted = selfV.muted = true; // the call's audio plays in the audio element
    var cam = el('button', 'ctiw-camera', 'Camera off', { type: 'button', 'aria-pressed': 'true' });
    var scr = el('button', 'ctiw-screen', 'Share screen', { type: 'button', 'aria-pressed': 'false' });
    v.boxes.appendChild(remoteV); v.boxes.appendChild(selfV); v.row.appendChild(cam); v.row.appendChild(scr);
    if (root.getAttribute('data-video') === 'off') v.button.hidden = true;
    w.media = null; w.handlers = w.handlers || {};
    v.defaults = { media: 'video', customer: { video: true, screen: false }, agent: { video: true, screen: false } };
    var fire = v.fire = function (name, x) { (w.handlers[name] || []).forEach(function (f) { try { f(x); } catch (e) { setTimeout(function () { throw e; }); } }); };
    w.on = function (name, fn) { (w.handlers[name] = w.handlers[name] || []).push(fn); return w; };
    v.show = function (busy) { v.button.hidden = busy || root.getAttribute('data-video') === 'off'; v.boxes.hidden = v.row.hidden = !busy || !w.video; };
    v.remote = function (track) { remoteV.srcObject = new MediaStream([track]); remoteV.play().catch(function () {}); };
    v.end = function () { if (w.screen) w.screen.stop(); w.screen = null; w.camSender = null; w.media = null; remoteV.srcObject = selfV.srcObject = null; };
    // send makes what the customer sends follow its side of the call's media.
    function follow(side) {
      var camT = w.stream && w.stream.getVideoTracks()[0], s = w.camSender;
      if (!s) return;
      var t = side.screen && w.screen ? w.screen : side.video ? camT : null;
      if (camT) camT.enabled = !!side.video;
      s.replaceTrack(t).catch(function () {});
      selfV.srcObject = t ? new MediaStream([t]) : null;
      if (!side.screen && w.screen) { w.screen.stop(); w.screen = null; }
    }
    v.apply = function (m) {
      w.media = { media: m.media, customer: m.customer, agent: m.agent };
      box.setAttribute('data-media', m.media);
      follow(m.customer);
      cam.textContent = m.customer.video ? 'Camera off' : 'Camera on';
      cam.setAttribute('aria-pressed', String(!!m.customer.video));
      scr.textContent = m.customer.screen ? 'Stop sharing' : 'Share screen';
      scr.setAttribute('aria-pressed', String(!!m.customer.screen));
      fire('media_changed', w.media);
    };
    v.refused = function (f) { if (f.code === 'conflict' && w.screen && !(w.media && w.media.customer.screen)) { w.screen.stop(); w.screen = null; } };
    w.camera = function (on) { w.send({ type: 'media', request_id: 'cam' + Date.now(), video: on === undefined ? !(w.media && w.media.customer.video) : !!on }); };
    // shareScreen asks for the screen in the user's gesture, then tells the server.
    w.shareScreen = function (on) {
      on = on === undefined ? !(w.media && w.media.customer.screen) : !!on;
      if (!on) return w.send({ type: 'media', request_id: 'scr' + Date.now(), screen: false });
      return navigator.mediaDevices.getDisplayMedia({ video: true }).then(function (s) {
        w.screen = s.getVideoTracks()[0];
        w.screen.onended = function () { if (w.media && w.media.customer.screen) w.shareScreen(false); };
        w.send({ type: 'media', request_id: 'scr' + Date.now(), screen: true });
      }, function (e) { fire('error', e); });
    };
    v.button.addEventListener('click', function () { w.start('video'); });
    cam.addEventListener('click', function () { w.camera(); });
    scr.addEventListener('click', function () { w.shareScreen(); });
    selfV.srcObject = null;
    return v;
  }


  // chatParts runs a text chat with an agent (docs/chat.md) in the widget's box, over its own
  // /rtc socket with a chat token. Every message is shown as text (textContent), never as HTML.
  // w.chat keeps the socket and the chat id (screen sharing from the chat uses them).
  function chatParts(w, box, server, account, displayName) {
    if (w.chat && w.chat.ws) return Promise.resolve(w.chat);
    var c = w.chat = { ws: null, chatId: '', state: 'connecting', n: 0, typingAt: 0, delivered: 0 };
    var old = box.querySelector('.ctiw-chat');
    if (old) old.remove();
    var pane = el('div', 'ctiw-chat'), st = el('p', 'ctiw-chatstatus', 'Connecting…', { role: 'status' });
    var log = el('ol', 'ctiw-chatlog', '', { 'aria-live': 'polite', 'aria-label': 'Chat messages' });
    var typing = el('p', 'ctiw-typing', '', { 'aria-live': 'polite' });
    var input = el('textarea', 'ctiw-chatinput', '', { maxlength: '4096', rows: '2', 'aria-label': 'Your message' });
    var sendB = el('button', 'ctiw-chatsend', 'Send', { type: 'button' }), endB = el('button', 'ctiw-chatend', 'End chat', { type: 'button' });
    [st, log, typing, input, sendB, endB].forEach(function (x) { pane.appendChild(x); });
    box.appendChild(pane);
    var fire = function (n, x) { (w.handlers[n] || []).forEach(function (f) { try { f(x); } catch (e) { setTimeout(function () { throw e; }); } }); };
    var tx = function (m) { if (c.ws && c.ws.readyState === 1) { c.ws.send(JSON.stringify(m)); return true; } return false; };
    var mine = {};
    function show(f) {
      var li = el('li', 'ctiw-msg', '', { 'data-from': f.from, 'data-seq': String(f.msg_seq) });
      li.appendChild(el('span', 'ctiw-who', f.from === 'customer' ? 'You' : f.from === 'agent' ? 'Agent' : ''));
      li.appendChild(el('span', 'ctiw-text', f.text)); // textContent: HTML stays text
      var pending = f.client_msg_id && mine[f.client_msg_id];
      if (pending) { pending.replaceWith(li); delete mine[f.client_msg_id]; } else log.appendChild(li);
      if (f.from === 'customer' && f.msg_seq <= c.delivered) li.setAttribute('data-delivered', ''); // the ack came first
      if (f.from !== 'customer') tx({ type: 'chat_delivered', chat_id: c.chatId, msg_seq: f.msg_seq });
    }
    function frame(f) {
      if (f.type === 'welcome') tx({ type: 'chat_start', display_name: (displayName || '').slice(0, 128) });
      else if (f.type === 'chat_state') {
        c.chatId = f.chat_id; c.state = f.state; box.setAttribute('data-chat-id', f.chat_id); pane.setAttribute('data-state', f.state);
        st.textContent = f.state === 'queued' ? 'Waiting for an agent…' : f.state === 'active' ? 'Chatting with an agent' : 'Chat ended';
        fire('state', 'chat_' + f.state);
      } else if (f.type === 'chat_message') { show(f); fire('chat_message', f); }
      else if (f.type === 'chat_typing') typing.textContent = f.typing ? 'The agent is typing…' : '';
      else if (f.type === 'chat_delivered') {
        // The agent's acknowledgement may arrive before this page's own message comes back with
        // its msg_seq (the two travel different paths): keep the mark for show().
        c.delivered = Math.max(c.delivered, f.msg_seq);
        log.querySelectorAll('li[data-from=customer][data-seq]').forEach(function (li) { if (+li.getAttribute('data-seq') <= f.msg_seq) li.setAttribute('data-delivered', ''); });
      }
      else if (f.type === 'error') { st.textContent = 'Problem: ' + f.message; if (f.client_msg_id && mine[f.client_msg_id]) mine[f.client_msg_id].setAttribute('data-failed', ''); fire('error', f); }
    }
    c.send = function (text) {
      text = String(text == null ? '' : text);
      if (!text.trim() || !c.chatId) return false;
      var id = 'm' + (++c.n) + '-' + Date.now().toString(36);
      var li = el('li', 'ctiw-msg', '', { 'data-from': 'customer', 'data-pending': '' });
      li.appendChild(el('span', 'ctiw-text', text));
      log.appendChild(li); mine[id] = li;
      c.typingAt = 0;
      return tx({ type: 'chat', chat_id: c.chatId, text: text, client_msg_id: id });
    };
    c.end = function () { if (!tx({ type: 'chat_end', chat_id: c.chatId }) && c.ws) c.ws.close(1000); };
    sendB.addEventListener('click', function () { if (c.send(input.value)) input.value = ''; });
    input.addEventListener('keydown', function (e) { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); sendB.click(); } });
    input.addEventListener('input', function () { // at most one typing signal in 3 s
      if (c.chatId && Date.now() - c.typingAt > 3000) { c.typingAt = Date.now(); tx({ type: 'chat_typing', chat_id: c.chatId, typing: true }); }
    });
    endB.addEventListener('click', c.end);
    return fetch(server + '/webcall/' + encodeURIComponent(account) + '/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"kind":"chat"}' }).then(function (r) {
      if (r.status === 429) throw new Error('Too many chats from here just now: try again in a minute.');
      if (!r.ok) throw new Error('The chat could not start (' + r.status + ').');
      return r.json();
    }).then(function (t) {
      var ws = c.ws = new WebSocket(server.replace(/^http/, 'ws') + (t.rtc_path || '/rtc'), ['cti.rtc', 'access_token.' + t.token]);
      ws.onmessage = function (e) { try { frame(JSON.parse(e.data)); } catch (x) { /* not JSON */ } };
      ws.onclose = function () { c.ws = null; c.state = 'ended'; pane.setAttribute('data-state', 'ended'); st.textContent = 'Chat ended'; input.disabled = sendB.disabled = endB.disabled = true; fire('ended', { chat_id: c.chatId }); };
      return c;
    }).catch(function (e) { st.textContent = e.message; fire('ended', { chat_id: '', error: e.message }); throw e; });
  }

  function auto() { document.querySelectorAll('[data-cti-webcall]').forEach(function (e) { if (!e.ctiwMounted) { e.ctiwMounted = true; mount(e); } }); }
  g.CTIWebCall = { version: '1.0.0', mount: mount, instances: instances };
  // The page-level API of PROTOCOLS.md section 7, on the first widget (mounted on demand).
  var first = function (o) {
    if (!instances[0]) { var d = el('div'); document.body.appendChild(d); if (o && o.account) d.setAttribute('data-account', o.account); mount(d); }
    return instances[0];
  };
  g.CTIWebCall.start = function (o) {
    o = o || {};
    var w = first(o), box = w && document.querySelectorAll('.ctiw')[0];
    if (box && o.display_name) box.querySelector('input[autocomplete=name]').value = o.display_name;
    if (box && o.phone) box.querySelector('input[autocomplete=tel]').value = o.phone;
    return w.start(o.media === 'video' || (o.media || []).indexOf && (o.media || []).indexOf('video') >= 0 ? 'video' : 'audio');
  };
  g.CTIWebCall.camera = function (on) { return first().camera(on); };
  g.CTIWebCall.shareScreen = function (on) { return first().shareScreen(on); };
  g.CTIWebCall.digits = function (s) { String(s).split('').forEach(function (d) { first().dtmf(d); }); };
  g.CTIWebCall.hangUp = function () { var w = first(); if (w.chat && w.chat.ws && !w.ws) return w.chat.end(); return w.hangup(); };
  g.CTIWebCall.on = function (name, fn) { return first().on(name, fn); };
  // Chat (docs/chat.md): startChat({account, display_name}), send(text), endChat(); events
  // chat_message, state (chat_queued, chat_active, chat_ended) and ended, on the first widget.
  g.CTIWebCall.startChat = function (o) {
    o = o || {};
    var w = first(o), box = document.querySelectorAll('.ctiw')[0];
    var server = (o.server || SERVER).replace(/\/+$/, ''), account = o.account || (box && box.parentNode.getAttribute('data-account')) || 'demo';
    return chatParts(w, box, server, account, o.display_name || '').then(function (c) { return { chatId: c.chatId }; });
  };
  g.CTIWebCall.send = function (text) { var w = first(); return !!(w.chat && w.chat.send(text)); };
  g.CTIWebCall.endChat = function () { var w = first(); if (w.chat) w.chat.end(); };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', auto); else auto();
})(window);
