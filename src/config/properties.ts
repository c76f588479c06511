/**
 * `java.util.Properties` text format, read and written the way the JDK does it
 * (`Properties.load(Reader)` / `Properties.store`), so a TorchServe config.properties means
 * exactly the same thing here. Deviation: input is a JS string (the caller decodes UTF-8),
 * whereas `Properties.load(InputStream)` decodes ISO-8859-1.
 */

/** Input that `Properties.load` itself rejects (only a malformed `\uXXXX` escape). */
export class PropertiesSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PropertiesSyntaxError';
  }
}

/** Properties' notion of whitespace: space, tab, form feed (not other Unicode spaces). */
const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\f';

function skipLeadingWs(s: string): string {
  let i = 0;
  while (i < s.length && isWs(s[i])) i++;
  return s.slice(i);
}

function trailingBackslashes(s: string): number {
  let n = 0;
  while (n < s.length && s[s.length - 1 - n] === '\\') n++;
  return n;
}

/**
 * Joins natural lines into logical lines: drops blank and comment lines, and glues a line ending
 * in an odd number of backslashes to the next one (minus that next line's leading whitespace).
 * A comment line never continues, and a blank continuation line ends the logical line — as in
 * the JDK's LineReader.
 */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending: string | undefined;
  for (const natural of text.split(/\r\n|\r|\n/)) {
    const line = skipLeadingWs(natural);
    if (pending === undefined) {
      if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
      pending = line;
    } else {
      pending += line;
    }
    // The text kept so far always ends in an even run, so the parity is the new segment's.
    if (trailingBackslashes(pending) % 2 === 1) {
      pending = pending.slice(0, -1);
      continue;
    }
    out.push(pending);
    pending = undefined;
  }
  if (pending !== undefined) out.push(pending); // continuation at end of input
  return out;
}

/** Resolves escapes: \t \n \r \f \uXXXX; a backslash before anything else yields that char. */
function unescape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; ) {
    const c = s[i++] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    if (i >= s.length) break; // a lone trailing backslash is dropped, like the JDK
    const e = s[i++] as string;
    if (e === 'u') {
      const hex = s.slice(i, i + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PropertiesSyntaxError('Malformed \\uxxxx encoding.');
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += e === 't' ? '\t' : e === 'n' ? '\n' : e === 'r' ? '\r' : e === 'f' ? '\f' : e;
    }
  }
  return out;
}

/** Splits one logical line at the first unescaped `=`, `:` or whitespace (Properties.load0). */
function splitKeyValue(line: string): [string, string] {
  let keyLen = 0;
  let valueStart = line.length;
  let hasSep = false;
  let escaped = false;
  while (keyLen < line.length) {
    const c = line[keyLen];
    if ((c === '=' || c === ':') && !escaped) {
      valueStart = keyLen + 1;
      hasSep = true;
      break;
    }
    if (isWs(c) && !escaped) {
      valueStart = keyLen + 1;
      break;
    }
    escaped = c === '\\' ? !escaped : false;
    keyLen++;
  }
  // Skip whitespace before the value, and at most one `=`/`:` if the key ended on whitespace.
  while (valueStart < line.length) {
    const c = line[valueStart];
    if (!isWs(c)) {
      if (!hasSep && (c === '=' || c === ':')) hasSep = true;
      else break;
    }
    valueStart++;
  }
  return [unescape(line.slice(0, keyLen)), unescape(line.slice(valueStart))];
}

/**
 * Parses properties text into a plain key→value map (later keys win).
 * The result has a null prototype so keys like `__proto__` are stored, not interpreted.
 * @throws PropertiesSyntaxError on a malformed `\uXXXX` escape.
 */
export function parseProperties(text: string): Record<string, string> {
  const props: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of logicalLines(text)) {
    const [key, value] = splitKeyValue(line);
    props[key] = value;
  }
  return props;
}

const hex4 = (code: number): string => '\\u' + code.toString(16).toUpperCase().padStart(4, '0');

/** Properties.saveConvert with escUnicode=true: keys escape every space, values only a leading one. */
function escape(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    const code = c.charCodeAt(0);
    switch (c) {
      case '\\':
        out += '\\\\';
        break;
      case ' ':
        out += i === 0 || isKey ? '\\ ' : ' ';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\f':
        out += '\\f';
        break;
      case '=':
      case ':':
      case '#':
      case '!':
        out += '\\' + c;
        break;
      default:
        // Works on UTF-16 code units, so astral chars become a surrogate pair of escapes.
        out += code < 0x20 || code > 0x7e ? hex4(code) : c;
    }
  }
  return out;
}

/** Comment lines as Properties.writeComments writes them: each line `#`-prefixed, non-Latin-1 escaped. */
function commentLines(comments: string): string[] {
  return comments.split(/\r\n|\r|\n/).map((line) => {
    const body = line.replace(/[^\u0000-\u00ff]/g, (ch) => hex4(ch.charCodeAt(0)));
    return body.startsWith('#') || body.startsWith('!') ? body : '#' + body;
  });
}

/**
 * Writes properties in the format Properties.store produces (without its date line), in the
 * map's own key order, `\n`-terminated. `parseProperties(stringifyProperties(p))` equals `p`.
 */
export function stringifyProperties(props: Readonly<Record<string, string>>, comments?: string): string {
  const lines = comments === undefined ? [] : commentLines(comments);
  for (const [key, value] of Object.entries(props)) lines.push(`${escape(key, true)}=${escape(value, false)}`);
  return lines.map((l) => l + '\n').join('');
}
