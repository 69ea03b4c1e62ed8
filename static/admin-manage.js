// admin-manage.js: managing the account: agents (PUT and DELETE /api/v1/users/{id}, listed in the
// live view's agents table with Edit and Delete buttons) and the settings groups (each form saves
// its own fields with one PUT /api/v1/settings; a refusal is shown in plain words in that form and
// changes nothing). Form fields name their settings path in data-field and their shape in
// data-kind: int, text, bool (a checkbox), lines (a list, one per line), map (key = value lines),
// pairs (name = destination lines, the quick connects) or codes (code = label lines).
(function () {
  'use strict';
  var A = window.CTIAdmin, $ = A.$;
  var settings = null;

  // --- settings forms ---------------------------------------------------------------------
  function lines(s) { return s.split('\n').map(function (x) { return x.trim(); }).filter(Boolean); }
  function pairs(s) {
    return lines(s).map(function (l) {
      var i = l.indexOf('=');
      return i < 0 ? [l, ''] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
    });
  }
  function get(obj, path) { return path.split('.').reduce(function (o, k) { return o == null ? o : o[k]; }, obj); }

  function show(input, v) {
    switch (input.getAttribute('data-kind')) {
      case 'lines': input.value = (v || []).join('\n'); break;
      case 'map': input.value = Object.keys(v || {}).sort().map(function (k) { return k + ' = ' + v[k]; }).join('\n'); break;
      case 'pairs': input.value = (v || []).map(function (q) { return q.name + ' = ' + q.destination; }).join('\n'); break;
      case 'codes': input.value = (v || []).map(function (d) { return d.code + ' = ' + d.label; }).join('\n'); break;
      case 'bool': input.checked = !!v; break;
      default: input.value = v == null ? '' : String(v);
    }
  }
  function read(input) {
    var v = input.value;
    switch (input.getAttribute('data-kind')) {
      case 'int': return v.trim() === '' ? NaN : Number(v);
      case 'lines': return lines(v);
      case 'map': var m = {}; pairs(v).forEach(function (p) { m[p[0]] = p[1]; }); return m;
      case 'pairs': return pairs(v).map(function (p) { return { name: p[0], destination: p[1] }; });
      case 'codes': return pairs(v).map(function (p) { return { code: p[0], label: p[1] || p[0] }; });
      case 'bool': return input.checked;
      default: return v.trim();
    }
  }
  function fill() {
    Array.prototype.forEach.call(document.querySelectorAll('form.settings [data-field]'), function (input) {
      show(input, get(settings, input.getAttribute('data-field')));
    });
    queueChoices();
  }

  // patchOf builds a form's PUT body: top-level fields as read, ivr.* merged into a whole ivr
  // object (the API replaces ivr as a whole).
  function patchOf(form) {
    var patch = {}, bad = [];
    Array.prototype.forEach.call(form.querySelectorAll('[data-field]'), function (input) {
      var path = input.getAttribute('data-field').split('.'), v = read(input);
      if (typeof v === 'number' && !isFinite(v)) bad.push(input.previousElementSibling.textContent + ': must be a whole number');
      if (path.length === 2) {
        patch[path[0]] = patch[path[0]] || JSON.parse(JSON.stringify(settings[path[0]]));
        patch[path[0]][path[1]] = v;
      } else {
        patch[path[0]] = v;
      }
    });
    return { patch: patch, bad: bad };
  }

  Array.prototype.forEach.call(document.querySelectorAll('form.settings'), function (form) {
    var saved = form.querySelector('.saved'), alert = form.querySelector('.alert');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      saved.textContent = ''; alert.textContent = '';
      var p = patchOf(form);
      if (p.bad.length) { alert.textContent = p.bad.join('. ') + '.'; return; }
      A.api('PUT', '/settings', p.patch).then(function (s) {
        settings = s;
        fill();
        saved.textContent = 'saved';
      }, function (err) { alert.textContent = err.message; });
    });
  });

  // --- agents -----------------------------------------------------------------------------
  function queueChoices() {
    var fs = $('agent-queues'), checked = {};
    Array.prototype.forEach.call(fs.querySelectorAll('input:checked'), function (c) { checked[c.value] = true; });
    Array.prototype.forEach.call(fs.querySelectorAll('label'), function (l) { fs.removeChild(l); });
    (settings.queues || []).forEach(function (q) {
      var label = document.createElement('label'), box = document.createElement('input');
      box.type = 'checkbox'; box.value = q; box.checked = !!checked[q];
      label.appendChild(box); label.appendChild(document.createTextNode(q));
      fs.appendChild(label);
    });
  }
  function edit(u) {
    $('agent-id').value = u.user_id; $('agent-name').value = u.name; $('agent-ext').value = u.extension || '';
    Array.prototype.forEach.call($('agent-queues').querySelectorAll('input'), function (c) { c.checked = (u.queues || []).indexOf(c.value) >= 0; });
    A.text('agent-saved', ''); A.text('agent-error', '');
    $('agent-name').focus();
  }
  function clear() { $('agent-form').reset(); A.text('agent-saved', ''); A.text('agent-error', ''); }
  // remove deletes an agent on a second click of its Delete button ("Confirm delete"), so that
  // a slip of the mouse deletes nobody; a click anywhere else disarms it. The arming is kept by
  // user id (the live view redraws the rows as events arrive, so a button cannot hold it).
  var armed = '';
  function remove(u, b) {
    if (armed !== u.user_id) {
      armed = u.user_id;
      b.textContent = 'Confirm delete';
      A.text('agent-saved', 'Deleting ' + u.user_id + ' ends their calls and sessions: click Confirm delete.');
      return;
    }
    armed = '';
    A.api('DELETE', '/users/' + encodeURIComponent(u.user_id)).then(function () {
      A.text('agent-saved', 'deleted ' + u.user_id);
      return window.CTIAdminLive.reloadUsers();
    }, function (err) { A.text('agent-error', err.message); });
  }
  $('agent-form').addEventListener('submit', function (e) {
    e.preventDefault();
    A.text('agent-saved', ''); A.text('agent-error', '');
    var id = $('agent-id').value.trim(), body = { name: $('agent-name').value.trim(), queues: [] };
    if ($('agent-ext').value.trim()) body.extension = $('agent-ext').value.trim();
    Array.prototype.forEach.call($('agent-queues').querySelectorAll('input:checked'), function (c) { body.queues.push(c.value); });
    if (!/^[A-Za-z0-9._@-]{1,128}$/.test(id)) { A.text('agent-error', 'User id: must be letters, digits and . _ @ - (at most 128).'); return; }
    A.api('PUT', '/users/' + encodeURIComponent(id), body).then(function (u) {
      A.text('agent-saved', 'saved ' + u.user_id);
      clear();
      A.text('agent-saved', 'saved ' + u.user_id);
      return window.CTIAdminLive.reloadUsers();
    }, function (err) { A.text('agent-error', err.message); });
  });
  $('agent-clear').addEventListener('click', clear);
  document.addEventListener('click', function (e) {
    var t = e.target && e.target.closest && e.target.closest('[data-delete]');
    if (armed && (!t || t.getAttribute('data-delete') !== armed)) {
      armed = '';
      Array.prototype.forEach.call(document.querySelectorAll('[data-delete]'), function (b) { b.textContent = 'Delete'; });
    }
  }, true);

  window.CTIAdminManage = {
    // actions puts the Edit and Delete buttons of an agent's row into cell td.
    actions: function (td, u) {
      [['Edit', 'secondary', edit], ['Delete', 'danger', remove]].forEach(function (a) {
        var b = document.createElement('button');
        b.type = 'button'; b.className = a[1] + ' small';
        b.textContent = a[0] === 'Delete' && armed === u.user_id ? 'Confirm delete' : a[0];
        if (a[0] === 'Delete') b.setAttribute('data-delete', u.user_id);
        b.setAttribute('aria-label', a[0] + ' agent ' + u.user_id);
        b.addEventListener('click', function () { a[2](u, b); });
        td.appendChild(b);
      });
    }
  };

  A.onSignIn(function (s) { settings = s; fill(); });
})();
