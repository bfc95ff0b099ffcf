/**
 * The nesting bound of request JSON, checked before JSON.parse: one pass over the text counting `[` and
 * `{` outside strings. A deeply nested body is refused in time linear in its length and without
 * building anything, instead of being parsed (seconds for a few MB of `[`) and then overflowing the
 * stack of whatever walks it (a 500). Every JSON a request carries goes through here: the body, and
 * JSON inside a form field, a query parameter or a multipart part.
 */
import { MAX_JSON_DEPTH } from './constants.js';
import { badData } from './errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * The first offset at which `text` nests arrays and objects deeper than `max`, or -1. Brackets inside
 * strings do not count (escapes included); the text need not be valid JSON (JSON.parse judges that).
 */
export function depthExceededAt(text: string, max: number = MAX_JSON_DEPTH): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: to the next quote not escaped.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return i;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return -1;
}

/** A one-line reason when `text` nests too deep, naming where; undefined when it does not. */
export function depthProblem(text: string, where: string, max: number = MAX_JSON_DEPTH): string | undefined {
  const at = depthExceededAt(text, max);
  if (at < 0) return undefined;
  return `${where} nests arrays and objects more than ${max} deep (at character ${at}): flatten it`;
}

/**
 * JSON.parse with the nesting bound first.
 * @throws ServeError BAD_DATA naming `where` when the text nests too deep (a SyntaxError from
 * JSON.parse is left to the caller, which words it for its protocol).
 */
export function parseBoundedJson(text: string, where: string): unknown {
  const problem = depthProblem(text, where);
  if (problem !== undefined) throw badData(problem);
  return JSON.parse(text) as unknown;
}
