// admin-chats.js: the chat history (docs/chat.md): GET /api/v1/chats, newest first, 50 a page
// with "More chats", filtered by the call history's agent and time fields, and a chat's
// transcript. Every message is shown as text (textContent), never as HTML.
(function () {
  'use strict';
  var A = window.CTIAdmin, $ = A.$;
  if (!A || !$('history-sec')) return;
  var cursor = '';
  function el(tag, cls, txt, attrs) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (txt != null) e.textContent = txt;
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
  var sec = el('section', 'wide', null, { id: 'chats-sec', 'aria-labelledby': 'chats-h', hidden: '' });
  sec.appendChild(el('h2', '', 'Chat history', { id: 'chats-h' }));
  var bar = el('div', 'row'), go = el('button', '', 'Show chats', { type: 'button', id: 'c-search' });
  bar.appendChild(el('span', 'muted', 'Agent and time as in the call history. '));
  bar.appendChild(go);
  sec.appendChild(bar);
  var err = el('div', 'alert', null, { id: 'c-error', role: 'alert' });
  sec.appendChild(err);
  var wrap = el('div', 'table-wrap'), table = el('table'), head = el('thead'), hr = el('tr');
  ['Started', 'Visitor', 'Queue', 'Agent', 'State', 'Messages', ''].forEach(function (h) { hr.appendChild(el('th', '', h, { scope: 'col' })); });
  head.appendChild(hr); table.appendChild(head);
  var body = el('tbody', '', null, { id: 'chat-history' });
  table.appendChild(body); wrap.appendChild(table); sec.appendChild(wrap);
  var empty = el('p', 'muted', 'No chat matches.', { id: 'c-empty', hidden: '' }), more = el('button', 'secondary', 'More chats', { type: 'button', id: 'c-more', hidden: '' });
  sec.appendChild(empty); sec.appendChild(more);
  var detail = el('div', 'card', null, { id: 'c-detail', hidden: '', tabindex: '-1' });
  detail.appendChild(el('h3', '', 'Chat', { id: 'c-detail-h' }));
  var transcript = el('ol', 'chat-log', null, { id: 'c-transcript', 'aria-labelledby': 'c-detail-h' });
  detail.appendChild(transcript); sec.appendChild(detail);
  $('history-sec').parentNode.insertBefore(sec, $('history-sec').nextSibling);

  function query() {
    var q = [], iso = function (v) { return v ? new Date(v).toISOString().replace(/\.\d+Z$/, 'Z') : ''; };
    var add = function (k, v) { if (v) q.push(k + '=' + encodeURIComponent(v)); };
    add('user_id', $('h-agent') && $('h-agent').value);
    add('from', iso($('h-from') && $('h-from').value));
    add('to', iso($('h-to') && $('h-to').value));
    return q.join('&');
  }
  function row(c) {
    var tr = el('tr', '', null, { 'data-chat': c.chat_id });
    body.appendChild(tr);
    A.cell(tr, new Date(c.started_at).toLocaleString());
    A.cell(tr, c.display_name); A.cell(tr, c.queue); A.cell(tr, c.user_id || '');
    A.cell(tr, c.ended_at ? 'ended (' + (c.ended_by || '') + ')' : c.state);
    A.cell(tr, c.messages.length);
    var b = el('button', 'secondary small', 'Transcript', { type: 'button', 'aria-label': 'Transcript of chat ' + c.chat_id });
    b.addEventListener('click', function () { show(c); });
    A.cell(tr, '').appendChild(b);
  }
  function show(c) {
    $('c-detail-h').textContent = 'Chat with ' + c.display_name + ' (' + c.chat_id + ')';
    transcript.textContent = '';
    c.messages.forEach(function (m) {
      var li = el('li', 'chat-msg', null, { 'data-from': m.from });
      li.appendChild(el('span', 'chat-who', new Date(m.ts).toLocaleTimeString() + ' ' + (m.from === 'agent' ? m.user_id || 'agent' : m.from)));
      li.appendChild(el('span', 'chat-text', m.text)); // textContent: HTML stays text
      transcript.appendChild(li);
    });
    detail.hidden = false;
    detail.focus();
  }
  function search(next) {
    err.textContent = '';
    if (!next) { cursor = ''; body.textContent = ''; detail.hidden = true; }
    var q = query() + (next && cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    return A.api('GET', '/chats?limit=50' + (q ? '&' + q : '')).then(function (r) {
      r.chats.forEach(row);
      cursor = r.next_cursor || '';
      more.hidden = !cursor;
      empty.hidden = body.children.length > 0;
    }, function (e) { err.textContent = e.message; });
  }
  go.addEventListener('click', function () { search(false); });
  more.addEventListener('click', function () { search(true); });
  A.onSignIn(function () { sec.hidden = false; search(false); });
})();
