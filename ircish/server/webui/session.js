// The page's side of the chat, without I/O or DOM, as the terminal
// client's Session is: lines typed go into input() and come out as
// protocol lines to send and events to show; lines from the server go
// into handle() and come out as events, and lines to send in reply.
// Events are plain objects with a type; their text fields are the
// server's, verbatim: the page cleans them as it shows them.
//
// History: on every connection the session sends HISTORY LIVE before NICK,
// so that room messages come as HISTORY lines with their seqs. Once
// joined it asks for the last messages (or, back after a lost
// connection, for those after the last seq it saw), and holds the room's
// lines until the reply ends, so that earlier messages come first.

import { foldNick } from './text.js';

// How many earlier messages to show after joining, and /history's default.
export const scrollback = 50;
// The count asked for to fill a gap: more than any server keeps.
const historyAll = 1000000;
// Bounds on the lines held while a reply is awaited.
const maxHeld = 100000;
// How long a reconnect waits for its nick, held by its lost connection.
export const nickHeldFor = 15000;

// The commands typed at the message field, in /help order.
const commands = [
  { names: ['nick'], syntax: '/nick NAME', about: 'change your nick', run: 'setNick', beforeNick: true },
  { names: ['list', 'who'], syntax: '/list', about: 'list everyone here (also /who)', run: 'list' },
  { names: ['whisper', 'w', 'msg'], syntax: '/whisper NAME TEXT', about: 'say TEXT to NAME only (also /w, /msg)', run: 'whisper' },
  { names: ['history'], syntax: '/history [N]', about: 'show the last N messages said (50)', run: 'showHistory' },
  { names: ['search'], syntax: '/search WORDS', about: 'find the messages kept that hold every word', run: 'search' },
  { names: ['register'], syntax: '/register PASSWORD', about: 'register your nick, so that it takes PASSWORD', run: 'register', secret: true },
  { names: ['password'], syntax: '/password OLD NEW', about: "change your registered nick's password", run: 'changePassword', secret: true },
  { names: ['unregister'], syntax: '/unregister PASSWORD', about: 'free your registered nick', run: 'unregister', secret: true },
  { names: ['oper'], syntax: '/oper NAME PASSWORD', about: 'become an operator', run: 'oper', secret: true },
  { names: ['kick'], syntax: '/kick NICK [REASON]', about: 'make NICK leave', run: 'moderate', verb: 'KICK', words: 1, reason: true },
  { names: ['ban'], syntax: '/ban TARGET DURATION [REASON]', about: 'ban a nick, address or CIDR: 30m, 2h, 7d, forever', run: 'moderate', verb: 'BAN', words: 2, reason: true },
  { names: ['unban'], syntax: '/unban TARGET', about: 'lift a ban', run: 'moderate', verb: 'UNBAN', words: 1 },
  { names: ['bans'], syntax: '/bans', about: 'list the bans', run: 'moderate', verb: 'BANS', words: 0 },
  { names: ['mute'], syntax: '/mute NICK DURATION [REASON]', about: 'stop NICK from talking for DURATION', run: 'moderate', verb: 'MUTE', words: 2, reason: true },
  { names: ['unmute'], syntax: '/unmute NICK', about: 'let NICK talk again', run: 'moderate', verb: 'UNMUTE', words: 1 },
  { names: ['ping'], syntax: '/ping', about: 'time a round trip to the server', run: 'ping', beforeNick: true },
  { names: ['help'], syntax: '/help', about: 'show this help', run: 'help', beforeNick: true },
  { names: ['quit', 'exit'], syntax: '/quit [REASON]', about: 'leave the chat (also /exit)', run: 'quit', beforeNick: true },
];

function lookup(name) {
  name = name.toLowerCase();
  return commands.find((c) => c.names.includes(name));
}

// isSecret reports whether a typed line holds a password: it is kept out
// of the input history.
export function isSecret(text) {
  if (!text.startsWith('/') || text.startsWith('//')) {
    return false;
  }
  return Boolean(lookup(text.slice(1).split(' ')[0])?.secret);
}

// helpText is what /help shows, a line each.
export function helpText() {
  return [
    'Type a line and press Enter to say it to everyone (start it with // to say a line beginning with /). Up and Down recall your lines; a click on a name starts a whisper.',
    ...commands.map((c) => `  ${c.syntax} — ${c.about}`),
    '/kick, /ban, /unban, /bans, /mute and /unmute are for operators (see /oper).',
  ];
}

