import { CONTROL_METHODS } from '../../protocols/control.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { UsageError } from '../args.js'
import { bool, str, type CommandSpec } from '../command.js'
import { safeText } from '../../protocols/text.js'
import type { CliContext } from '../context.js'
import { callOnce } from '../control-client.js'
import { formatAgo, table } from '../format.js'
import type { TrustListResult } from '../../node/security/security.js'
import { MAX_TRUST_ENTRIES, TRUST_ROLES, TrustStore, type TrustRole } from '../../node/security/trust-store.js'
import { expectArray, expectNumber, expectOneOf, expectRecord, expectString } from '../../protocols/validate.js'
import { ROLES } from '../../protocols/wire.js'
import { homePaths } from '../../node/setup/home.js'

const USAGE = 'procmesh trust list | add PEER --role none|read|control|exec [--yes] | remove PEER [--yes] [--home DIR] [--json]\n' +
  '  PEER is a peer id or a node name known in the mesh (names need a running node). A name or a\n' +
  '  peer id prefix is only shown resolved to its full peer id; repeat with that id, or add --yes.\n' +
  '  Roles on this node: read (list, logs, history, audit; every mesh member), control (+ stop),\n' +
  '  exec (+ start); none refuses the peer\'s connections. Changes apply to the next request.'

export function parseTrustList (value: unknown): TrustListResult {
  try {
    const r = expectRecord(value, 'result')
    return {
      peers: expectArray(r.peers, 'result.peers', MAX_TRUST_ENTRIES).map((v, i) => {
        const p = expectRecord(v, `result.peers[${i}]`)
        return {
          peerId: expectString(p.peerId, `result.peers[${i}].peerId`, { maxBytes: 128 }),
          name: p.name === null ? null : expectString(p.name, `result.peers[${i}].name`, { maxBytes: 256 }),
          role: expectOneOf(p.role, `result.peers[${i}].role`, TRUST_ROLES),
          source: expectString(p.source, `result.peers[${i}].source`, { maxBytes: 16 }),
          addedAt: expectNumber(p.addedAt, `result.peers[${i}].addedAt`, { min: 0 })
        }
      }),
      invites: expectArray(r.invites, 'result.invites', MAX_TRUST_ENTRIES).map((v, i) => {
        const x = expectRecord(v, `result.invites[${i}]`)
        return { id: expectString(x.id, `result.invites[${i}].id`, { maxBytes: 64 }), role: expectOneOf(x.role, `result.invites[${i}].role`, ROLES), expiresAt: expectNumber(x.expiresAt, `result.invites[${i}].expiresAt`) }
      }),
      claims: expectArray(r.claims, 'result.claims', MAX_TRUST_ENTRIES).map((v, i) => {
        const x = expectRecord(v, `result.claims[${i}]`)
        return { admin: expectString(x.admin, `result.claims[${i}].admin`, { maxBytes: 128 }), role: expectOneOf(x.role, `result.claims[${i}].role`, ROLES), expiresAt: expectNumber(x.expiresAt, `result.claims[${i}].expiresAt`) }
      })
    }
  } catch (err: unknown) {
    throw new ProcmeshError('PROTOCOL_ERROR', `trust list: bad answer from the node: ${err instanceof Error ? err.message : String(err)}`)
  }
}

async function isFullPeerId (text: string): Promise<boolean> {
  const { peerIdFromString } = await import('@libp2p/peer-id')
  try { return peerIdFromString(text).toString() === text } catch { return false }
}

function isNoNode (err: unknown): boolean {
  return err instanceof ProcmeshError && err.code === 'NO_NODE'
}

export function trustTable (r: TrustListResult, now: number): string {
  const rows = r.peers.map(p => [p.name ?? '-', p.role, p.source, p.addedAt > 0 ? formatAgo(p.addedAt, now) : '-', p.peerId])
  const out = [rows.length > 0 ? table(['NAME', 'ROLE', 'SOURCE', 'ADDED', 'PEER ID'], rows) : 'no trust entries: mesh members hold read, nobody else holds control or exec']
  for (const i of r.invites) out.push(`pending invite ${i.id}: grants ${i.role} here, until ${new Date(i.expiresAt).toISOString()}`)
  for (const c of r.claims) out.push(`to claim: ${c.role} on ${c.admin}, until ${new Date(c.expiresAt).toISOString()}`)
  return out.join('\n')
}

