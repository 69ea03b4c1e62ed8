// softphone-wrapup.js: wrap-up on the softphone. After an answered call ends, a panel asks for
// the account's disposition code (settings disposition_codes) and notes, saved on the call record
// with CTI.setDisposition, with a countdown to the end of after-call work (wrap_up_seconds) and,
// when the account requires a disposition, a note that after-call work lasts until it is given.
// During a call, "After this call" chooses the status to return to (ready, or not ready with one
// of the account's reasons): CTI.agentReady / agentNotReady during a call set where the agent
// returns, and the server applies it when the call and its after-call work end.
(function () {
  'use strict';
  var CTI = window.CTI, Desk = window.CTIDesk, $ = function (id) { return document.getElementById(id); };
  if (!$('wrapup')) return; // a page without the panel
  var settings = { disposition_codes: [], disposition_required: false, wrap_up_seconds: 0, not_ready_reasons: [] };
  var last = null, answered = {}, countdown = 0, acwSince = 0;

  function text(id, s) { $(id).textContent = s == null ? '' : String(s); }
  function option(sel, value, label) { var o = document.createElement('option'); o.value = value; o.textContent = label; sel.appendChild(o); }

  function fillCodes() {
    var sel = $('wrapup-code');
    while (sel.options.length > 1) sel.remove(1);
    settings.disposition_codes.forEach(function (d) { option(sel, d.code, d.label); });
    sel.disabled = !settings.disposition_codes.length;
    var next = $('next-status');
    if (!next) return;
    var cur = next.value;
    while (next.options.length > 1) next.remove(1);
    (settings.not_ready_reasons.length ? settings.not_ready_reasons : ['break']).forEach(function (r) { option(next, 'dnd:' + r, Desk.label('dnd', r)); });
    next.value = cur || 'ready';
    if (next.value !== cur) next.value = 'ready';
  }

  function show(c) {
    last = { id: c.callId, who: c.displayName || c.phone || '' };
    $('wrapup-form').reset();
    Array.prototype.forEach.call($('wrapup-form').elements, function (el) { el.disabled = false; });
    $('wrapup-code').disabled = !settings.disposition_codes.length;
    text('wrapup-who', last.who ? 'for ' + last.who : '');
    text('wrapup-saved', ''); text('wrapup-error', '');
    $('wrapup-required').hidden = !settings.disposition_required;
    $('wrapup').hidden = false;
    tick();
  }
  function tick() {
    if (!acwSince) { text('wrapup-countdown', ''); return; }
    if (settings.wrap_up_seconds > 0) {
      var left = Math.ceil((acwSince + settings.wrap_up_seconds * 1000 - Date.now()) / 1000);
      text('wrapup-countdown', left > 0 ? 'After-call work ends in ' + left + ' s' :
        settings.disposition_required && $('wrapup-save').disabled === false ? 'After-call work lasts until you save a disposition' : '');
    } else if (settings.disposition_required) {
      text('wrapup-countdown', 'After-call work lasts until you save a disposition');
    }
  }

  $('wrapup-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (!last) return;
    text('wrapup-saved', ''); text('wrapup-error', '');
    var code = $('wrapup-code').value, notes = $('wrapup-notes').value.trim();
    if (!code && !notes) { text('wrapup-error', 'Choose a disposition or write a note.'); return; }
    if (!code && settings.disposition_required && settings.disposition_codes.length) { text('wrapup-error', 'Choose a disposition: the account requires one.'); return; }
    CTI.setDisposition(last.id, code, notes).then(function (r) {
      text('wrapup-saved', 'saved' + (r.disposition.label ? ': ' + r.disposition.label : ''));
      Array.prototype.forEach.call($('wrapup-form').elements, function (el) { el.disabled = true; });
      tick();
    }, function (err) { text('wrapup-error', err.errMessage || err.message || String(err)); });
  });

  if ($('next-status')) $('next-status').addEventListener('change', function () {
    var v = $('next-status').value, p = v === 'ready' ? CTI.agentReady() : CTI.agentNotReady(v.slice(4));
    p.then(function () { text('next-status-note', 'after this call: ' + (v === 'ready' ? 'Ready' : Desk.label('dnd', v.slice(4)))); },
      function (err) { text('next-status-note', err.errMessage || String(err)); });
  });

  // "After this call" needs the ready operation (a CRM desktop in simple mode has none).
  function nextAllowed() {
    var caps = CTI.getState().capabilities || [];
    if ($('next-status')) $('next-status').parentNode.hidden = caps.length > 0 && caps.indexOf('ready') < 0;
  }
  CTI.on('capabilities', nextAllowed);
  CTI.on('link', function (l) {
    if (l.state !== 'CONNECTED') return;
    nextAllowed();
    fetch('/api/v1/settings', { headers: { Authorization: 'Bearer ' + sessionStorage.getItem(document.body.getAttribute('data-token-key') || 'cti-phone-token') } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) { settings = s; fillCodes(); } }, function () {});
  });
  CTI.on('CallEvent', function (e) {
    if (e.state === 'connected') answered[e.callId] = true;
    if ((e.state === 'alerting' || e.state === 'dialing') && !e.replayed) $('wrapup').hidden = true;
    if (e.state === 'ended' && answered[e.callId] && !e.consultOf) {
      delete answered[e.callId];
      text('next-status-note', '');
      show(e);
    }
  });
  CTI.on('AgentEvent', function (e) {
    acwSince = e.status === 'after_call_work' ? (Date.parse(e.since) || Date.now()) : 0;
    clearInterval(countdown);
    if (acwSince) countdown = setInterval(tick, 500);
    tick();
  });
  window.CTIWrapUp = { last: function () { return last; } };
})();
