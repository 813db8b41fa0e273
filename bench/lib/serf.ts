/**
 * Serf agents in simulated hosts, as its documentation runs them: `-discover` (mDNS) on the
 * host's LAN, RPC on the host's own 127.0.0.1, one query handler. Events are read off the agent's
 * log at INFO, which prints a member the moment it is alive in `serf members`
 * ("EventMemberJoin: NAME") and a user event or query the moment the agent receives it.
 */
import type { ChildProcess } from 'node:child_process'
import type { SimHost } from '../../testkit/sim-hosts.js'
import { LineLog, within } from './lines.js'
import { innerPid, stopChild } from './sim.js'
import { nowMs, sleep } from './stats.js'

export const SERF_CLUSTER = 'pmbench'
/** The query every agent answers (with its load average: a reply well under Serf's 1 KiB limit). */
export const SERF_QUERY = 'pmbq'
const READY_LINE = /Serf agent running!/

export function serfJoinedLine (name: string): (line: string) => boolean {
  return line => line.includes(`EventMemberJoin: ${name} `)
}

export function serfEventLine (event: string): (line: string) => boolean {
  return line => line.endsWith(`Received event: user-event: ${event}`)
}

export interface SerfAgent {
  host: SimHost
  name: string
  child: ChildProcess
  lines: LineLog
  spawnedAt: number
}

export function spawnSerf (host: SimHost, name: string): SerfAgent {
  const spawnedAt = nowMs()
  const child = host.spawn([
    'serf', 'agent', '-node', name, '-bind', `${host.ip}:7946`, '-rpc-addr', '127.0.0.1:7373',
    '-discover', SERF_CLUSTER, '-log-level', 'info', '-event-handler', `query:${SERF_QUERY}=cat /proc/loadavg`
  ])
  return { host, name, child, lines: new LineLog(child), spawnedAt }
}

export async function waitSerfReady (agent: SerfAgent, timeoutMs = 20_000): Promise<void> {
  const at = await within(agent.lines.next(l => READY_LINE.test(l), 0), timeoutMs)
  if (at === undefined) throw new Error(`serf agent ${agent.name} not ready within ${timeoutMs} ms:\n${agent.lines.tail()}`)
}

export async function startSerfAgents (hosts: SimHost[], name: (host: SimHost) => string = h => h.name): Promise<SerfAgent[]> {
  const agents = hosts.map(h => spawnSerf(h, name(h)))
  try {
    await Promise.all(agents.map(async a => { await waitSerfReady(a) }))
  } catch (err: unknown) {
    await stopSerfAgents(agents)
    throw err
  }
  return agents
}

/** SIGINT: a graceful leave, as an operator stops an agent. */
export async function stopSerfAgents (agents: SerfAgent[]): Promise<void> {
  await Promise.all(agents.map(async a => { await stopChild(a.child, 'SIGINT') }))
}

export async function serfPid (agent: SerfAgent): Promise<number> {
  return await innerPid(agent.child)
}

/** Members alive in one agent's `serf members`. */
export async function serfAlive (host: SimHost): Promise<string[]> {
  const r = await host.exec(['serf', 'members', '-status', 'alive', '-format', 'json'], { timeoutMs: 10_000 })
  if (r.code !== 0) throw new Error(`serf members in ${host.name}: ${r.stderr.trim()}`)
  const parsed: unknown = JSON.parse(r.stdout)
  const members = typeof parsed === 'object' && parsed !== null && 'members' in parsed && Array.isArray(parsed.members) ? parsed.members as unknown[] : []
  return members.flatMap(m => typeof m === 'object' && m !== null && 'name' in m && typeof m.name === 'string' ? [m.name] : [])
}

/** Wait until every agent lists every other one alive; the time it took (ms). */
export async function waitSerfConverged (agents: SerfAgent[], timeoutMs: number): Promise<number> {
  const start = nowMs()
  const names = agents.map(a => a.name)
  for (;;) {
    const views = await Promise.all(agents.map(async a => await serfAlive(a.host).catch((): string[] => [])))
    if (views.every(v => names.every(n => v.includes(n)))) return nowMs() - start
    if (nowMs() - start > timeoutMs) throw new Error(`serf cluster of ${agents.length} did not converge within ${timeoutMs} ms`)
    await sleep(250)
  }
}
