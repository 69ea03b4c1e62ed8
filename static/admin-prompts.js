// admin-prompts.js: the IVR greeting from text (docs/ivr.md). The admin types what callers hear,
// picks a voice and generates: PUT /api/v1/prompts/{name} speaks it on the server (espeak-ng),
// then, with "Play it as the IVR greeting" ticked, PUT /api/v1/settings points ivr.greeting at
// it. The new prompt plays in the page as a preview (the WAV is fetched with the admin token,
// since an <audio src> cannot send one, and played from a blob: URL). The list shows the
// account's generated prompts with Listen, Use as greeting and Delete. Refusals (too long, no
// text-to-speech on the server, too many in a minute) are shown in plain words.
(function () {
  'use strict';
  var A = window.CTIAdmin, $ = A.$;
  var MAX = 500, settings = null;

  function count() {
    var n = Array.from($('p-text').value.trim()).length;
    A.text('p-count', n + ' of ' + MAX + ' characters' + (n > MAX ? ': ' + (n - MAX) + ' too many' : ''));
    return n;
  }
  function seconds(ms) { return (ms / 1000).toFixed(1) + ' s'; }

  // listen plays a prompt's audio in the page.
  function listen(name) {
    return fetch('/api/v1/prompts/' + encodeURIComponent(name) + '/audio', { headers: { Authorization: 'Bearer ' + A.token() } })
      .then(function (res) { if (!res.ok) throw new Error('the prompt could not be read (' + res.status + ')'); return res.blob(); })
      .then(function (blob) {
        var a = $('p-player');
        if (a.src) URL.revokeObjectURL(a.src);
        a.src = URL.createObjectURL(blob);
        a.hidden = false;
        a.setAttribute('data-prompt', name);
        return a.play().catch(function () {}); // autoplay may be refused: the controls stay
      });
  }

  // useAsGreeting points the IVR greeting at name. The API replaces ivr as a whole, so the
  // current menu is read first (the IVR form of admin-manage.js may have changed it).
  function useAsGreeting(name) {
    return A.api('GET', '/settings').then(function (cur) {
      var ivr = cur.ivr;
      ivr.greeting = name;
      return A.api('PUT', '/settings', { ivr: ivr });
    }).then(function (s) {
      settings = s;
      $('s-greeting').value = s.ivr.greeting;
      return load();
    });
  }

  function button(label, aria, fn) {
    var b = document.createElement('button');
    b.type = 'button'; b.className = 'secondary small'; b.textContent = label;
    b.setAttribute('aria-label', aria);
    b.addEventListener('click', function () {
      A.text('p-error', '');
      fn().catch(function (e) { A.text('p-error', e.message); });
    });
    return b;
  }
  function render(list) {
    var tb = $('prompts');
    tb.textContent = '';
    list.forEach(function (p) {
      var tr = document.createElement('tr');
      tb.appendChild(tr);
      A.cell(tr, p.name + (settings && settings.ivr.greeting === p.name ? ' (greeting)' : ''));
      A.cell(tr, p.voice); A.cell(tr, seconds(p.duration_ms)); A.cell(tr, p.text);
      var td = A.cell(tr, '');
      td.appendChild(button('Listen', 'Listen to prompt ' + p.name, function () { return listen(p.name); }));
      td.appendChild(button('Use as greeting', 'Use prompt ' + p.name + ' as the IVR greeting', function () {
        return useAsGreeting(p.name).then(function () { A.text('p-saved', p.name + ' is the greeting'); });
      }));
      // Deleting the greeting's prompt puts the shipped welcome back as the greeting (a greeting
      // naming no prompt would play hold audio).
      td.appendChild(button('Delete', 'Delete prompt ' + p.name, function () {
        return A.api('DELETE', '/prompts/' + encodeURIComponent(p.name)).then(function () {
          return A.api('GET', '/settings');
        }).then(function (cur) {
          if (cur.ivr.greeting !== p.name) { settings = cur; return load(); }
          return useAsGreeting('welcome').then(function () { A.text('p-saved', 'deleted ' + p.name + '; the greeting is welcome again'); });
        });
      }));
    });
  }
  function load() {
    return A.api('GET', '/prompts').then(function (r) {
      MAX = r.max_text;
      var sel = $('p-voice'), cur = sel.value;
      sel.textContent = '';
      r.voices.forEach(function (v) {
        var o = document.createElement('option');
        o.value = o.textContent = v;
        sel.appendChild(o);
      });
      sel.value = r.voices.indexOf(cur) >= 0 ? cur : r.voices[0];
      render(r.prompts);
      count();
    });
  }

  $('p-text').addEventListener('input', count);
  $('prompt-form').addEventListener('submit', function (e) {
    e.preventDefault();
    A.text('p-saved', ''); A.text('p-error', '');
    var name = $('p-name').value.trim(), text = $('p-text').value.trim(), n = count();
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)) { A.text('p-error', 'Prompt name: must be lowercase letters, digits, - and _ (at most 32).'); return; }
    if (!n) { A.text('p-error', 'Prompt text: type what callers should hear.'); return; }
    if (n > MAX) { A.text('p-error', 'Prompt text: ' + n + ' characters is too long; at most ' + MAX + '. Shorten it by ' + (n - MAX) + '.'); return; }
    $('p-generate').disabled = true;
    A.text('p-saved', 'generating…');
    A.api('PUT', '/prompts/' + encodeURIComponent(name), { text: text, voice: $('p-voice').value }).then(function (p) {
      var done = $('p-use').checked ? useAsGreeting(p.name) : load();
      return done.then(function () {
        A.text('p-saved', 'generated ' + p.name + ' (' + seconds(p.duration_ms) + ')' + ($('p-use').checked ? ', now the IVR greeting' : ''));
        return listen(p.name);
      });
    }).catch(function (err) {
      A.text('p-saved', '');
      A.text('p-error', err.message);
    }).then(function () { $('p-generate').disabled = false; });
  });

  A.onSignIn(function (s) {
    settings = s;
    load().catch(function (e) { A.text('p-error', e.message); });
  });
})();
