/**
 * The two bottom lines: the status line (messages, the filter prompt) and the key footer,
 * generated from the keymap.
 */
import { footerItems, type FooterItem } from '../keymap.js'
import type { State } from '../model.js'
import { esc, fit, sanitize, textWidth } from './text.js'

/** How long a message stays on the status line. */
export const INFO_TTL_MS = 6000
export const ERROR_TTL_MS = 20_000

export function statusText (s: State, width: number): string {
  if (s.modal?.kind === 'filter') return `{bold}Filter:{/bold} ${esc(sanitize(s.filter))}{inverse} {/inverse}`
  if (s.modal?.kind === 'search') {
    const miss = s.modal.failed === true ? ' {red-fg}(no match){/red-fg}' : ''
    return `{bold}Search:{/bold} ${esc(sanitize(s.modal.query))}{inverse} {/inverse}${miss}`
  }
  const st = s.status
  if (st === undefined) return ''
  const ttl = st.level === 'error' ? ERROR_TTL_MS : INFO_TTL_MS
  if (s.now - st.at > ttl) return ''
  const text = esc(fit(sanitize(st.text), width - 2).trimEnd())
  return st.level === 'error' ? `{red-fg}{bold}!{/bold} ${text}{/red-fg}` : `{green-fg}>{/green-fg} ${text}`
}

/** Between two footer items. */
const GAP = '  '

/**
 * The footer items that fit `width` (pure): the highest ranks first (help, quit and the way
 * out of a prompt always), then shown in keymap order, so a narrow terminal loses the least
 * used keys rather than whatever comes last.
 */
export function footerFit (items: readonly FooterItem[], width: number): string[] {
  const byRank = items.map((item, i) => ({ item, i })).sort((a, b) => b.item.rank - a.item.rank || a.i - b.i)
  const kept = new Set<number>()
  let used = 0
  for (const { item, i } of byRank) {
    const w = textWidth(item.text) + (kept.size > 0 ? GAP.length : 0)
    if (used + w > width) continue
    used += w
    kept.add(i)
  }
  return items.filter((_, i) => kept.has(i)).map(item => item.text)
}

export function footerText (s: State, width: number): string {
  return footerFit(footerItems(s), width).map(item => {
    const sp = item.indexOf(' ')
    return sp > 0 ? `{bold}{cyan-fg}${esc(item.slice(0, sp))}{/cyan-fg}{/bold}${esc(item.slice(sp))}` : esc(item)
  }).join(GAP)
}
