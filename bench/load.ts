/**
 * Load benchmark (issue 19.1), in simulated hosts:
 *
 *   node dist/bench/load.js [--hosts 5] [--clients 50] [--rounds 10] [--json]
 *
 * `--clients` control-API clients of one node (each its own connection, as many CLI, TUI and
 * web clients would be) all ask `ps all` at the same moment, `--rounds` times: once all with the
 * same request (what 50 users typing `procmesh ps all` do: identical reads share one exchange
 * per host) and once each with its own filter (so every request needs its own stream to every
 * host, and waits its turn for the hosts' capped streams). Per call: the time to its answer;
 * per answer: hosts silently missing (the target: none), hosts with an error entry.
 */
import type { PsEntry } from '../protocols/control.js'
import { CONTROL_API } from '../protocols/control-api.js'
import { ControlClient } from '../cli/control-client.js'
import { invokedDirectly, printResult } from './lib/entry.js'
import { newMeshKey, PmClients, startPmNodes, stopPmNodes, waitMeshConverged, type PmNode } from './lib/pm.js'
import { destroyOpenNets, openSimNet } from './lib/sim.js'
import { nowMs, sleep, summarize, type Stats } from './lib/stats.js'

export interface LoadVariant { calls: Stats | undefined, silentLosses: number, hostErrors: number, failedCalls: number }
export interface LoadBenchResult { hosts: number, clients: number, rounds: number, same: LoadVariant, distinct: LoadVariant }

async function variant (clients: ControlClient[], hosts: number, rounds: number, params: (i: number) => { target: string, filter?: string }): Promise<LoadVariant> {
  const times: number[] = []
  let silentLosses = 0
  let hostErrors = 0
  let failedCalls = 0
  for (let r = 0; r < rounds; r++) {
    await Promise.all(clients.map(async (c, i) => {
      const t0 = nowMs()
      let entries: PsEntry[]
      try {
        entries = await c.invoke(CONTROL_API.ps, params(i), { timeoutMs: 30_000 })
      } catch {
        failedCalls++
        return
      }
      times.push(nowMs() - t0)
      silentLosses += Math.max(0, hosts - entries.length)
      hostErrors += entries.filter(e => 'error' in e).length
    }))
    await sleep(200)
  }
  return { calls: summarize(times), silentLosses, hostErrors, failedCalls }
}

export async function loadBench (hosts: number, clientCount: number, rounds: number, log: (line: string) => void): Promise<LoadBenchResult> {
  const net = await openSimNet(hosts)
  const pm = new PmClients()
  let nodes: PmNode[] = []
  const clients: ControlClient[] = []
  try {
    nodes = await startPmNodes(net.hosts, { meshKey: newMeshKey(), intervalMs: 2000, flavor: 'source' })
    await waitMeshConverged(nodes, pm, 180_000)
    log(`load: ${hosts} nodes converged; ${clientCount} clients of ${nodes[0].name}`)
    for (let i = 0; i < clientCount; i++) clients.push(await ControlClient.connect(nodes[0].home))
    // warm: the first stream of each protocol on a connection negotiates it
    await clients[0].invoke(CONTROL_API.ps, { target: 'all' })
    const same = await variant(clients, hosts, rounds, () => ({ target: 'all' }))
    const distinct = await variant(clients, hosts, rounds, i => ({ target: 'all', filter: `no-such-${i}-` }))
    return { hosts, clients: clientCount, rounds, same, distinct }
  } finally {
    for (const c of clients) c.close()
    pm.closeAll()
    await stopPmNodes(nodes)
    await net.destroy()
  }
}

function fmt (v: LoadVariant): string {
  const s = v.calls
  const t = s === undefined ? 'no answers' : `p50 ${s.median.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms (${s.runs} calls)`
  return `${t}; silent losses ${v.silentLosses}, host errors ${v.hostErrors}, failed calls ${v.failedCalls}`
}

export function table (r: LoadBenchResult): string {
  return [
    `${r.clients} concurrent ps all clients, one node of ${r.hosts}, ${r.rounds} rounds`,
    `  same request:       ${fmt(r.same)}`,
    `  distinct requests:  ${fmt(r.distinct)}`
  ].join('\n')
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const num = (flag: string, dflt: number): number => {
    const i = args.indexOf(flag)
    if (i < 0) return dflt
    const v = Number(args[i + 1])
    if (!Number.isInteger(v) || v < 1) throw new Error(`${flag}: a positive integer`)
    return v
  }
  const log = (line: string): void => { process.stderr.write(`${line}\n`) }
  const stopAll = (): void => { destroyOpenNets().finally(() => process.exit(130)) }
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)
  const result = await loadBench(num('--hosts', 5), num('--clients', 50), num('--rounds', 10), log)
  printResult(args.includes('--json'), table(result), result)
}

if (invokedDirectly(import.meta.url)) {
  main().catch(async (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    await destroyOpenNets()
    process.exitCode = 1
  })
}
