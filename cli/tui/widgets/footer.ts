/**
 * The two bottom lines: the status line (messages, the filter prompt) and the key footer,
 * generated from the keymap.
 */
import { footerItems } from '../keymap.js'
import type { State } from '../model.js'
import { esc, fit, sanitize, textWidth } from './text.js'

/** How long a message stays on the status line. */
export const INFO_TTL_MS = 6000
export const ERROR_TTL_MS = 20_000

export function statusText (s: State, width: number): string {
  if (s.modal?.kind === 'filter') return `{bold}Filter:{/bold} ${esc(sanitize(s.filter))}{inverse} {/inverse}`
  const st = s.status
  if (st === undefined) return ''
  const ttl = st.level === 'error' ? ERROR_TTL_MS : INFO_TTL_MS
  if (s.now - st.at > ttl) return ''
  const text = esc(fit(sanitize(st.text), width - 2).trimEnd())
  return st.level === 'error' ? `{red-fg}{bold}!{/bold} ${text}{/red-fg}` : `{green-fg}>{/green-fg} ${text}`
}

export function footerText (s: State, width: number): string {
  const items = footerItems(s)
  const out: string[] = []
  let used = 0
  for (const item of items) {
    const w = textWidth(item) + 2
    if (used + w > width) break
    used += w
    const sp = item.indexOf(' ')
    out.push(sp > 0 ? `{bold}{cyan-fg}${esc(item.slice(0, sp))}{/cyan-fg}{/bold}${esc(item.slice(sp))}` : esc(item))
  }
  return out.join('  ')
}
