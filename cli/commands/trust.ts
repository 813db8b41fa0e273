import type { TrustAddResult, TrustListResult, TrustRemoveResult } from '../../protocols/control.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { isOneOf } from '../../protocols/validate.js'
import { UsageError } from '../args.js'
import { bool, str, type CommandSpec } from '../command.js'
import { safeText } from '../../protocols/text.js'
import type { CliContext } from '../context.js'
import { isNoNode, withClient, type ControlClient } from '../control-client.js'
import { formatAgo, table } from '../format.js'
import { TRUST_ROLES, TrustStore, type TrustRole } from '../../node/security/trust-store.js'
import { homePaths } from '../../node/setup/home.js'
import { grantTrust, removeTrust, trustEntryNamed, trustList } from '../../node/security/trust-change.js'

const USAGE = 'procmesh trust list | add PEER --role none|read|control|exec [--yes] | remove PEER [--yes] [--home DIR] [--json]\n' +
  '  PEER is a peer id or a node name known in the mesh (names need a running node). A name or a\n' +
  '  peer id prefix is only shown resolved to its full peer id; repeat with that id, or add --yes.\n' +
  '  Roles on this node: read (list, logs, history, audit; every mesh member), control (+ stop),\n' +
  '  exec (+ start); none refuses the peer\'s connections (but not a new identity holding the mesh\n' +
  '  key: procmesh rotate-key puts a member out). Changes apply to the next request.'

/** The peer id `text` spells, or undefined when it is not one. */
async function asPeerId (text: string): Promise<string | undefined> {
  const { peerIdFromString } = await import('@libp2p/peer-id')
  try { return peerIdFromString(text).toString() } catch { return undefined }
}

async function isFullPeerId (text: string): Promise<boolean> {
  return (await asPeerId(text)) === text
}

export function trustTable (r: TrustListResult, now: number): string {
  const rows = r.peers.map(p => [p.name ?? '-', p.role, p.source, p.addedAt > 0 ? formatAgo(p.addedAt, now) : '-', p.peerId])
  const out = [rows.length > 0 ? table(['NAME', 'ROLE', 'SOURCE', 'ADDED', 'PEER ID'], rows) : 'no trust entries: mesh members hold read, nobody else holds control or exec']
  for (const i of r.invites) out.push(`pending invite ${i.id}: grants ${i.role} here, until ${new Date(i.expiresAt).toISOString()}`)
  for (const c of r.claims) out.push(`to claim: ${c.role} on ${c.admin}, until ${new Date(c.expiresAt).toISOString()}`)
  return out.join('\n')
}

function openStore (ctx: CliContext): TrustStore {
  const store = new TrustStore(homePaths(ctx.home).trust)
  store.load()
  return store
}

/** Without a node: edit the file directly, as the node would (peer ids only: names need the mesh view). */
async function offlineChange (ctx: CliContext, peer: string, role: TrustRole | undefined): Promise<TrustAddResult | TrustRemoveResult> {
  const store = openStore(ctx)
  const { AuditLog } = await import('../../node/security/audit-log.js')
  const audit = new AuditLog(homePaths(ctx.home).audit)
  const peerId = (await asPeerId(peer)) ?? trustEntryNamed(store.data, peer)
  if (peerId === undefined) throw new ProcmeshError('UNKNOWN_PEER', `no node is running for ${ctx.home}, so PEER must be a peer id (or a name in the trust file); got ${JSON.stringify(peer)}`)
  const nobody = { by: null, byName: null }
  return role !== undefined ? grantTrust(store, audit, peerId, undefined, role, nobody) : removeTrust(store, audit, peerId, undefined, nobody)
}

/** Ask the node; without one, do it on the files of the home. */
async function viaNodeOr<T> (ctx: CliContext, online: (c: ControlClient) => Promise<T>, offline: () => Promise<T> | T): Promise<T> {
  try {
    return await withClient(ctx.home, online)
  } catch (err: unknown) {
    if (!isNoNode(err)) throw err
    return await offline()
  }
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
      if (!isOneOf(roleText, TRUST_ROLES)) throw new UsageError(`--role: one of ${TRUST_ROLES.join(', ')}, got ${JSON.stringify(roleText)}`)
      role = roleText
    } else if (sub === 'remove') {
      if (peer === undefined) throw new UsageError('trust remove needs PEER')
    } else {
      throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}: list, add or remove`)
    }
    if (sub !== 'add' && roleText !== undefined) throw new UsageError(`--role only goes with trust add`)
    if (sub === 'list') {
      const list = await viaNodeOr(ctx, async c => await c.trustList(), () => trustList(openStore(ctx).data))
      ctx.out(ctx.json ? JSON.stringify(list) : trustTable(list, Date.now()))
      return 0
    }
    const given = peer ?? ''
    let target = given
    if (!(await isFullPeerId(given))) {
      // names come from gossip: a grant or a removal by name or prefix goes to a full peer id the
      // operator has seen (the node only says which peer it is: dryRun)
      const seen = await viaNodeOr<TrustAddResult | TrustRemoveResult | undefined>(ctx,
        async c => role !== undefined ? await c.trustAdd({ peer: given, role, dryRun: true }) : await c.trustRemove({ peer: given, dryRun: true }),
        () => undefined)
      if (seen !== undefined) {
        const who = `${seen.name !== null ? safeText(seen.name) : 'a peer'} (${seen.peerId})`
        if (!bool(values, 'yes')) {
          throw new ProcmeshError('REFUSED', `${JSON.stringify(safeText(given))} is ${who}; to ${sub === 'add' ? `grant ${role ?? ''}` : 'remove its entry'}, repeat with the full peer id ` +
            `(procmesh trust ${sub} ${seen.peerId}${role !== undefined ? ` --role ${role}` : ''}) or add --yes`)
        }
        target = seen.peerId
      }
    }
    const result = await viaNodeOr<TrustAddResult | TrustRemoveResult>(ctx,
      async c => role !== undefined ? await c.trustAdd({ peer: target, role }) : await c.trustRemove({ peer: target }),
      async () => await offlineChange(ctx, target, role))
    if (ctx.json) {
      ctx.out(JSON.stringify(result))
      return 0
    }
    const who = `${result.name !== null ? safeText(result.name) : 'peer'} (${result.peerId})`
    ctx.out('role' in result
      ? `${who} now holds ${result.role} on this node`
      : `${who} no longer holds ${result.removed} on this node (as a mesh member it keeps read)`)
    return 0
  }
}
