/**
 * Remote text (pure): what names, tags, hostnames and versions may contain, what a
 * peer id looks like, and how any remote string is made safe to print on a terminal
 * or in a log line (issue 17 findings 3 and 5).
 *
 * A summary field with a control character (ESC starting a window-title, colour or
 * OSC 52 clipboard sequence, a newline forging a table row or a log line, a bidi
 * override) is refused at validation; everything else remote (process names and
 * command lines, users, audit fields, error messages) is escaped where it is shown.
 */
import { InvalidFieldError } from './errors.js'

/** C0 and C1 controls, DEL, line/paragraph separators and bidi overrides/isolates. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
const CONTROL_G = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** base58btc, the alphabet of peer ids */
const B58 = '[1-9A-HJ-NP-Za-km-z]'
/**
 * A peer id or a prefix of one as people copy them: Ed25519 (`12D3KooW...`, what
 * procmesh nodes use), secp256k1 (`16Uiu2HA...`) or a whole legacy `Qm...` id.
 */
const PEER_ID_LIKE = new RegExp(`^(?:12D3KooW${B58}*|16Uiu2HA${B58}*|Qm${B58}{44})$`)

/** True for text that reads as a peer id or a peer id prefix: such a target matches peer ids only. */
export function looksLikePeerId (text: string): boolean {
  return PEER_ID_LIKE.test(text)
}

/** Refuse a control character in a remote field, naming it. */
export function expectPlainText (value: string, path: string): string {
  const m = CONTROL.exec(value)
  if (m !== null) throw new InvalidFieldError(path, `contains the control character U+${m[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`)
  return value
}

/**
 * A node name: plain text, not reading as a peer id (it would squat that peer's
 * targets), and not one of the target words.
 */
export function expectNodeName (value: string, path: string): string {
  expectPlainText(value, path)
  if (looksLikePeerId(value)) throw new InvalidFieldError(path, `${JSON.stringify(value.slice(0, 60))} looks like a peer id; a node name may not`)
  if (value === 'self' || value === 'all' || value.startsWith('tag:')) throw new InvalidFieldError(path, `${JSON.stringify(value)} is a target word; choose another name`)
  return value
}

/**
 * Remote text made safe for a terminal or a log line: every control character is
 * shown as a visible escape (`\x1b`, `\n`, `\u202e`), so nothing remote can move the
 * cursor, set a title, write the clipboard or forge a line.
 */
export function safeText (text: string): string {
  if (!CONTROL.test(text)) return text
  return text.replace(CONTROL_G, c => {
    if (c === '\n') return '\\n'
    if (c === '\r') return '\\r'
    if (c === '\t') return '\\t'
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}
