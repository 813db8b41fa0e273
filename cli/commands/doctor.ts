/**
 * `procmesh doctor`: check this host and say how to fix what is wrong. Host facts and the checks
 * live in node/setup/doctor.ts; this module adds what a running node can tell over its control socket
 * (who it is, its addresses, the clocks of its peers) and prints one line per check.
 */
import type { PsEntry, PsParams } from '../../protocols/control.js'
import { errorMessage } from '../../protocols/errors.js'
import { formatFindings, gatherHostFacts, judge, type NodeFacts } from '../../node/setup/doctor.js'
import { bool, type CommandSpec } from '../command.js'
import { ControlClient } from '../control-client.js'

/** Asking every peer for a sample takes one round trip each, in parallel; past this, give up. */
const PEER_CLOCK_TIMEOUT_MS = 8000
/**
 * The clock comparison needs each peer's collectedAt, not its processes: a filter matching no
 * process keeps the answers small.
 */
const NO_PROCESS_FILTER = 'procmesh-doctor:no-such-process'

async function askNode (home: string): Promise<NodeFacts | undefined> {
  let client: ControlClient
  try {
    client = await ControlClient.connect(home, 2000)
  } catch {
    return undefined
  }
  try {
    const id = await client.id()
    const peers = await client.peers()
    const facts: NodeFacts = { peerId: id.peerId, name: id.name, addrs: id.addrs, skews: [], unreachable: [] }
    if (!peers.some(p => !p.self && p.status === 'online')) return facts
    const receivedAt = new Map<string, number>()
    const params: PsParams = { target: 'all', filter: NO_PROCESS_FILTER }
    let entries: PsEntry[]
    try {
      entries = await client.ps(params, {
        timeoutMs: PEER_CLOCK_TIMEOUT_MS,
        onData: entry => { receivedAt.set(entry.peerId, Date.now()) }
      })
    } catch (err: unknown) {
      facts.unreachable.push(`all (${errorMessage(err)})`)
      return facts
    }
    const done = Date.now()
    for (const e of entries) {
      if (e.peerId === id.peerId) continue
      if ('error' in e) facts.unreachable.push(`${e.name} (${e.error.code})`)
      else facts.skews.push({ name: e.name, skewMs: e.collectedAt - (receivedAt.get(e.peerId) ?? done) })
    }
    return facts
  } catch {
    // a node that accepts but does not answer is the socket check's finding, not a crash here
    return undefined
  } finally {
    client.close()
  }
}

export const doctorCommand: CommandSpec = {
  usage: 'procmesh doctor [--home DIR] [--json] [--no-network]\n' +
    '  checks Node, the home and its key files, the control socket, TCP 4001, mDNS and the clock;\n' +
    '  one line per check: ok|warn|fail|skip  NAME  MESSAGE  (fix: ...); exit 1 when any fails.\n' +
    '  It sends no packet; --no-network also skips binding TCP 4001 and UDP 5353.',
  options: {
    'no-network': { type: 'boolean' }
  },
  positionals: [0, 0],
  async run (ctx, values) {
    const facts = await gatherHostFacts(ctx.home, { network: !bool(values, 'no-network'), uid: process.getuid?.() })
    const node = facts.socket === 'accepted' ? await askNode(ctx.home) : undefined
    const findings = judge(facts, node)
    const failed = findings.some(f => f.level === 'fail')
    ctx.out(ctx.json ? JSON.stringify({ ok: !failed, home: ctx.home, findings }) : formatFindings(findings))
    return failed ? 1 : 0
  }
}
