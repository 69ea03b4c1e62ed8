// consult-ui.js: the consult controls of the softphone and the demo CRM (docs/consult.md). It
// lists both calls of a consult with their state (Talk on the held one retrieves it, and the
// server holds the other), and offers the three ways to end it: complete as a transfer, complete
// as a conference, or cancel (hang up the consult call, retrieve the customer). It uses only
// window.CTI: CallEvents (pyCallType CONSULT, consultOf) and the Pega-named methods.
(function () {
  'use strict';
  // CTIConsult wires the page's consult elements: #btn-consult (reads destFrom), #consult,
  // #consult-calls, #btn-consult-transfer, #btn-consult-conference, #btn-consult-cancel.
  // current() is the page's selected call; run(promise) shows a rejection.
  window.CTIConsult = function (o) {
    var CTI = window.CTI, calls = {};
    var $ = function (id) { return document.getElementById(id); };
    function pair() {
      for (var id in calls) {
        var c = calls[id];
        if (c.consultOf && calls[c.consultOf]) return { primary: calls[c.consultOf], consult: c };
      }
      return null;
    }
    function row(label, c) {
      var li = document.createElement('li'), span = document.createElement('span');
      span.textContent = label + ': ' + (c.displayName || c.phone) + ' · ' + c.state;
      li.setAttribute('data-call-id', c.callId);
      li.setAttribute('data-state', c.state);
      li.appendChild(span);
      if (c.state === 'held') {
        var b = document.createElement('button');
        b.type = 'button'; b.className = 'secondary'; b.textContent = 'Talk';
        b.setAttribute('aria-label', 'Talk to ' + (c.displayName || c.phone) + ' (the other call is held)');
        b.addEventListener('click', function () { o.run(CTI.retrieveCall(c.callId)); });
        li.appendChild(b);
      }
      return li;
    }
    function render() {
      var p = pair(), ul = $('consult-calls');
      $('consult').hidden = !p;
      ul.textContent = '';
      if (!p) return;
      ul.appendChild(row('Customer', p.primary));
      ul.appendChild(row('Consult', p.consult));
      var up = p.consult.state === 'connected' || p.consult.state === 'held';
      $('btn-consult-transfer').disabled = $('btn-consult-conference').disabled = !up;
    }
    function track(e) {
      if (e.state === 'ended') delete calls[e.callId]; else calls[e.callId] = e;
      render();
    }
    CTI.on('Snapshot', function (s) { calls = {}; s.pyCalls.forEach(function (c) { calls[c.callId] = c; }); render(); });
    CTI.on('CallEvent', track);
    $('btn-consult').addEventListener('click', function () {
      var dest = $(o.destFrom).value.trim();
      o.run(CTI.consultationCall(o.current() || undefined, dest));
    });
    $('btn-consult-transfer').addEventListener('click', function () { var p = pair(); if (p) o.run(CTI.transferComplete(p.primary.callId)); });
    $('btn-consult-conference').addEventListener('click', function () { var p = pair(); if (p) o.run(CTI.conferenceComplete(p.primary.callId)); });
    $('btn-consult-cancel').addEventListener('click', function () {
      var p = pair();
      if (p) o.run(CTI.hangUpCall(p.consult.callId).then(function () { return CTI.retrieveCall(p.primary.callId); }));
    });
  };
})();
