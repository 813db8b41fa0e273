/**
 * Reach benchmark (issue 16), in simulated hosts:
 *
 *   node dist/bench/reach.js [--rounds 30] [--hosts 20] [--skip-fanout] [--json]
 *
 * 1. `ps` of a host reached through a relay vs directly: three hosts r, x, y; x and y
 *    accept no inbound TCP (nft), so y reaches x only through a relay (r), while r
 *    reaches x over x's own connection. The same `ps x` (control API, warm client, so no
 *    CLI start-up is in the figure) from r (direct) and from y (relayed), alternating.
 * 2. Fan-out `run all -- true` to --hosts hosts, time to the last host's answer (control
 *    API and the CLI), side by side with `serf query` (time to the last response) on
 *    the same hosts (Serf run as in bench/lib/serf.ts).
 */
import type { PsEntry, RunEntry } from '../protocols/control.js'
import { CONTROL_API } from '../protocols/control-api.js'
import { invokedDirectly, printResult } from './lib/entry.js'
import { LineLog, within } from './lib/lines.js'
import { cliIn, newMeshKey, PmClients, startPmNodes, stopPmNodes, waitMeshConverged, type PmNode } from './lib/pm.js'
import { SERF_QUERY, startSerfAgents, stopSerfAgents, waitSerfConverged } from './lib/serf.js'
import { destroyOpenNets, openSimNet, stopChild } from './lib/sim.js'
import { alternate, nowMs, sleep, summarize, type Stats } from './lib/stats.js'

const OUTBOUND_ONLY_RULES = `table inet pmreach {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp flags & (syn | ack) == syn drop
  }
}
`

export interface ReachBenchResult {
  relay: { direct?: Stats, relayed?: Stats, extraP50Ms?: number, failures: { direct: number, relayed: number } }
  fanOut?: { hosts: number, api?: Stats, cli?: Stats, serf?: Stats, failures: { api: number, cli: number, serf: number } }
}

function fmt (s: Stats | undefined): string {
  return s === undefined ? 'n/a' : `p50 ${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, ${s.runs} runs)`
}

async function waitReach (clients: PmClients, from: PmNode, name: string, reach: string, timeoutMs: number): Promise<void> {
  const end = nowMs() + timeoutMs
  for (;;) {
    const peers = await clients.peers(from).catch(() => [])
    if (peers.some(p => p.name === name && p.status === 'online' && p.reach === reach)) return
    if (nowMs() > end) throw new Error(`${from.name} does not reach ${name} ${reach} within ${timeoutMs} ms`)
    await sleep(500)
  }
}

async function grantExec (clients: PmClients, on: PmNode, to: PmNode): Promise<void> {
  const id = await clients.call(to, CONTROL_API.id, undefined)
  await clients.call(on, CONTROL_API.trustAdd, { peer: id.peerId, role: 'exec' as const })
}

export async function relayVsDirect (rounds: number, log: (line: string) => void): Promise<ReachBenchResult['relay']> {
  const net = await openSimNet(3)
  const [r, x, y] = net.hosts
  const clients = new PmClients()
  let nodes: PmNode[] = []
  try {
    for (const h of [x, y]) {
      const res = await h.exec(['nft', '-f', '-'], { input: OUTBOUND_ONLY_RULES })
      if (res.code !== 0) throw new Error(`nft in ${h.name}: ${res.stderr}`)
    }
    nodes = await startPmNodes([r, x, y], { meshKey: newMeshKey(), intervalMs: 1000, flavor: 'source' })
    const [nr, , ny] = nodes
    await waitReach(clients, nr, x.name, 'direct', 60_000)
    await waitReach(clients, ny, x.name, 'relayed', 90_000)
    log(`relay: ${y.name} reaches ${x.name} through a relay, ${r.name} directly`)
    const ps = async (from: PmNode): Promise<number | undefined> => {
      const t0 = nowMs()
      const entries: PsEntry[] = await clients.call(from, CONTROL_API.ps, { target: x.name }, 20_000).catch((): PsEntry[] => [])
      const ms = nowMs() - t0
      return entries.length === 1 && 'processes' in entries[0] ? ms : undefined
    }
    // warm both paths (first stream on a connection negotiates the protocol)
    await ps(nr)
    await ps(ny)
    const runs = await alternate(rounds, { direct: async () => await ps(nr), relayed: async () => await ps(ny) }, { between: async () => { await sleep(50) } })
    const direct = summarize(runs.direct.values)
    const relayed = summarize(runs.relayed.values)
    return {
      direct,
      relayed,
      extraP50Ms: direct !== undefined && relayed !== undefined ? relayed.median - direct.median : undefined,
      failures: { direct: runs.direct.failures, relayed: runs.relayed.failures }
    }
  } finally {
    clients.closeAll()
    await stopPmNodes(nodes)
    await net.destroy()
  }
}

