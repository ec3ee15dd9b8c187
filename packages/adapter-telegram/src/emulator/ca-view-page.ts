/**
 * The CA view: one self-contained page (no external requests) that plays Telegram for a
 * CA. Pick a bot and a user, read the bot's messages live (Server-Sent Events), press
 * inline buttons, send text, documents and photos, open the files the bot relays.
 * Everything it does goes through the `/_emulator/` driver API.
 */
export const CA_VIEW_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Telegram emulator — CA view</title>
<style>
  :root { --bg:#eef1f5; --panel:#fff; --me:#dcf8c6; --bot:#fff; --ink:#1b1f24; --muted:#4a5563; --accent:#1d5fa8; }
  * { box-sizing: border-box; }
  body { margin:0; font:16px/1.45 system-ui, sans-serif; color:var(--ink); background:var(--bg); display:flex; flex-direction:column; height:100vh; }
  header { background:var(--accent); color:#fff; padding:.5rem 1rem; display:flex; flex-wrap:wrap; gap:.75rem; align-items:end; }
  header h1 { font-size:1.1rem; margin:0 1rem 0 0; align-self:center; }
  label { display:flex; flex-direction:column; font-size:.8rem; gap:.15rem; }
  select, input, button { font:inherit; }
  select, input[type=text] { padding:.3rem .4rem; border:1px solid #8a94a3; border-radius:4px; }
  button { padding:.35rem .8rem; border-radius:4px; border:1px solid var(--accent); background:#fff; color:var(--accent); cursor:pointer; }
  button.primary { background:var(--accent); color:#fff; }
  :focus-visible { outline:3px solid #f5a623; outline-offset:2px; }
  main { flex:1; overflow-y:auto; padding:1rem; }
  ol#messages { list-style:none; margin:0 auto; padding:0; max-width:48rem; display:flex; flex-direction:column; gap:.6rem; }
  .msg { max-width:80%; padding:.5rem .75rem; border-radius:8px; background:var(--bot); box-shadow:0 1px 1px rgba(0,0,0,.15); }
  .msg.me { align-self:flex-end; background:var(--me); }
  .meta { font-size:.75rem; color:var(--muted); }
  .text { margin:.2rem 0; white-space:pre-wrap; overflow-wrap:anywhere; }
  .quote { border-left:3px solid var(--accent); padding-left:.4rem; font-size:.85rem; color:var(--muted); }
  .keyboard { display:grid; gap:.3rem; margin-top:.4rem; }
  .keyboard .row { display:flex; gap:.3rem; }
  .keyboard button { flex:1; }
  img.photo { max-width:100%; max-height:20rem; display:block; margin:.3rem 0; border-radius:4px; }
  .small { font-size:.75rem; padding:.1rem .4rem; }
  .msg > .small { display:block; margin-top:.35rem; }
  .msg > a.file { display:inline-block; }
  footer { background:var(--panel); border-top:1px solid #c9d0da; padding:.6rem 1rem; }
  form#composer { max-width:48rem; margin:0 auto; display:flex; flex-wrap:wrap; gap:.5rem; align-items:end; }
  form#composer label.grow { flex:1 1 16rem; }
  #status { font-size:.85rem; color:var(--muted); min-height:1.2em; max-width:48rem; margin:.3rem auto 0; }
  #replying[hidden], #new-user[hidden] { display:none; }
  #new-user { display:flex; gap:.5rem; align-items:end; flex-wrap:wrap; }
  .empty { text-align:center; color:var(--muted); }
</style>
</head>
<body>
<header>
  <h1>Telegram emulator · CA view</h1>
  <label>Bot <select id="bot"></select></label>
  <label>You are (Telegram user) <select id="user"></select></label>
  <button type="button" id="show-new-user">New user…</button>
  <button type="button" id="refresh">Refresh lists</button>
  <form id="new-user" hidden aria-label="Create a Telegram user">
    <label>First name <input type="text" id="new-first" required value="CA"></label>
    <label>Username <input type="text" id="new-username" placeholder="optional"></label>
    <label>Language <input type="text" id="new-language" size="4" placeholder="en"></label>
    <button type="submit" class="primary">Create</button>
  </form>
</header>
<main aria-label="Conversation">
  <ol id="messages" aria-live="polite" aria-relevant="additions text"></ol>
</main>
<footer>
  <form id="composer" aria-label="Send a message">
    <p id="replying" hidden>Replying to message <span id="reply-id"></span> <button type="button" class="small" id="cancel-reply">Cancel reply</button></p>
    <label class="grow">Message (or caption) <input type="text" id="text" autocomplete="off"></label>
    <button type="submit" class="primary">Send</button>
    <label>Document <input type="file" id="document"></label>
    <label>Photo <input type="file" id="photo" accept="image/*"></label>
  </form>
  <p id="status" role="status"></p>
</footer>
<script>
(function () {
  'use strict';
  var api = '/_emulator';
  var $ = function (id) { return document.getElementById(id); };
  var state = { bots: [], users: [], bot: null, userId: null, messages: new Map(), replyTo: null, events: null };

  function status(text) { $('status').textContent = text; }
  function request(method, path, body) {
    var init = { method: method };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers = { 'content-type': 'application/json' }; }
    return fetch(api + path, init).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data && data.error ? data.error.message : 'HTTP ' + response.status);
        return data;
      });
    });
  }
  function q(params) {
    return Object.keys(params).map(function (k) { return k + '=' + encodeURIComponent(params[k]); }).join('&');
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function time(seconds) { return new Date(seconds * 1000).toLocaleTimeString(); }
  function fileUrl(fileId) { return api + '/files/' + encodeURIComponent(fileId); }
  function summary(m) { return m.text || m.caption || (m.document ? m.document.file_name : m.photo ? 'Photo' : ''); }

  function renderMessage(m) {
    var mine = !(m.from && m.from.is_bot);
    var li = el('li', 'msg ' + (mine ? 'me' : 'bot'));
    li.id = 'm' + m.message_id;
    var who = mine ? 'You' : (m.from ? m.from.first_name : 'Bot');
    li.appendChild(el('div', 'meta', who + ' · ' + time(m.date) + (m.edit_date ? ' · edited' : '') + ' · #' + m.message_id));
    if (m.reply_to_message) li.appendChild(el('div', 'quote', 'Reply to: ' + summary(m.reply_to_message)));
    if (m.photo && m.photo.length) {
      var size = m.photo[m.photo.length - 1];
      var img = el('img', 'photo');
      img.src = fileUrl(size.file_id);
      img.alt = m.caption ? 'Photo: ' + m.caption : 'Photo from ' + who;
      li.appendChild(img);
    }
    if (m.document) {
      var link = el('a', 'file', 'Download ' + (m.document.file_name || 'file') + ' (' + humanSize(m.document.file_size || 0) + ')');
      link.href = fileUrl(m.document.file_id);
      link.setAttribute('download', m.document.file_name || 'file');
      li.appendChild(link);
    }
    var body = m.text !== undefined ? m.text : m.caption;
    if (body) li.appendChild(el('p', 'text', body));
    if (m.reply_markup && m.reply_markup.inline_keyboard) {
      var keyboard = el('div', 'keyboard');
      keyboard.setAttribute('role', 'group');
      keyboard.setAttribute('aria-label', 'Buttons of message ' + m.message_id);
      m.reply_markup.inline_keyboard.forEach(function (row) {
        var rowEl = el('div', 'row');
        row.forEach(function (button) {
          if (button.callback_data !== undefined) {
            var b = el('button', '', button.text);
            b.type = 'button';
            b.addEventListener('click', function () { press(m.message_id, button.callback_data); });
            rowEl.appendChild(b);
          } else if (button.url) {
            var a = el('a', '', button.text + ' ↗');
            a.href = button.url; a.target = '_blank'; a.rel = 'noopener noreferrer';
            rowEl.appendChild(a);
          }
        });
        keyboard.appendChild(rowEl);
      });
      li.appendChild(keyboard);
    }
    var reply = el('button', 'small', 'Reply');
    reply.type = 'button';
    reply.setAttribute('aria-label', 'Reply to message ' + m.message_id);
    reply.addEventListener('click', function () { setReply(m.message_id); });
    li.appendChild(reply);
    return li;
  }

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + ' B';
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(bytes < 10240 ? 1 : 0) + ' KB';
    return (bytes / (1024 * 1024)).toFixed(1) + ' MB';
  }

  function render() {
    var list = $('messages');
    list.textContent = '';
    var sorted = Array.from(state.messages.values()).sort(function (a, b) { return a.message_id - b.message_id; });
    if (!sorted.length) list.appendChild(el('li', 'empty', state.bot ? 'No messages yet. Say hello, or send /start.' : 'No bot yet: start one that uses this emulator.'));
    sorted.forEach(function (m) { list.appendChild(renderMessage(m)); });
    var main = document.querySelector('main');
    main.scrollTop = main.scrollHeight;
  }

  // Patches one message in place, so screen readers announce only what changed.
  function upsert(m) {
    state.messages.set(m.message_id, m);
    var node = renderMessage(m);
    var existing = $('m' + m.message_id);
    var list = $('messages');
    if (existing) { existing.replaceWith(node); return; }
    var placeholder = list.querySelector('.empty');
    if (placeholder) placeholder.remove();
    var later = Array.from(list.children).find(function (li) { return Number(li.id.slice(1)) > m.message_id; });
    list.insertBefore(node, later || null);
    var main = document.querySelector('main');
    main.scrollTop = main.scrollHeight;
  }

  function setReply(id) {
    state.replyTo = id;
    $('reply-id').textContent = '#' + id;
    $('replying').hidden = id === null;
    if (id !== null) $('text').focus();
  }

  function press(messageId, data) {
    status('Pressed a button; waiting for the bot…');
    request('POST', '/press-button', { token: state.bot.token, userId: state.userId, messageId: messageId, callbackData: data })
      .catch(function (e) { status('Could not press: ' + e.message); });
  }

  function loadHistory() {
    state.messages.clear();
    if (!state.bot || state.userId === null) { render(); return Promise.resolve(); }
    return request('GET', '/messages?' + q({ token: state.bot.token, chatId: state.userId, all: 'true' })).then(function (list) {
      list.forEach(function (m) { state.messages.set(m.message_id, m); });
      render();
    });
  }

  function listen() {
    if (state.events) state.events.close();
    if (!state.bot) return;
    var source = new EventSource(api + '/events?' + q({ token: state.bot.token }));
    var onMessage = function (e) {
      var event = JSON.parse(e.data);
      if (event.chatId === state.userId) upsert(event.message);
    };
    source.addEventListener('message.created', onMessage);
    source.addEventListener('message.edited', onMessage);
    source.addEventListener('message.deleted', function (e) {
      var event = JSON.parse(e.data);
      if (event.chatId !== state.userId) return;
      state.messages.delete(event.messageId);
      var node = $('m' + event.messageId);
      if (node) node.remove();
    });
    source.addEventListener('callback.answered', function (e) {
      var event = JSON.parse(e.data);
      if (event.chatId !== state.userId) return;
      status(event.answer.text ? (event.answer.show_alert ? 'Alert: ' : 'Bot: ') + event.answer.text : 'The bot answered the button press.');
    });
    source.addEventListener('chat.action', function (e) {
      var event = JSON.parse(e.data);
      if (event.chatId === state.userId) status('Bot is ' + event.action.replace(/_/g, ' ') + '…');
    });
    state.events = source;
  }

  function fillSelect(select, items, label, selected) {
    select.textContent = '';
    items.forEach(function (item) {
      var option = el('option', '', label(item));
      option.value = String(item.id);
      option.selected = item.id === selected;
      select.appendChild(option);
    });
  }

  function loadAll() {
    return Promise.all([request('GET', '/bots'), request('GET', '/users')]).then(function (r) {
      state.bots = r[0]; state.users = r[1];
      var savedBot = Number(localStorage.getItem('emu.bot'));
      var savedUser = Number(localStorage.getItem('emu.user'));
      state.bot = state.bots.find(function (b) { return b.id === savedBot; }) || state.bots[0] || null;
      var user = state.users.find(function (u) { return u.id === savedUser; }) || state.users[0];
      state.userId = user ? user.id : null;
      fillSelect($('bot'), state.bots, function (b) { return '@' + b.username; }, state.bot && state.bot.id);
      fillSelect($('user'), state.users, function (u) { return u.firstName + (u.username ? ' (@' + u.username + ')' : '') + ' · ' + u.id; }, state.userId);
      if (state.userId === null) $('new-user').hidden = false;
      listen();
      return loadHistory();
    }).catch(function (e) { status('Could not reach the emulator: ' + e.message); });
  }

  $('bot').addEventListener('change', function () {
    state.bot = state.bots.find(function (b) { return String(b.id) === $('bot').value; }) || null;
    localStorage.setItem('emu.bot', $('bot').value);
    listen(); loadHistory();
  });
  $('user').addEventListener('change', function () {
    state.userId = Number($('user').value);
    localStorage.setItem('emu.user', $('user').value);
    setReply(null); loadHistory();
  });
  $('show-new-user').addEventListener('click', function () { $('new-user').hidden = false; $('new-first').focus(); });
  $('new-user').addEventListener('submit', function (e) {
    e.preventDefault();
    var body = { firstName: $('new-first').value || 'CA' };
    if ($('new-username').value) body.username = $('new-username').value;
    if ($('new-language').value) body.languageCode = $('new-language').value;
    request('POST', '/users', body).then(function (user) {
      localStorage.setItem('emu.user', String(user.id));
      $('new-user').hidden = true;
      status('Created user ' + user.firstName + ' (' + user.id + ').');
      return loadAll();
    }).catch(function (err) { status('Could not create the user: ' + err.message); });
  });
  $('refresh').addEventListener('click', function () { loadAll(); });
  $('cancel-reply').addEventListener('click', function () { setReply(null); });

  function sendFile(input, path) {
    var file = input.files && input.files[0];
    if (!file || !state.bot || state.userId === null) return;
    var form = new FormData();
    form.set('token', state.bot.token);
    form.set('userId', String(state.userId));
    if ($('text').value) form.set('caption', $('text').value);
    if (state.replyTo !== null) form.set('replyToMessageId', String(state.replyTo));
    form.set('file', file, file.name);
    status('Uploading ' + file.name + '…');
    request('POST', path, form).then(function () {
      status('Sent ' + file.name + '.');
      input.value = ''; $('text').value = ''; setReply(null);
    }).catch(function (e) { status('Could not send ' + file.name + ': ' + e.message); });
  }
  $('document').addEventListener('change', function () { sendFile($('document'), '/send-document'); });
  $('photo').addEventListener('change', function () { sendFile($('photo'), '/send-photo'); });

  $('composer').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('text').value;
    if (!text.trim()) { status('Type a message first.'); return; }
    if (!state.bot || state.userId === null) { status('Pick a bot and a user first.'); return; }
    var body = { token: state.bot.token, userId: state.userId, text: text };
    if (state.replyTo !== null) body.replyToMessageId = state.replyTo;
    request('POST', '/send-text', body).then(function () {
      $('text').value = ''; setReply(null); status('');
    }).catch(function (err) { status('Could not send: ' + err.message); });
  });

  loadAll();
})();
</script>
</body>
</html>
`;
