// chat-ui.js: the agent's chats on the softphone and the demo CRM (docs/chat.md). A section
// #chats (created after <main>'s first section when the page has none) lists the chats offered
// to or held by the agent: an offer with Accept / Decline, an active chat with its messages,
// a message box, Send and End, a chat in after-chat work with Done. Every message is shown as
// text (textContent), never as HTML. Customer messages shown are acknowledged
// (markChatDelivered); typing is signalled at most every 3 s. The buttons follow the account's
// telephony mode like every desktop control: without acceptChat in the capabilities (simple and
// agent-state desktops) the section only notifies.
(function () {
  'use strict';
  var CTI = window.CTI;
  if (!CTI || !document.querySelector('main')) return;
  var root = document.getElementById('chats'), chats = {}, typedAt = {};
  function el(tag, cls, txt, attrs) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (txt != null) e.textContent = txt;
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
  if (!root) {
    root = el('section', 'chats', null, { id: 'chats', 'aria-labelledby': 'chats-h', hidden: '' });
    root.appendChild(el('h2', '', 'Chats', { id: 'chats-h' }));
    var main = document.querySelector('main');
    main.insertBefore(root, main.children[2] || null);
  }
  var caps = null;
  CTI.on('capabilities', function (c) { caps = c; render(); });
  var can = function (m) { return !caps || caps.client === 'phone' || caps.methods.indexOf(m) >= 0; };
  function fail(box, e) { box.querySelector('.chat-error').textContent = (e && e.errMessage) || String(e); }

  function card(c) {
    var box = el('article', 'chat', null, { 'data-chat-id': c.chatId, 'data-state': c.state, 'aria-label': 'Chat with ' + (c.displayName || 'a visitor') });
    var head = el('h3', '', c.displayName || 'Web visitor');
    head.appendChild(el('span', 'muted', ' · ' + (c.queue || '') + ' · ' + c.state));
    box.appendChild(head);
    var log = el('ol', 'chat-log', null, { 'aria-live': 'polite', 'aria-label': 'Messages' });
    (c.messages || []).forEach(function (m) { log.appendChild(line(m)); });
    box.appendChild(log);
    box.appendChild(el('p', 'chat-typing muted', '', { 'aria-live': 'polite' }));
    box.appendChild(el('p', 'chat-error error', '', { role: 'alert' }));
    var row = el('div', 'row');
    var btn = function (label, cls, fn, method) {
      if (!can(method)) return;
      var b = el('button', cls, label, { type: 'button' });
      b.addEventListener('click', function () { fn().catch(function (e) { fail(box, e); }); });
      row.appendChild(b);
    };
    if (c.state === 'offered') {
      btn('Accept', 'ok chat-accept', function () { return CTI.acceptChat(c.chatId).then(function (v) { c.messages = v.messages; c.state = v.state; render(); }); }, 'acceptChat');
      btn('Decline', 'secondary chat-reject', function () { return CTI.rejectChat(c.chatId); }, 'rejectChat');
    } else if (c.state === 'active' && can('sendChatMessage')) {
      var input = el('textarea', 'chat-input', null, { rows: '2', maxlength: '4096', 'aria-label': 'Message to ' + (c.displayName || 'the visitor') });
      input.addEventListener('input', function () {
        if (Date.now() - (typedAt[c.chatId] || 0) > 3000) { typedAt[c.chatId] = Date.now(); CTI.sendChatTyping(c.chatId, true).catch(function () {}); }
      });
      input.addEventListener('keydown', function (e) { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); box.querySelector('.chat-send').click(); } });
      box.insertBefore(input, box.querySelector('.chat-typing'));
      btn('Send', 'chat-send', function () {
        var t = input.value;
        if (!t.trim()) return Promise.resolve();
        input.value = ''; typedAt[c.chatId] = 0;
        return CTI.sendChatMessage(c.chatId, t).catch(function (e) { input.value = t; throw e; });
      }, 'sendChatMessage');
      btn('End chat', 'danger chat-end', function () { return CTI.endChat(c.chatId); }, 'endChat');
    } else if (c.state === 'wrap_up') {
      btn('Done', 'chat-done', function () { return CTI.completeChat(c.chatId); }, 'completeChat');
    }
    box.appendChild(row);
    return box;
  }
  function line(m) {
    var li = el('li', 'chat-msg', null, { 'data-from': m.from, 'data-seq': String(m.msgSeq || '') });
    li.appendChild(el('span', 'chat-who', m.from === 'customer' ? 'Visitor' : m.from === 'agent' ? 'You' : ''));
    li.appendChild(el('span', 'chat-text', m.text)); // textContent: HTML stays text
    return li;
  }
  function render() {
    var open = document.activeElement && document.activeElement.closest && document.activeElement.closest('.chat');
    var keep = open && open.querySelector('.chat-input') ? { id: open.getAttribute('data-chat-id'), v: open.querySelector('.chat-input').value } : null;
    Array.prototype.slice.call(root.querySelectorAll('article.chat')).forEach(function (a) { a.remove(); });
    Object.keys(chats).forEach(function (id) { root.appendChild(card(chats[id])); });
    root.hidden = !Object.keys(chats).length;
    if (keep) { var i = root.querySelector('[data-chat-id="' + keep.id + '"] .chat-input'); if (i) { i.value = keep.v; i.focus(); } }
  }
  function sync() { chats = {}; CTI.getChats().forEach(function (c) { chats[c.chatId] = c; }); render(); }
  CTI.on('Snapshot', sync);
  CTI.on('ChatEvent', function (e) {
    var c = chats[e.chatId];
    if (e.pyEventName === 'Message') {
      if (!c) return;
      (c.messages = c.messages || []).push(e);
      var log = root.querySelector('[data-chat-id="' + e.chatId + '"] .chat-log');
      if (log) log.appendChild(line(e));
      var ty = root.querySelector('[data-chat-id="' + e.chatId + '"] .chat-typing');
      if (ty && e.from === 'customer') ty.textContent = '';
      if (e.from === 'customer' && can('markChatDelivered')) CTI.markChatDelivered(e.chatId, e.msgSeq).catch(function () {});
      return;
    }
    if (e.pyEventName === 'Typing') {
      var t = root.querySelector('[data-chat-id="' + e.chatId + '"] .chat-typing');
      if (t) t.textContent = e.typing ? 'The visitor is typing…' : '';
      return;
    }
    if (e.pyEventName === 'Delivered') return;
    sync();
  });
  if (CTI.getCapabilities) CTI.getCapabilities().then(function (c) { caps = c; render(); }, function () {});
})();
