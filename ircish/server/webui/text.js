// Text from the network, made safe to show, and nicks compared as the
// server compares them. No DOM here: the page shows what these return
// with textContent.

// Characters shown as their code, <U+202E>, as the terminal client shows
// them: those that show nothing and may hide or turn text around (Unicode's
// Default_Ignorable_Code_Point), but the zero-width joiners and the
// variation selectors, which emoji and scripts need and which reorder
// nothing.
const hiddenRe = /\p{Default_Ignorable_Code_Point}/u;
const keptRe = /[\u200c\u200d\p{Variation_Selector}]/u;
// Anything clean() changes: C0 controls but TAB, DEL, C1 controls, and
// hidden characters.
const suspectRe = /[\x00-\x08\x0a-\x1f\x7f-\x9f\p{Default_Ignorable_Code_Point}]/u;

function hidden(ch) {
  return hiddenRe.test(ch) && !keptRe.test(ch);
}

// clean returns s with nothing that hides or reorders text: ASCII controls
// in caret notation (ESC as ^[), C1 controls as U+FFFD, hidden characters
// as <U+202E>. The server refuses controls, so only the last happens.
export function clean(s) {
  if (!suspectRe.test(s)) {
    return s;
  }
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if ((c < 0x20 && c !== 9) || c === 0x7f) {
      out += '^' + String.fromCharCode(c ^ 0x40);
    } else if (c >= 0x80 && c <= 0x9f) {
      out += '\ufffd';
    } else if (hidden(ch)) {
      out += '<U+' + c.toString(16).toUpperCase().padStart(4, '0') + '>';
    } else {
      out += ch;
    }
  }
  return out;
}

const foldCache = new Map();

// foldChar maps ch to the least code point among its case variants of one
// code point each, as the server's simple case folding does (K, k and the
// Kelvin sign fold together; ß and ẞ do, ß and ss do not). The Turkic
// dotted and dotless i fold with nothing there.
function foldChar(ch) {
  let f = foldCache.get(ch);
  if (f !== undefined) {
    return f;
  }
  const orbit = new Set([ch]);
  if (ch !== '\u0130' && ch !== '\u0131') {
    for (let grew = true; grew;) {
      grew = false;
      for (const v of orbit) {
        for (const w of [v.toLowerCase(), v.toUpperCase()]) {
          if ([...w].length === 1 && w !== '\u0130' && w !== '\u0131' && !orbit.has(w)) {
            orbit.add(w);
            grew = true;
          }
        }
      }
    }
  }
  f = [...orbit].reduce((a, b) => (a.codePointAt(0) <= b.codePointAt(0) ? a : b));
  foldCache.set(ch, f);
  return f;
}

// foldNick returns the form of nick under which the server tells nicks
// apart: ÄDA and äda are one nick.
export function foldNick(nick) {
  let out = '';
  for (const ch of nick) {
    out += foldChar(ch);
  }
  return out;
}

// Colours a nick may get: the terminal client's twelve, in its order.
export const nickColors = 12;

const utf8 = new TextEncoder();

// nickColor returns the index of nick's colour, from 0 to nickColors-1:
// a 32-bit FNV-1a hash of its folded UTF-8, as the terminal client
// computes it, so that a nick has one colour everywhere.
export function nickColor(nick) {
  let h = 0x811c9dc5;
  for (const b of utf8.encode(foldNick(nick))) {
    h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h % nickColors;
}
