// The page: the WebSocket, reconnecting, and rendering the session's
// events. Everything from the network is shown with textContent, after
// clean(): never parsed as HTML.

import { Session, isSecret } from './session.js';
import { clean, nickColor } from './text.js';

const $ = (id) => document.getElementById(id);
const logBox = $('log-box');
const log = $('log');
const people = $('people');
const peopleCount = $('people-count');
const status = $('status');
const joinForm = $('join');
const nickInput = $('nick');
const pwRow = $('pw-row');
const pwInput = $('password');
const joinError = $('join-error');
const sayForm = $('say');
const textInput = $('text');

const title = document.title;
const maxLines = 5000;
const maxBackoff = 30000;

const session = new Session();
let ws = null;
let inRoom = false; // joined on the current connection
let everJoined = false; // reconnect only once we have been in
let attempt = 0; // reconnects since the last join
let retryTimer = 0;
let unread = 0;
const typed = []; // lines typed, for Up and Down
let recall = typed.length;
let draft = '';

// el makes an element with a class and text; the text is cleaned.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = clean(text);
  return e;
}

function nickEl(nick, tag = 'span') {
  return el(tag, `nick c${nickColor(nick)}`, nick);
}

function clock(at, withDay) {
  const d = new Date(at);
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const day = withDay && d.toDateString() !== new Date().toDateString();
  const t = el('time', '', day ? `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${hm}` : hm);
  t.dateTime = d.toISOString();
  return t;
}

// add appends a line of the log, made of parts: strings (cleaned) and
// elements, and keeps the log scrolled to its end if it was there.
function add(cls, parts, at = Date.now(), withDay = false) {
  const stick = logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 40;
  const li = el('li', cls);
  li.append(clock(at, withDay), ' ');
  for (const p of parts) {
    li.append(typeof p === 'string' ? clean(p) : p);
  }
  log.append(li);
  while (log.childElementCount > maxLines) log.firstElementChild.remove();
  if (stick) logBox.scrollTop = logBox.scrollHeight;
  return li;
}

const note = (text, cls = 'note') => add(cls, [text]);

function messageLine(m, earlier) {
  const cls = ['msg', m.self && 'self', m.mention && 'mention', earlier && 'earlier'].filter(Boolean).join(' ');
  const li = add(cls, ['<', nickEl(m.from), '> ', el('span', 'text', m.text)], m.at, earlier);
  if (m.mention) noticeUnseen();
  return li;
}

function noticeUnseen() {
  if (document.hidden) {
    unread++;
    document.title = `(${unread}) ${title}`;
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    unread = 0;
    document.title = title;
  }
});

function sentence(s) {
  s = clean(s).trim() || 'The server reported an error';
  s = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

// show renders an event of the session.
function show(ev) {
  switch (ev.type) {
    case 'batch':
      ev.events.forEach(show);
      break;
    case 'registered':
      inRoom = true;
      everJoined = true;
      attempt = 0;
      joinForm.hidden = true;
      sayForm.hidden = false;
      setStatus(`In the room as ${ev.nick}.`);
      if (ev.again) {
        add('note', ['* reconnected as ', nickEl(ev.nick)]);
      } else {
        add('note', ['* you have joined as ', nickEl(ev.nick)]);
        note('Type a line and press Enter to say it; /help lists the commands.');
        textInput.focus();
      }
      break;
    case 'joined':
      add('event', ['* ', nickEl(ev.nick), ' has joined']);
      break;
    case 'left':
      add('event', ['* ', nickEl(ev.nick), ' has left', ...(ev.reason ? [` (${ev.reason})`] : [])]);
      break;
    case 'removed': {
      const who = ev.self ? ['you were'] : [nickEl(ev.nick), ' was'];
      add('event', ['* ', ...who, ev.ban ? ' banned by ' : ' kicked by ', nickEl(ev.by), ...(ev.reason ? [` (${ev.reason})`] : [])]);
      break;
    }
    case 'renamed':
      add('event', ['* ', ...(ev.self ? ['you are'] : [nickEl(ev.old), ' is']), ' now known as ', nickEl(ev.nick)]);
      if (ev.self) setStatus(`In the room as ${ev.nick}.`);
      break;
    case 'message':
      messageLine(ev, false);
      break;
    case 'whisper': {
      const from = ev.fromSelf ? 'you' : nickEl(ev.from);
      const to = ev.toSelf ? 'you' : nickEl(ev.to);
      add('whisper', ['[', from, ' → ', to, '] ', el('span', 'text', ev.text)], ev.at);
      if (ev.toSelf && !ev.fromSelf) noticeUnseen();
      break;
    }
    case 'users': {
      const parts = [`${ev.nicks.length} ${ev.nicks.length === 1 ? 'user' : 'users'}: `];
      ev.nicks.forEach((n, i) => parts.push(...(i ? [', '] : []), nickEl(n)));
      add('note', parts);
      break;
    }
    case 'scrollback':
      if (ev.gap) note('* some earlier messages are gone: the server no longer has them');
      for (const m of ev.earlier) messageLine(m, true);
      if (ev.earlier.length) add('divider', ['— end of earlier messages —']);
      break;
    case 'found': {
      for (const m of ev.messages) messageLine(m, true);
      const n = ev.messages.length;
      const q = `"${ev.query}"`;
      add('divider', [n === 0 ? `— no message holds every word of ${q} —` : `— ${n} ${n === 1 ? 'message' : 'messages'} found for ${q} —`]);
      ev.live.forEach(show);
      break;
    }
    case 'nickRefused':
      if (inRoom) {
        note(sentence(ev.text), 'error');
        break;
      }
      joinRefused(`${sentence(ev.text)} Pick another nick.`);
      break;
    case 'passwordNeeded':
      pwRow.hidden = false;
      joinRefused(`The nick ${clean(ev.nick)} is registered: give its password, or pick another nick.`);
      pwInput.focus();
      break;
    case 'bye':
      note(`* disconnected${ev.text ? ': ' + ev.text : ''}`);
      break;
    case 'error':
      note(ev.code === 'NOT_REGISTERED' ? 'Choose a nick first.' : sentence(ev.text), 'error');
      break;
    case 'notice':
    case 'hint':
      ev.text.split('\n').forEach((l) => note(l));
      break;
    case 'unknown':
      note('? ' + ev.line);
      break;
  }
}

function joinRefused(text) {
  joinForm.hidden = false;
  sayForm.hidden = true;
  joinError.textContent = clean(text);
  add('error', [text]);
  if (pwRow.hidden) {
    nickInput.focus();
    nickInput.select();
  }
}

function setStatus(text) {
  status.textContent = clean(text);
}

// renderPeople shows who is here, if that changed.
let shownPeople = '';
function renderPeople() {
  const nicks = inRoom ? session.people() : [];
  const key = nicks.join(' ') + '\n' + session.nick;
  if (key === shownPeople) return;
  shownPeople = key;
  peopleCount.textContent = String(nicks.length);
  people.replaceChildren(...nicks.map((n) => {
    const li = el('li');
    const b = nickEl(n, 'button');
    b.type = 'button';
    b.title = `Whisper to ${clean(n)}`;
    if (n === session.nick) {
      b.classList.add('me');
      b.setAttribute('aria-label', `${clean(n)} (you)`);
    }
    li.append(b);
    return li;
  }));
}

people.addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (!b) return;
  textInput.value = `/w ${b.textContent} `;
  textInput.focus();
  textInput.setSelectionRange(textInput.value.length, textInput.value.length);
});