// fields splits a server line into its verb, n word fields and the free
// text after them, as protocol.txt section 2 says: runs of spaces separate.
export function fields(line, n) {
  const out = [];
  let i = 0;
  for (let k = 0; k <= n; k++) {
    while (line[i] === ' ') i++;
    let j = line.indexOf(' ', i);
    if (j < 0) j = line.length;
    out.push(line.slice(i, j));
    i = j;
  }
  while (line[i] === ' ') i++;
  out.push(line.slice(i));
  out[0] = out[0].toUpperCase();
  return out;
}

// words splits typed arguments at runs of spaces.
function words(s) {
  return s.split(' ').filter((w) => w !== '');
}

// cutWords returns the first n words of s and the rest, trimmed; null if
// there are fewer than n words.
function cutWords(s, n) {
  const f = fields('x ' + s, n);
  const w = f.slice(1, n + 1);
  if (w.some((x) => x === '')) {
    return null;
  }
  return { words: w, rest: f[n + 1].replace(/ +$/, '') };
}

// A line the server would refuse as BAD_TEXT.
const controlRe = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const notText = 'Not sent: text must be without control characters.';

// mentions reports whether text names nick as a whole word, in any case.
function mentions(text, nick) {
  if (!nick) {
    return false;
  }
  const key = foldNick(nick);
  return text.split(/[^\p{L}\p{N}_.-]+/u).some((w) => foldNick(w) === key || foldNick(w.replace(/\.+$/, '')) === key);
}

// removal reads a LEFT reason or a BYE text that says an operator removed
// someone: "kicked by op: spam", "banned by op".
function removal(text) {
  const m = /^(kicked|banned) by (\S+)(?:: (.*))?$/s.exec(text);
  return m && { ban: m[1] === 'banned', by: m[2], reason: m[3] ?? '' };
}

export class Session {
  constructor() {
    this.nick = ''; // ours once the server accepted it
    this.asked = ''; // the nick our NICK asked for, until answered
    this.users = new Map(); // everyone here, by folded nick
    this.quitting = false; // we sent QUIT
    this.barred = false; // kicked or banned: do not reconnect
    this.rejoin = ''; // the nick we are getting back after a reconnect
    this.retryUntil = 0; // until when to ask again for it
    this.nickHeldSaid = false;
    this.claimPw = ''; // the password our NICK carried
    this.account = ''; // our registered nick, whose password we know:
    this.password = ''; // this one, sent again on a reconnect
    this.registering = '';
    this.newPassword = '';
    this.lastSeq = 0; // of the last message seen
    this.bans = [];
    this.pingToken = '';
    this.fresh();
  }

  // fresh starts a connection's history state afresh.
  fresh() {
    this.support = 'asked'; // whether this server has HISTORY: asked, kept, none
    this.awaited = []; // replies awaited, in order: {query} ('' for HISTORY)
    this.held = []; // lines held while one is awaited: {ev} or {msg}
    this.gap = false;
  }

