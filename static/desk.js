// desk.js: what the agent pages (softphone, demo CRM) share on top of window.CTI: plain-word
// status labels and errors, the signed-in / signed-out state of the page, and the ringer.
// No dependencies; it sets window.CTIDesk. docs/js.md, "The pages".
(function (g) {
  'use strict';
  var STATUS = {
    offline: 'Offline', online: 'Available (direct calls only)', ready: 'Ready',
    dnd: 'Not ready', in_call: 'In a call', after_call_work: 'After-call work'
  };
  // Outcome of a call that failed, in words (the SIP-style code stays in brackets).
  var SIP = { 404: 'no such destination', 408: 'not answered in time', 480: 'nobody was available', 486: 'busy', 487: 'the caller hung up', 603: 'rejected' };

  function label(status, reason) {
    var s = STATUS[status] || status || '–';
    if (status === 'dnd' && reason) s += ': ' + reason.replace(/_/g, ' ');
    return s;
  }
  function since(ts) {
    var t = ts ? Date.parse(ts) : NaN;
    if (isNaN(t)) return '';
    var s = Math.max(0, Math.floor((Date.now() - t) / 1000));
    return s < 3600 ? Math.floor(s / 60) + ':' + ('0' + s % 60).slice(-2) : Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min';
  }
  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    return ('0' + Math.floor(s / 60)).slice(-2) + ':' + ('0' + s % 60).slice(-2);
  }
  function sip(code, reason) { return (SIP[code] || reason || 'failed') + (code ? ' (' + code + ')' : ''); }
  // words turns a CTI rejection into a sentence for the agent (never a bare OPENCTI_* code).
  function words(e) {
    if (!e) return '';
    var m = String(e.errMessage || e.message || e);
    if (e.errCode === 'OPENCTI_LINK_DOWN' || e.errCode === 'OPENCTI_TIMEOUT') m = 'No answer from the server: ' + m;
    if (e.errCode === 'OPENCTI_MODE_NOT_SUPPORTED') m = 'Not available here: ' + m;
    if (e.errCode === 'OPENCTI_DEVICE_NOT_READY') m = 'No working phone: ' + m;
    if (e.errCode === 'OPENCTI_DEST_BUSY') m = 'Busy: ' + m;
    return m.charAt(0).toUpperCase() + m.slice(1);
  }
  function micWords(p) {
    if (p.mic) return 'granted';
    var e = p.micError || '';
    if (/NotAllowed|denied|permission/i.test(e)) return 'blocked: allow the microphone for this site, then press "Try again"';
    if (/NotFound/i.test(e)) return 'no microphone found: plug one in, then press "Try again"';
    if (/NotReadable/i.test(e)) return 'in use by another program';
    return e ? 'not available (' + e + ')' : 'not available';
  }
  function audioWords(s) {
    return s.audio === 'this-tab' ? 'audio: this tab' : s.audio === 'other-tab' ? 'audio: another tab' : 'audio: no tab has audio';
  }

  // session wires the page's sign-in form to CTI: o = {storageKey, client, signin, sections,
  // link, media, error, onSignedIn}. It returns start(token).
  function session(o) {
    var $ = function (id) { return document.getElementById(id); };
    function show(signedIn) {
      $(o.signin).hidden = signedIn;
      o.sections.forEach(function (id) { $(id).hidden = !signedIn; });
      $('signin-btn').disabled = false;
    }
    function out(why) {
      sessionStorage.removeItem(o.storageKey);
      $(o.link).textContent = 'signed out';
      $(o.link).className = 'badge';
      if (o.media) $(o.media).textContent = 'audio: –';
      show(false);
      if (why) $(o.error).textContent = words({ errMessage: why });
    }
    g.CTI.on('link', function (l) {
      if (l.state === 'SIGNED_OUT') return out(l.code === 4001 ? '' : l.reason);
      $(o.link).textContent = l.state === 'CONNECTED' ? 'connected' : 'reconnecting…';
    });
    g.CTI.on('Snapshot', function (s) { if (o.media) $(o.media).textContent = audioWords(s); });
    return function start(token) {
      $(o.link).textContent = 'connecting…';
      $('signin-btn').disabled = true;
      $(o.error).textContent = '';
      // Stored before init: the page's own REST reads (settings, directory) run on the first
      // 'link' CONNECTED, which comes before init resolves; a refused token is removed by out().
      sessionStorage.setItem(o.storageKey, token);
      return g.CTI.init({ server: location.origin, token: token, client: o.client }).then(function (caps) {
        show(true);
        if (o.onSignedIn) o.onSignedIn(caps);
      }).catch(function (e) { out(words(e)); });
    };
  }
  // tokenFromPage reads #token=… (and removes it from the address bar) or the tab's stored one.
  function tokenFromPage(key) {
    var m = /[#&]token=([^&]+)/.exec(location.hash);
    if (m) history.replaceState(null, '', location.pathname + location.search);
    return m ? decodeURIComponent(m[1]) : sessionStorage.getItem(key);
  }

  // ringer alerts the agent to a call ringing here: the ringtone (/static/ring.wav, looped; only in
  // the tab that holds the audio; volume, output device and "mute the ringer" are kept per browser
  // in localStorage), a desktop notification when the tab is hidden, a flashing title, focus on
  // Answer and a countdown to the ring timeout. It stops the moment the call stops alerting here
  // or in another tab (alertStop). o = {answer, countdown, timeoutSeconds()}.
  function ringer(o) {
    var $ = function (id) { return document.getElementById(id); };
    var audio = new Audio('/static/ring.wav'), ringing = '', flash = 0, count = 0, title = document.title, note = null, until = 0;
    audio.loop = true;
    audio.setAttribute('data-cti-ringer', '');
    audio.hidden = true;
    document.addEventListener('DOMContentLoaded', function () { document.body.appendChild(audio); });
    if (document.body) document.body.appendChild(audio);
    function prefs() {
      audio.volume = Math.min(1, Math.max(0, Number(localStorage.getItem('cti-ring-volume') || '0.8')));
      audio.muted = localStorage.getItem('cti-ring-muted') === '1';
      var sink = localStorage.getItem('cti-ring-sink');
      if (sink && audio.setSinkId) audio.setSinkId(sink).catch(function () {});
    }
    function stop(id) {
      if (!ringing || (id && id !== ringing)) return;
      ringing = '';
      audio.pause(); audio.currentTime = 0;
      clearInterval(flash); clearInterval(count);
      document.title = title;
      if (note) { note.close(); note = null; }
      if ($(o.countdown)) $(o.countdown).textContent = '';
    }
    function start(e) {
      if (ringing === e.callId) return;
      stop();
      ringing = e.callId;
      prefs();
      if (g.CTI.getState().mediaOwner) audio.play().catch(function () {}); // autoplay may need a first click
      var who = e.displayName || e.phone || 'a caller', on = false;
      flash = setInterval(function () { on = !on; document.title = on ? '📞 Call from ' + who : title; }, 800);
      until = Date.now() + (o.timeoutSeconds() || 20) * 1000;
      var tick = function () { if ($(o.countdown)) $(o.countdown).textContent = 'Rings for ' + Math.max(0, Math.ceil((until - Date.now()) / 1000)) + ' s more'; };
      tick(); count = setInterval(tick, 500);
      if ($(o.answer)) $(o.answer).focus();
      if (document.hidden && g.Notification) {
        var show = function () {
          if (Notification.permission !== 'granted' || ringing !== e.callId) return;
          note = new Notification('Incoming call', { body: who + (e.queue ? ' · ' + e.queue : ''), tag: 'cti-' + e.callId, requireInteraction: true });
          note.onclick = function () { g.focus(); if ($(o.answer)) $(o.answer).focus(); };
        };
        if (Notification.permission === 'default') Notification.requestPermission().then(show); else show();
      }
    }
    g.CTI.on('CallEvent', function (e) { if (e.state === 'alerting' && !e.replayed) start(e); else stop(e.callId); });
    g.CTI.on('alertStop', function (a) { stop(a.callId); });
    g.CTI.on('Snapshot', function (s) { if (ringing && !s.pyCalls.some(function (c) { return c.callId === ringing && c.state === 'alerting'; })) stop(); });
    return { audio: audio, prefs: prefs, stop: stop, ringing: function () { return ringing; } };
  }

  // shortcuts: Alt+A answer, Alt+H hang up, Alt+O hold or retrieve, Alt+M mute or unmute (the
  // page's own buttons are clicked, so a disabled or hidden control does nothing). Off when
  // localStorage 'cti-shortcuts' is 'off' (the page's checkbox o.toggle).
  function shortcuts(o) {
    var $ = function (id) { return document.getElementById(id); };
    var keys = { a: o.answer, h: o.hangup, o: o.hold, m: o.mute };
    var box = $(o.toggle);
    if (box) {
      box.checked = localStorage.getItem('cti-shortcuts') !== 'off';
      box.addEventListener('change', function () { localStorage.setItem('cti-shortcuts', box.checked ? 'on' : 'off'); });
    }
    document.addEventListener('keydown', function (e) {
      if (!e.altKey || e.ctrlKey || e.metaKey || localStorage.getItem('cti-shortcuts') === 'off') return;
      var ids = [].concat(keys[String(e.key).toLowerCase()] || []);
      var el = ids.map($).filter(function (x) { return x && !x.disabled && x.offsetParent !== null; })[0];
      if (!el) return;
      e.preventDefault();
      el.click();
    });
  }

  g.CTIDesk = { shortcuts: shortcuts, ringer: ringer,  label: label, since: since, clock: clock, sip: sip, words: words, micWords: micWords, audioWords: audioWords, session: session, tokenFromPage: tokenFromPage };
})(window);