function send(lines) {
  for (const line of lines) ws.send(line);
}

function handled({ events, send: lines }) {
  if (lines.length && ws && ws.readyState === WebSocket.OPEN) send(lines);
  events.forEach(show);
  renderPeople();
  if (session.wantsRetry) {
    session.wantsRetry = false;
    setTimeout(() => {
      if (ws && ws.readyState === WebSocket.OPEN && !inRoom) send([session.retryNick()]);
    }, 1000);
  }
}

// connect opens a WebSocket and joins, first with hello (the join form),
// then, after a lost connection, by itself.
function connect(hello) {
  clearTimeout(retryTimer);
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const sock = new WebSocket(scheme + location.host + '/ws', ['text.ircish.net']);
  ws = sock;
  setStatus(everJoined ? 'Reconnecting…' : 'Connecting…');
  sock.onopen = () => send(everJoined ? session.reconnect(Date.now()) : hello());
  sock.onmessage = (e) => {
    if (sock === ws && typeof e.data === 'string') handled(session.handle(e.data));
  };
  sock.onclose = () => {
    if (sock !== ws) return;
    ws = null;
    const wasIn = inRoom;
    inRoom = false;
    session.closed().forEach(show);
    renderPeople();
    if (session.quitting) {
      setStatus('You left. Reload the page to come back.');
      sayForm.hidden = true;
      return;
    }
    if (session.barred) {
      setStatus('Removed by an operator: not reconnecting.');
      sayForm.hidden = true;
      return;
    }
    if (!everJoined) {
      setStatus('Not connected.');
      joinForm.hidden = false;
      if (!joinError.textContent) joinError.textContent = 'Could not join: the connection ended. Try again.';
      nickInput.focus();
      return;
    }
    if (wasIn) note('* connection lost; reconnecting');
    const delay = Math.min(maxBackoff, 1000 * 2 ** attempt) * (0.8 + 0.4 * Math.random());
    attempt++;
    setStatus(`Disconnected. Reconnecting in ${Math.round(delay / 1000)} s… (what you type is kept)`);
    retryTimer = setTimeout(() => connect(), delay);
  };
}

joinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const nick = nickInput.value.trim();
  if (!nick) return;
  joinError.textContent = '';
  const pw = pwRow.hidden ? '' : pwInput.value;
  pwInput.value = '';
  if (ws && ws.readyState === WebSocket.OPEN) {
    send([session.claim(nick, pw)]); // HISTORY LIVE was sent already
  } else if (!ws) {
    connect(() => session.hello(nick, pw));
  }
});

sayForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = textInput.value;
  if (text.trim() === '') return;
  if (!inRoom || !ws || ws.readyState !== WebSocket.OPEN) {
    setStatus('Not connected yet: your line is kept; press Enter again once back.');
    return;
  }
  if (!isSecret(text) && typed.at(-1) !== text) typed.push(text);
  if (typed.length > 500) typed.shift();
  recall = typed.length;
  draft = '';
  textInput.value = '';
  handled(session.input(text));
});

textInput.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowUp' && recall > 0) {
    if (recall === typed.length) draft = textInput.value;
    textInput.value = typed[--recall];
  } else if (e.key === 'ArrowDown' && recall < typed.length) {
    recall++;
    textInput.value = recall === typed.length ? draft : typed[recall];
  } else {
    return;
  }
  e.preventDefault();
  textInput.setSelectionRange(textInput.value.length, textInput.value.length);
});

nickInput.focus();