  // people returns everyone here, sorted as the server sorts LIST.
  people() {
    return [...this.users.values()].sort((a, b) => {
      const x = a.toLowerCase(), y = b.toLowerCase();
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }

  // hello returns the lines that open a connection: HISTORY LIVE, then the
  // NICK that registers as nick.
  hello(nick, password = '') {
    this.fresh();
    this.quitting = false;
    return ['HISTORY LIVE', this.claim(nick, password)];
  }

  // claim returns the NICK line that asks for nick, with password, or the
  // one we know for it.
  claim(nick, password = '') {
    if (!password && this.account && foldNick(nick) === foldNick(this.account)) {
      password = this.password;
    }
    this.asked = nick;
    this.claimPw = password;
    return password ? `NICK ${nick} ${password}` : `NICK ${nick}`;
  }

  // reconnect returns the lines that open a new connection after the last
  // one was lost: they register again under our nick. Empty if we never
  // had one.
  reconnect(now) {
    const nick = this.nick || this.rejoin;
    this.nick = '';
    this.users.clear();
    if (!nick) {
      return [];
    }
    this.rejoin = nick;
    this.retryUntil = now + nickHeldFor;
    this.nickHeldSaid = false;
    return this.hello(nick);
  }

  // closed notes that the connection ended: lines held for a reply that
  // will not come are returned.
  closed() {
    const evs = this.release(0);
    this.fresh();
    return evs;
  }

  // holding reports whether the room's lines are held for a reply.
  holding() {
    return this.awaited.length > 0;
  }

  // handle turns a line from the server into events, and lines to send.
  handle(line, now = Date.now()) {
    const out = { events: [], send: [] };
    const ev = this.#handle(line, now, out);
    if (!ev) {
      return out;
    }
    const room = ['joined', 'left', 'renamed', 'message', 'whisper', 'removed'];
    if (room.includes(ev.type) && this.holding() && this.held.length < maxHeld) {
      this.held.push({ ev });
    } else {
      out.events.push(ev);
    }
    return out;
  }

  #handle(line, now, out) {
    const verb = fields(line, 0)[0];
    switch (verb) {
      case 'WELCOME':
        return null;
      case 'JOINED': {
        const [, nick] = fields(line, 1);
        this.users.set(foldNick(nick), nick);
        if (!this.nick && this.asked) {
          // Before registering we are in no room: this JOINED is ours.
          return this.joined(nick, out);
        }
        return { type: 'joined', nick };
      }
      case 'LEFT': {
        const [, nick, reason] = fields(line, 1);
        this.users.delete(foldNick(nick));
        const r = removal(reason);
        if (r) {
          return { type: 'removed', nick, ...r };
        }
        return { type: 'left', nick, reason };
      }
      case 'RENAMED': {
        const [, old, nick] = fields(line, 2);
        this.users.delete(foldNick(old));
        this.users.set(foldNick(nick), nick);
        const self = old === this.nick;
        if (self) {
          this.nick = nick;
          this.claimed(nick);
        }
        return { type: 'renamed', old, nick, self };
      }
      case 'MSG': {
        const [, from, text] = fields(line, 1);
        return this.message(from, text, now, 0);
      }
      case 'HISTORY':
        return this.history(line, out);
      case 'WHISPER': {
        const [, from, to, text] = fields(line, 2);
        return { type: 'whisper', from, to, text, fromSelf: from === this.nick, toSelf: to === this.nick, at: now };
      }
      case 'LIST': {
        const nicks = words(fields(line, 0)[1]);
        this.users.clear();
        for (const n of nicks) {
          this.users.set(foldNick(n), n);
        }
        return { type: 'users', nicks };
      }
      case 'HELP':
        return { type: 'notice', text: '  ' + fields(line, 0)[1] };
      case 'PONG': {
        const token = fields(line, 0)[1];
        if (token && token === this.pingToken) {
          this.pingToken = '';
          return { type: 'notice', text: `* pong from the server in ${now - this.pingSent} ms` };
        }
        return null;
      }
      case 'BYE': {
        const text = fields(line, 0)[1];
        const r = removal(text);
        if (r && !this.quitting) {
          this.barred = true;
          return { type: 'removed', nick: this.nick, self: true, ...r };
        }
        return { type: 'bye', text };
      }
      case 'ERR': {
        const [, code, text] = fields(line, 1);
        return this.serverError(code, text, now, out);
      }
    }
    return this.accountLine(line, verb) ?? { type: 'unknown', line };
  }

  // joined is what follows our own JOINED: ask who is here, and for the
  // messages we have not seen, holding the room's lines until they come.
  joined(nick, out) {
    const again = this.rejoin !== '';
    this.nick = nick;
    this.asked = '';
    this.rejoin = '';
    this.claimed(nick);
    out.send.push('LIST');
    if (this.support === 'kept') {
      this.awaited.push({ query: '' });
      out.send.push(this.lastSeq > 0 ? `HISTORY AFTER ${this.lastSeq} ${historyAll}` : `HISTORY ${scrollback}`);
    }
    return { type: 'registered', nick, again };
  }

  // message makes the event of a message said to everyone.
  message(from, text, at, seq) {
    const self = from === this.nick;
    return { type: 'message', from, text, at, seq, self, mention: !self && mentions(text, this.nick) };
  }

  // history handles a HISTORY line: the answer to HISTORY LIVE, a message
  // (live, or of a reply), a reply's GAP or END.
  history(line, out) {
    const [, a, b, from, text] = fields(line, 3);
    if (a === 'LIVE' && b === '') {
      this.support = 'kept';
      return null;
    }
    if (a === 'GAP') {
      this.gap = true;
      return null;
    }
    if (a === 'END') {
      return this.endReply(Number(b));
    }
    const seq = Number(a);
    const at = Date.parse(b);
    if (!/^\d+$/.test(a) || Number.isNaN(at) || from === '') {
      return { type: 'unknown', line };
    }
    const msg = { seq, at, from, text };
    if (this.holding()) {
      this.held.push({ msg });
      return null;
    }
    this.lastSeq = Math.max(this.lastSeq, seq);
    return this.message(from, text, at, seq);
  }

  // endReply ends the oldest reply awaited, of n messages: the last n held.
  endReply(n) {
    const { query } = this.awaited.shift() ?? { query: '' };
    if (query) {
      n = Math.min(n, this.held.length);
      const messages = this.held.slice(this.held.length - n).map(({ msg }) => this.message(msg.from, msg.text, msg.at, msg.seq));
      const live = this.releaseLive(this.held.slice(0, this.held.length - n));
      this.held = [];
      return { type: 'found', query, messages, live };
    }
    const evs = this.release(n);
    return evs.length === 1 ? evs[0] : evs.length ? { type: 'batch', events: evs } : null;
  }

  // release returns the events of a HISTORY reply of n messages, the last
  // n held, and of the lines held before it, which came live: the reply's
  // messages already seen live are left out.
  release(n) {
    n = Math.min(n, this.held.length);
    const liveHeld = this.held.slice(0, this.held.length - n);
    const reply = this.held.slice(this.held.length - n);
    const seen = new Set(liveHeld.filter((h) => h.msg).map((h) => h.msg.seq));
    const live = this.releaseLive(liveHeld);
    const earlier = [];
    for (const { msg } of reply) {
      this.lastSeq = Math.max(this.lastSeq, msg.seq);
      if (!seen.has(msg.seq)) {
        earlier.push(this.message(msg.from, msg.text, msg.at, msg.seq));
      }
    }
    const gap = this.gap;
    this.held = [];
    this.gap = false;
    if (earlier.length === 0 && !gap) {
      return live;
    }
    return [{ type: 'scrollback', earlier, gap }, ...live];
  }

  releaseLive(hs) {
    return hs.map((h) => {
      if (h.ev) {
        return h.ev;
      }
      this.lastSeq = Math.max(this.lastSeq, h.msg.seq);
      return this.message(h.msg.from, h.msg.text, h.msg.at, h.msg.seq);
    });
  }

  // serverError turns an ERR line into its event.
  serverError(code, text, now, out) {
    const err = { type: 'error', code, text };
    if (this.awaited.length > 0 && this.awaited[0].query && (code === 'BAD_PARAM' || code === 'TIMEOUT')) {
      // The answer to our search: replies come in the order of commands.
      this.awaited.shift();
      const live = this.releaseLive(this.held);
      this.held = [];
      return { type: 'batch', events: [...live, err] };
    }
    if (this.support === 'asked' && (code === 'UNKNOWN_COMMAND' || code === 'NOT_REGISTERED')) {
      // A server without HISTORY refuses HISTORY LIVE.
      this.support = 'none';
      return null;
    }
    const claimPw = this.claimPw;
    if (['NICK_IN_USE', 'NICK_INVALID', 'NICK_REGISTERED', 'BAD_PASSWORD', 'TOO_MANY_ATTEMPTS', 'BANNED'].includes(code)) {
      this.claimPw = '';
    }
    switch (code) {
      case 'NICK_IN_USE':
      case 'NICK_INVALID':
        if (!this.nick && this.asked) {
          if (this.rejoin && this.asked === this.rejoin && code === 'NICK_IN_USE') {
            return this.nickTaken(now, out);
          }
          this.asked = '';
          return { type: 'nickRefused', code, text };
        }
        return err;
      case 'NICK_REGISTERED':
        if (!this.nick) {
          const nick = this.asked;
          this.asked = '';
          return { type: 'passwordNeeded', nick, text };
        }
        return { type: 'error', code, text: text + ': give its password with /nick NAME PASSWORD' };
      case 'BAD_PASSWORD':
      case 'TOO_MANY_ATTEMPTS':
        if (claimPw && claimPw === this.password) {
          this.account = this.password = '';
        }
        if (claimPw && !this.nick && this.asked) {
          this.asked = '';
          return { type: 'nickRefused', code, text };
        }
        return err;
      case 'BANNED':
        if (!this.nick) {
          this.asked = '';
          this.barred = true;
        }
        return { type: 'error', code, text: 'You are banned until ' + text };
      case 'MUTED':
        return { type: 'error', code, text: `You are muted until ${fields('x ' + text, 0)[1]}: not sent.` };
    }
    return err;
  }

  // nickTaken: back after a reconnect, our nick is taken, most likely by
  // our lost connection, which the server has yet to see go. Ask again
  // each second (the page sends retryNick()), then take it with a _.
  nickTaken(now, out) {
    if (now >= this.retryUntil) {
      const nick = this.rejoin + '_';
      out.send.push(this.claim(nick));
      return { type: 'notice', text: `* the nick ${this.rejoin} is still taken after ${nickHeldFor / 1000}s; trying ${nick}` };
    }
    this.asked = '';
    this.wantsRetry = true;
    if (this.nickHeldSaid) {
      return null;
    }
    this.nickHeldSaid = true;
    return { type: 'notice', text: `* the nick ${this.rejoin} is still taken, likely by our lost connection; waiting up to ${nickHeldFor / 1000}s for it` };
  }

  // retryNick returns the NICK line that asks again for our nick.
  retryNick() {
    this.wantsRetry = false;
    return this.claim(this.rejoin);
  }

  // claimed notes that the server gave us nick, with the password our
  // NICK carried if any: the one to send again on a reconnect.
  claimed(nick) {
    if (this.claimPw || foldNick(nick) !== foldNick(this.account)) {
      this.account = nick;
      this.password = this.claimPw;
    }
    if (!this.password) {
      this.account = '';
    }
    this.claimPw = '';
    this.barred = false;
  }

  // accountLine turns a reply about accounts or moderation into its event.
  accountLine(line, verb) {
    switch (verb) {
      case 'REGISTERED': {
        const [, nick] = fields(line, 1);
        this.account = nick;
        this.password = this.registering;
        this.registering = '';
        return { type: 'notice', text: `* you registered the nick ${nick}` };
      }
      case 'UNREGISTERED': {
        const [, nick] = fields(line, 1);
        this.account = this.password = '';
        return { type: 'notice', text: `* the nick ${nick} is no longer registered` };
      }
      case 'PASSWORD': {
        const [, nick] = fields(line, 1);
        this.account = nick;
        this.password = this.newPassword;
        this.newPassword = '';
        return { type: 'notice', text: `* the password of ${nick} is changed` };
      }
      case 'OPER':
        return { type: 'notice', text: `* you are an operator, as ${fields(line, 1)[1]}` };
      case 'KICKED':
        return { type: 'notice', text: `* you kicked ${fields(line, 1)[1]}` };
      case 'BANNED': {
        const [, target, until] = fields(line, 2);
        return { type: 'notice', text: `* ${target} is banned ${untilText(until)}` };
      }
      case 'UNBANNED':
        return { type: 'notice', text: `* ${fields(line, 1)[1]} is no longer banned` };
      case 'MUTED': {
        const [, nick, until] = fields(line, 2);
        return { type: 'notice', text: `* ${nick} is muted ${untilText(until)}` };
      }
      case 'UNMUTED':
        return { type: 'notice', text: `* ${fields(line, 1)[1]} is no longer muted` };
      case 'BANS': {
        const [, target, until, by, reason] = fields(line, 3);
        if (target === 'END') {
          const bans = this.bans;
          this.bans = [];
          const head = bans.length === 0 ? 'No bans.' : bans.length === 1 ? '1 ban:' : `${bans.length} bans:`;
          return { type: 'notice', text: [head, ...bans].join('\n') };
        }
        if (this.bans.length < maxHeld) {
          this.bans.push(`  ${target} ${untilText(until)}, by ${by}${reason ? ': ' + reason : ''}`);
        }
        return null;
      }
    }
    return undefined;
  }

  // input turns a typed line into lines to send and events to show.
  input(text, now = Date.now()) {
    const out = { events: [], send: [] };
    const hint = (t) => out.events.push({ type: 'hint', text: t });
    if (text.trim() === '') {
      return out;
    }
    if (!text.startsWith('/') || text.startsWith('//')) {
      this.say(text.startsWith('//') ? text.slice(1) : text, out, hint);
      return out;
    }
    const space = text.indexOf(' ');
    const head = space < 0 ? text.slice(1) : text.slice(1, space);
    const args = space < 0 ? '' : text.slice(space + 1).replace(/^ +/, '');
    const cmd = lookup(head);
    if (!cmd) {
      hint(`There is no command /${head}; /help lists them, and // starts a message with /.`);
    } else if (!cmd.beforeNick && !this.nick) {
      hint('Not sent: you are not in the room yet.');
    } else if (controlRe.test(args)) {
      hint(notText);
    } else {
      this[cmd.run](args, cmd, out, hint, now);
    }
    return out;
  }

  say(text, out, hint) {
    if (!this.nick) {
      hint('Not sent: you are not in the room yet.');
    } else if (controlRe.test(text)) {
      hint(notText);
    } else {
      out.send.push('MSG ' + text);
    }
  }

  usage(cmd, hint) {
    hint(`Usage: ${cmd.syntax} — ${cmd.about}.`);
  }

  setNick(args, cmd, out, hint) {
    const w = words(args);
    if (w.length < 1 || w.length > 2) {
      this.usage(cmd, hint);
      return;
    }
    if (!this.nick) {
      this.asked = w[0];
    }
    this.claimPw = w[1] ?? '';
    out.send.push('NICK ' + w.join(' '));
  }

  list(args, cmd, out, hint) {
    if (words(args).length) {
      this.usage(cmd, hint);
      return;
    }
    out.send.push('LIST');
  }

  whisper(args, cmd, out, hint) {
    const c = cutWords(args, 1);
    if (!c || c.rest.trim() === '') {
      this.usage(cmd, hint);
      return;
    }
    out.send.push(`WHISPER ${c.words[0]} ${c.rest}`);
  }

  historyHint(hint) {
    if (this.support === 'asked') {
      hint('Not sent: the server has yet to say whether it keeps history.');
    } else if (this.support === 'none') {
      hint('This server keeps no history.');
    } else {
      return false;
    }
    return true;
  }

  showHistory(args, cmd, out, hint) {
    const w = words(args);
    const n = w.length === 0 ? scrollback : Number(w[0]);
    if (w.length > 1 || !Number.isInteger(n) || n <= 0) {
      this.usage(cmd, hint);
      return;
    }
    if (!this.historyHint(hint)) {
      this.awaited.push({ query: '' });
      out.send.push(`HISTORY ${n}`);
    }
  }

  search(args, cmd, out, hint) {
    const w = words(args).filter((x) => /[\p{L}\p{N}]/u.test(x));
    if (w.length === 0) {
      this.usage(cmd, hint);
      return;
    }
    if (!this.historyHint(hint)) {
      const query = w.join(' ');
      this.awaited.push({ query });
      out.send.push(`HISTORY SEARCH ${query}`);
    }
  }

  register(args, cmd, out, hint) {
    const pw = args.trim();
    if (!pw) {
      this.usage(cmd, hint);
    } else if (new TextEncoder().encode(pw).length < 8) {
      hint('Not sent: a password is 8 to 256 bytes.');
    } else {
      this.registering = pw;
      out.send.push('REGISTER ' + pw);
    }
  }

  changePassword(args, cmd, out, hint) {
    const c = cutWords(args, 1);
    if (!c || !c.rest) {
      this.usage(cmd, hint);
    } else if (new TextEncoder().encode(c.rest).length < 8) {
      hint('Not sent: a password is 8 to 256 bytes.');
    } else {
      this.newPassword = c.rest;
      out.send.push(`PASSWORD ${c.words[0]} ${c.rest}`);
    }
  }

  unregister(args, cmd, out, hint) {
    const pw = args.trim();
    if (!pw) {
      this.usage(cmd, hint);
      return;
    }
    out.send.push('UNREGISTER ' + pw);
  }

  oper(args, cmd, out, hint) {
    const c = cutWords(args, 1);
    if (!c || !c.rest) {
      this.usage(cmd, hint);
      return;
    }
    out.send.push(`OPER ${c.words[0]} ${c.rest}`);
  }

  moderate(args, cmd, out, hint) {
    const c = cutWords(args, cmd.words);
    if (!c || (!cmd.reason && c.rest)) {
      this.usage(cmd, hint);
      return;
    }
    out.send.push([cmd.verb, ...c.words, c.rest].filter((x) => x !== '').join(' '));
  }

  ping(args, cmd, out, hint, now) {
    this.pingToken = 'p' + now;
    this.pingSent = now;
    out.send.push('PING ' + this.pingToken);
  }

  help(args, cmd, out) {
    out.events.push({ type: 'hint', text: helpText().join('\n') });
  }

  quit(args, cmd, out) {
    this.quitting = true;
    out.send.push(args ? 'QUIT ' + args : 'QUIT');
  }
}

// untilText says how long a ban or mute lasts.
function untilText(until) {
  return until === 'forever' ? 'for good' : 'until ' + until.replace('T', ' ').replace('Z', ' UTC');
}