/** Without a node: edit the file directly (peer ids only: names need the mesh view). */
async function offline (ctx: CliContext, sub: string, peer: string | undefined, role: TrustRole | undefined): Promise<unknown> {
  const store = new TrustStore(homePaths(ctx.home).trust)
  store.load()
  if (sub === 'list') {
    const tf = store.data
    const result: TrustListResult = {
      peers: Object.entries(tf.peers).map(([peerId, e]) => ({ peerId, name: e.name ?? null, role: e.role, source: e.source, addedAt: e.addedAt })),
      invites: tf.invites.map(i => ({ id: i.id, role: i.role, expiresAt: i.expiresAt })),
      claims: tf.claims.map(c => ({ admin: c.admin, role: c.role, expiresAt: c.expiresAt }))
    }
    return result
  }
  const { peerIdFromString } = await import('@libp2p/peer-id')
  const { AuditLog, auditId } = await import('../../node/security/audit-log.js')
  const audit = new AuditLog(homePaths(ctx.home).audit)
  let peerId = peer ?? ''
  try {
    peerId = peerIdFromString(peerId).toString()
  } catch {
    const byName = Object.entries(store.data.peers).filter(([, e]) => e.name === peer)
    if (byName.length !== 1) throw new ProcmeshError('UNKNOWN_PEER', `no node is running for ${ctx.home}, so PEER must be a peer id (or a name in the trust file); got ${JSON.stringify(peer)}`)
    peerId = byName[0][0]
  }
  const base = { id: auditId(), time: Date.now(), event: 'trust' as const, peerId: null, name: null, via: 'local' as const, subject: peerId, decision: 'allowed' as const }
  if (sub === 'add' && role !== undefined) {
    store.update(tf => { const e = tf.peers[peerId]; tf.peers[peerId] = { ...e, role, source: e?.source ?? 'trust', addedAt: Date.now() } })
    audit.record({ ...base, role, reason: `trust add (offline): ${peerId} now holds ${role}` })
    return { peerId, name: store.data.peers[peerId]?.name ?? null, role }
  }
  const removed = store.update(tf => { const had = tf.peers[peerId]; delete tf.peers[peerId]; return had })
  if (removed === undefined) throw new ProcmeshError('NOT_FOUND', `peer ${peerId} has no entry in the trust file`)
  audit.record({ ...base, role: 'read', reason: `trust remove (offline): ${peerId} no longer holds ${removed.role}` })
  return { peerId, name: removed.name ?? null, removed: removed.role }
}

export const trustCommand: CommandSpec = {
  usage: USAGE,
  options: {
    role: { type: 'string' },
    yes: { type: 'boolean' }
  },
  positionals: [1, 2],
  async run (ctx, values, positionals) {
    const [sub, peer] = positionals
    const roleText = str(values, 'role')
    let role: TrustRole | undefined
    if (sub === 'list') {
      if (peer !== undefined) throw new UsageError('trust list takes no PEER')
    } else if (sub === 'add') {
      if (peer === undefined) throw new UsageError('trust add needs PEER')
      if (roleText === undefined) throw new UsageError('trust add needs --role none|read|control|exec')
      if (!(TRUST_ROLES as readonly string[]).includes(roleText)) throw new UsageError(`--role: one of ${TRUST_ROLES.join(', ')}, got ${JSON.stringify(roleText)}`)
      role = roleText as TrustRole
    } else if (sub === 'remove') {
      if (peer === undefined) throw new UsageError('trust remove needs PEER')
    } else {
      throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}: list, add or remove`)
    }
    if (sub !== 'add' && roleText !== undefined) throw new UsageError(`--role only goes with trust add`)
    const method = sub === 'list' ? CONTROL_METHODS.trustList : sub === 'add' ? CONTROL_METHODS.trustAdd : CONTROL_METHODS.trustRemove
    let result: unknown
    try {
      let subject = peer
      if (sub !== 'list' && peer !== undefined && !(await isFullPeerId(peer))) {
        // names come from gossip: a grant by name goes to a full peer id the operator has seen
        const seen = expectRecord(await callOnce<unknown>(ctx.home, method, { peer, dryRun: true, ...(role !== undefined ? { role } : {}) }), 'result')
        const fullId = expectString(seen.peerId, 'result.peerId', { maxBytes: 128 })
        const who = `${typeof seen.name === 'string' ? safeText(seen.name) : 'a peer'} (${fullId})`
        if (!bool(values, 'yes')) {
          throw new ProcmeshError('REFUSED', `${JSON.stringify(safeText(peer))} is ${who}; to ${sub === 'add' ? `grant ${role ?? ''}` : 'remove its entry'}, repeat with the full peer id ` +
            `(procmesh trust ${sub} ${fullId}${role !== undefined ? ` --role ${role}` : ''}) or add --yes`)
        }
        subject = fullId
      }
      result = await callOnce<unknown>(ctx.home, method, sub === 'list' ? {} : { peer: subject, ...(role !== undefined ? { role } : {}) })
    } catch (err: unknown) {
      if (!isNoNode(err)) throw err
      result = await offline(ctx, sub, peer, role)
    }
    if (ctx.json) {
      ctx.out(JSON.stringify(result))
      return 0
    }
    if (sub === 'list') {
      ctx.out(trustTable(parseTrustList(result), Date.now()))
      return 0
    }
    const r = expectRecord(result, 'result')
    const who = `${typeof r.name === 'string' ? safeText(r.name) : 'peer'} (${safeText(String(r.peerId))})`
    ctx.out(sub === 'add'
      ? `${who} now holds ${String(r.role)} on this node`
      : `${who} no longer holds ${String(r.removed)} on this node (as a mesh member it keeps read)`)
    return 0
  }
}
