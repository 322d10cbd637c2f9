// shoal's chat page: a room is a channel of shoal's "pubsub" route /rooms/
// (scripts/chat/chat.json), joined over one WebSocket per page.
//
// Every message is JSON {room, nick, text, ts} (ts: the sender's clock, ms),
// sent as one text message on the room's WebSocket: shoal publishes it to
// the room's channel, and every subscriber of the room gets it, the sender
// too, on whatever worker or host it is connected to. A page joins with
// ?after=1, so the room's history (the channels' "history" messages)
// comes first; when the connection drops (a reload or an upgrade of the
// server drains it) the page reconnects the same way and shows only what
// it has not shown yet: messages are told apart by their exact text.
//
// No framework, no build step, nothing fetched from anywhere but the page's
// own server. User text goes into the page as text nodes only (never
// innerHTML). What the page did is in window.chat, for the browser test.
'use strict';

(function () {
  const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;
  const MAX_SHOWN = 500;           // list items kept on the page
  const MAX_SEEN = 5000;           // texts remembered to skip repeats
  const RETRY_MS = [100, 250, 500, 1000, 2000];

  const $ = (id) => document.getElementById(id);
  const chat = window.chat = {
    state: 'idle',                 // idle, connecting, open, closed
    room: null, nick: null,
    messages: [],                  // {room, nick, text, ts} as shown
    opens: 0, sent: 0, ignored: 0, errors: [],
    join, leave, say,
  };

  let ws = null;
  let seen = new Set();
  let outbox = [];                 // said while not connected
  let retries = 0;
  let timer = null;

  function status(text, cls) {
    const s = $('status');
    s.textContent = text;
    s.className = cls || '';
  }

  function roomUrl(room) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return scheme + '//' + location.host + '/rooms/' + encodeURIComponent(room) + '?after=1';
  }

  // A message as it came: shown if it is well-formed, for this room, and new.
  function received(raw) {
    let m;
    try {
      m = JSON.parse(raw);
    } catch (e) {
      chat.ignored += 1;
      return;
    }
    if (m === null || typeof m !== 'object' || m.room !== chat.room ||
        typeof m.nick !== 'string' || typeof m.text !== 'string' ||
        typeof m.ts !== 'number') {
      chat.ignored += 1;
      return;
    }
    if (seen.has(raw))
      return;
    if (seen.size >= MAX_SEEN)
      seen = new Set();
    seen.add(raw);
    chat.messages.push({ room: m.room, nick: m.nick, text: m.text, ts: m.ts });
    show(m);
  }

  function show(m) {
    const log = $('log');
    const li = document.createElement('li');
    if (m.nick === chat.nick)
      li.className = 'mine';
    const time = document.createElement('span');
    time.className = 'time';
    time.textContent = new Date(m.ts).toLocaleTimeString();
    const nick = document.createElement('span');
    nick.className = 'nick';
    nick.textContent = m.nick;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    li.append(time, nick, text);
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.appendChild(li);
    while (log.childElementCount > MAX_SHOWN)
      log.firstElementChild.remove();
    if (atEnd)
      log.scrollTop = log.scrollHeight;
  }

  function connect() {
    timer = null;
    chat.state = 'connecting';
    status('connecting to ' + chat.room + '…');
    const sock = ws = new WebSocket(roomUrl(chat.room));
    sock.onopen = () => {
      if (sock !== ws)
        return;
      chat.state = 'open';
      chat.opens += 1;
      retries = 0;
      status('in room ' + chat.room + ' as ' + chat.nick, 'open');
      for (const text of outbox.splice(0))
        sock.send(text);
    };
    sock.onmessage = (ev) => {
      if (sock === ws && typeof ev.data === 'string')
        received(ev.data);
    };
    sock.onclose = (ev) => {
      if (sock !== ws)
        return;                    // left, or replaced
      ws = null;
      chat.state = 'closed';
      const wait = RETRY_MS[Math.min(retries, RETRY_MS.length - 1)];
      retries += 1;
      status('disconnected (' + ev.code + '); again in ' + wait + ' ms', 'closed');
      timer = setTimeout(connect, wait);
    };
  }

  function join(room, nick) {
    if (!ROOM_RE.test(room) || nick.length < 1 || nick.length > 32)
      throw new Error('a room of letters, digits, ".", "_", "-" and a nick of 1 to 32 characters');
    leave();
    chat.room = room;
    chat.nick = nick;
    chat.messages = [];
    seen = new Set();
    $('log').replaceChildren();
    $('room-name').textContent = '#' + room;
    $('join').hidden = true;
    $('room-view').hidden = false;
    history.replaceState(null, '', '?room=' + encodeURIComponent(room));
    connect();
    $('text').focus();
  }

  function leave() {
    if (timer !== null)
      clearTimeout(timer);
    timer = null;
    const sock = ws;
    ws = null;
    outbox = [];
    if (sock)
      sock.close(1000, 'left');
    chat.state = 'idle';
    $('room-view').hidden = true;
    $('join').hidden = false;
    status('not in a room');
  }

  function say(text) {
    if (!chat.room || text.length === 0)
      return false;
    const raw = JSON.stringify({ room: chat.room, nick: chat.nick, text, ts: Date.now() });
    if (ws && ws.readyState === WebSocket.OPEN)
      ws.send(raw);
    else
      outbox.push(raw);
    chat.sent += 1;
    return true;
  }

  $('join').addEventListener('submit', (ev) => {
    ev.preventDefault();
    try {
      join($('room').value.trim(), $('nick').value.trim());
    } catch (e) {
      status(e.message, 'closed');
    }
  });
  $('say').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (say($('text').value))
      $('text').value = '';
  });
  $('leave').addEventListener('click', leave);
  window.addEventListener('error', (ev) => chat.errors.push(String(ev.message)));

  // ?room=NAME fills the form in
  const q = new URLSearchParams(location.search);
  if (q.get('room'))
    $('room').value = q.get('room');
})();
