/**
 * The dashboard's pure helpers: what the browser page (cli/web/page/) computes that
 * needs no DOM, so node tests check it directly. Like the page it imports only
 * Node-free modules; the process rules themselves (filter, sort, tree) are
 * protocols/processes.ts, the same code as the CLI's and the TUI's.
 */
import { buildTree, type ProcessNode } from '../../protocols/processes.js'
import type { ProcessInfo } from '../../protocols/types.js'
import type { HostJson } from './api-types.js'

/** A process across refreshes: a pid with the start time it had (pids are reused). */
export function processKey (p: Pick<ProcessInfo, 'pid' | 'startTime'>): string {
  return `${p.pid}:${p.startTime}`
}

/**
 * The pids to fold in this list, from the folded process keys the page keeps: a
 * folded parent stays folded across refreshes, and a reused pid does not inherit it.
 */
export function foldedPids (processes: readonly ProcessInfo[], foldedKeys: ReadonlySet<string>): Set<number> {
  const out = new Set<number>()
  for (const p of processes) if (foldedKeys.has(processKey(p))) out.add(p.pid)
  return out
}

/** Keys of every process that has children in the list's tree (to fold everything). */
export function parentKeys (processes: readonly ProcessInfo[]): string[] {
  const keys: string[] = []
  const stack: ProcessNode[] = buildTree(processes)
  while (stack.length > 0) {
    const n = stack.pop() as ProcessNode
    if (n.children.length > 0) keys.push(processKey(n.process))
    stack.push(...n.children)
  }
  return keys
}

/** The tree node of a pid, if it is in the list. */
export function findNode (processes: readonly ProcessInfo[], pid: number): ProcessNode | undefined {
  const stack: ProcessNode[] = buildTree(processes)
  while (stack.length > 0) {
    const n = stack.pop() as ProcessNode
    if (n.process.pid === pid) return n
    stack.push(...n.children)
  }
  return undefined
}

/** The chain of ancestors of a process (nearest first), by ppid within the list. */
export function ancestorKeys (processes: readonly ProcessInfo[], pid: number): string[] {
  const byPid = new Map<number, ProcessInfo>()
  for (const p of processes) if (!byPid.has(p.pid)) byPid.set(p.pid, p)
  const keys: string[] = []
  const seen = new Set([pid])
  let cur = byPid.get(pid)
  while (cur !== undefined && cur.ppid !== cur.pid && !seen.has(cur.ppid)) {
    const parent = byPid.get(cur.ppid)
    if (parent === undefined) break
    seen.add(cur.ppid)
    cur = parent
    keys.push(processKey(cur))
  }
  return keys
}

/** KEY=VALUE per line (blank lines skipped) into an object; throws naming the bad line. */
export function parseEnvLines (text: string): Record<string, string> | undefined {
  const env: Record<string, string> = {}
  let count = 0
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`env line ${i + 1}: expected KEY=VALUE`)
    env[line.slice(0, eq).trim()] = line.slice(eq + 1)
    count++
  })
  return count > 0 ? env : undefined
}

export interface SseMessage { event: string, data: string, id: string }

/** Incremental text/event-stream parser: push() text as it arrives; onEvent per complete event. */
export function sseParser (onEvent: (msg: SseMessage) => void): { push: (text: string) => void } {
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id = ''
  const line = (l: string): void => {
    if (l === '') {
      if (data.length > 0) onEvent({ event: event === '' ? 'message' : event, data: data.join('\n'), id })
      event = ''
      data = []
      return
    }
    if (l.startsWith(':')) return
    const colon = l.indexOf(':')
    const field = colon < 0 ? l : l.slice(0, colon)
    let value = colon < 0 ? '' : l.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id') id = value
  }
  return {
    push (text: string): void {
      buffer += text
      let m: RegExpExecArray | null
      while ((m = /\r\n|\r|\n/.exec(buffer)) !== null) {
        // a lone CR at the end may be the first half of CRLF: wait for more
        if (m[0] === '\r' && m.index === buffer.length - 1) break
        line(buffer.slice(0, m.index))
        buffer = buffer.slice(m.index + m[0].length)
      }
    }
  }
}

/** SVG polyline points for values evenly spread on a width x height box; max is the top of the scale. */
export function sparkPoints (values: readonly number[], width: number, height: number, max: number): string {
  if (values.length === 0) return ''
  const top = max > 0 ? max : 1
  const step = values.length > 1 ? width / (values.length - 1) : 0
  return values.map((v, i) => {
    const y = height - Math.max(0, Math.min(1, v / top)) * height
    return `${(values.length > 1 ? i * step : width).toFixed(1)},${y.toFixed(1)}`
  }).join(' ')
}

/** Status as shown: an online host says how this node reaches it when not directly. */
export function hostStatusText (p: Pick<HostJson, 'status' | 'self' | 'reach'>): string {
  if (p.status !== 'online' || p.self) return p.status
  if (p.reach === 'unreachable') return 'online · unreachable from this node'
  if (p.reach === 'relayed') return 'online · relayed'
  return p.status
}

/** The status a host card is styled by: online but unreachable from here is not plainly online. */
export function hostStatusClass (p: Pick<HostJson, 'status' | 'self' | 'reach'>): string {
  return p.status === 'online' && !p.self && p.reach === 'unreachable' ? 'unreachable' : p.status
}

/** Hosts in display order: this node first, then by name (peer id breaking ties). */
export function compareHosts (a: Pick<HostJson, 'self' | 'name' | 'peerId'>, b: Pick<HostJson, 'self' | 'name' | 'peerId'>): number {
  if (a.self !== b.self) return a.self ? -1 : 1
  if (a.name !== b.name) return a.name < b.name ? -1 : 1
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
}

/** Memory in use as a percentage of the total (0 when the total is unknown). */
export function memPercent (host: Pick<HostJson['host'], 'memUsed' | 'memTotal'> | undefined): number {
  return host !== undefined && host.memTotal > 0 ? 100 * host.memUsed / host.memTotal : 0
}