export async function fanOutRun (hosts: number, rounds: number, log: (line: string) => void): Promise<NonNullable<ReachBenchResult['fanOut']>> {
  const net = await openSimNet(hosts)
  const clients = new PmClients()
  let nodes: PmNode[] = []
  let serf: Awaited<ReturnType<typeof startSerfAgents>> = []
  try {
    nodes = await startPmNodes(net.hosts, { meshKey: newMeshKey(), intervalMs: 2000, flavor: 'source' })
    await waitMeshConverged(nodes, clients, 180_000)
    const origin = nodes[0]
    for (const n of nodes.slice(1)) await grantExec(clients, n, origin)
    log(`fan-out: ${hosts} procmesh nodes converged, ${origin.name} has exec on all`)
    serf = await startSerfAgents(net.hosts)
    await waitSerfConverged(serf, 120_000)
    log(`fan-out: ${hosts} serf agents converged`)
    const okAll = (entries: RunEntry[]): boolean => entries.length === hosts && entries.every(e => !('error' in e))
    const runs = await alternate(rounds, {
      api: async () => {
        const t0 = nowMs()
        const answer = await clients.call(origin, CONTROL_API.run, { target: 'all', argv: ['true'] }, 60_000).catch((): RunEntry[] => [])
        const entries = Array.isArray(answer) ? answer : []
        const ms = nowMs() - t0
        return okAll(entries) ? ms : undefined
      },
      cli: async () => {
        const t0 = nowMs()
        const res = await cliIn(origin, 'source', ['run', 'all', '--json', '--', 'true'], 60_000)
        const ms = nowMs() - t0
        return res.code === 0 && okAll(JSON.parse(res.stdout) as RunEntry[]) ? ms : undefined
      },
      serf: async () => {
        const t0 = nowMs()
        const query = serf[0].host.spawn(['serf', 'query', '-timeout', '5s', SERF_QUERY])
        const lines = new LineLog(query)
        const done = await within(lines.nth(l => l.startsWith('Response from'), t0, hosts), 10_000)
        lines.cancelWaiters()
        await stopChild(query, 'SIGKILL')
        return done === undefined ? undefined : done - t0
      }
    }, { between: async () => { await sleep(300) } })
    return {
      hosts,
      api: summarize(runs.api.values),
      cli: summarize(runs.cli.values),
      serf: summarize(runs.serf.values),
      failures: { api: runs.api.failures, cli: runs.cli.failures, serf: runs.serf.failures }
    }
  } finally {
    clients.closeAll()
    await stopSerfAgents(serf)
    await stopPmNodes(nodes)
    await net.destroy()
  }
}

function table (r: ReachBenchResult): string {
  const lines = [
    `ps of a host, control API (warm client):`,
    `  direct   ${fmt(r.relay.direct)}`,
    `  relayed  ${fmt(r.relay.relayed)}`,
    `  extra cost of the relay, p50: ${r.relay.extraP50Ms === undefined ? 'n/a' : `${r.relay.extraP50Ms.toFixed(1)} ms`}`
  ]
  if (r.fanOut !== undefined) {
    lines.push(
      `run all -- true on ${r.fanOut.hosts} hosts, time to the last answer:`,
      `  procmesh control API  ${fmt(r.fanOut.api)}`,
      `  procmesh CLI          ${fmt(r.fanOut.cli)}`,
      `  serf query            ${fmt(r.fanOut.serf)}`,
      `  failed runs (not every host answered): api ${r.fanOut.failures.api}, cli ${r.fanOut.failures.cli}, serf ${r.fanOut.failures.serf}`
    )
  }
  return lines.join('\n')
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const num = (flag: string, dflt: number): number => {
    const i = args.indexOf(flag)
    const v = i >= 0 ? Number(args[i + 1]) : dflt
    if (!Number.isInteger(v) || v < 1) throw new Error(`${flag}: a positive integer`)
    return v
  }
  const rounds = num('--rounds', 30)
  const hosts = num('--hosts', 20)
  const log = (line: string): void => { process.stderr.write(`${line}\n`) }
  const stopAll = (): void => { destroyOpenNets().finally(() => process.exit(130)) }
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)
  const result: ReachBenchResult = { relay: await relayVsDirect(rounds, log) }
  log(table(result))
  if (!args.includes('--skip-fanout')) {
    try {
      result.fanOut = await fanOutRun(hosts, Math.max(5, Math.round(rounds / 3)), log)
    } catch (err: unknown) {
      // the relay figures above still stand; say why the fan-out has none
      log(`fan-out at ${hosts} hosts failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
      process.exitCode = 1
    }
  }
  printResult(args.includes('--json'), table(result), result)
}

if (invokedDirectly(import.meta.url)) {
  main().catch(async (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    await destroyOpenNets()
    process.exitCode = 1
  })
}
