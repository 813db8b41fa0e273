/**
 * Notices that stay until dismissed (a managed process exited or entered crash-loop):
 * unlike the toast, a person away from the screen still finds them. The newest is on
 * top; at most MAX_NOTICES are kept.
 */
import { byId, h } from './dom.js'

const MAX_NOTICES = 5

export function showNotice (text: string, kind: 'warn' | 'error'): void {
  const list = byId('notices', HTMLDivElement)
  const close = h('button', { text: '×', attrs: { type: 'button', 'aria-label': 'Dismiss' } })
  const notice = h('div', { class: 'notice', dataset: { kind } }, [h('span', { class: 'notice-text', text }), close])
  close.addEventListener('click', () => { notice.remove() })
  list.prepend(notice)
  while (list.children.length > MAX_NOTICES) list.lastElementChild?.remove()
}
