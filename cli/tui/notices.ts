/**
 * Notices about managed processes (pure): what changed for the user between two `ls` answers
 * of a host, told on the status line.
 */
import type { ManagedProcess } from '../../protocols/managed.js'
import { formatLastExit } from '../format.js'
import type { State } from './model.js'
import { withStatus } from './settle.js'

export interface Notice { text: string, level: 'info' | 'error' }

/** How a managed process ended, in words: `exit code 1`, `killed by SIGKILL`, `exit not seen (node down)`. */
export function exitWords (m: ManagedProcess): string {
  const e = m.lastExit
  if (e === null) return 'ended'
  if (e.signal !== null) return `killed by ${formatLastExit(m)}`
  if (e.code !== null) return `exit code ${e.code}`
  return e.whileDown ? 'ended while the node was down' : 'ended (exit status unknown)'
}

function managedLabel (m: ManagedProcess): string {
  return m.name ?? m.managedId
}

/**
 * What changed for the user between two `ls` answers of one host (pure): a managed process
 * that exited (a newer lastExit) or entered a crash loop. Stops through procmesh are the
 * user's own doing and say nothing; the first answer of a host says nothing either.
 */
export function managedNotices (hostName: string, before: readonly ManagedProcess[], after: readonly ManagedProcess[], now: number): Notice[] {
  const old = new Map(before.map(m => [m.managedId, m]))
  const out: Notice[] = []
  for (const m of after) {
    const was = old.get(m.managedId)
    const who = `${hostName}: ${managedLabel(m)}`
    if (m.state === 'crash-loop') {
      if (was?.state !== 'crash-loop') out.push({ text: `${who} entered crash-loop after ${m.restarts} restarts (${exitWords(m)}): M lists managed processes, R restarts it`, level: 'error' })
      continue
    }
    if (m.state === 'stopped' || m.lastExit === null) continue
    if (was?.lastExit !== null && was !== undefined && was.lastExit.at >= m.lastExit.at) continue
    const failed = m.lastExit.signal !== null || m.lastExit.code !== 0
    const next = m.state === 'restarting'
      ? `; restarting${m.nextRestartAt !== null ? ` in ${Math.max(0, Math.ceil((m.nextRestartAt - now) / 1000))}s` : ''}`
      : m.state === 'running' ? `; restarted (restart ${m.restarts})` : ''
    out.push({ text: `${who} exited (${exitWords(m)})${next}`, level: failed ? 'error' : 'info' })
  }
  return out
}

export function withNotices (s: State, notices: readonly Notice[]): State {
  if (notices.length === 0) return s
  const first = notices.find(n => n.level === 'error') ?? notices[0]
  const more = notices.length > 1 ? ` (+${notices.length - 1} more)` : ''
  return withStatus(s, first.text + more, notices.some(n => n.level === 'error') ? 'error' : 'info')
}
