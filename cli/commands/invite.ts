import { CONTROL_METHODS } from '../../protocols/control.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { expectInt, expectOneOf, expectRecord, expectString } from '../../protocols/validate.js'
import { ROLES, type Role } from '../../protocols/wire.js'
import { UsageError } from '../args.js'
import { str, type CommandSpec } from '../command.js'
import { callOnce } from '../control-client.js'

export interface InviteOutput { token: string, peerId: string, name: string, role: Role | null, expiresAt: number | null }

function parseInviteResult (value: unknown): InviteOutput {
  try {
    const r = expectRecord(value, 'result')
    return {
      token: expectString(r.token, 'result.token', { maxBytes: 4096 }),
      peerId: expectString(r.peerId, 'result.peerId', { maxBytes: 128 }),
      name: expectString(r.name, 'result.name', { maxBytes: 256 }),
      role: r.role === null ? null : expectOneOf(r.role, 'result.role', ROLES),
      expiresAt: r.expiresAt === null ? null : expectInt(r.expiresAt, 'result.expiresAt', { min: 0 })
    }
  } catch (err: unknown) {
    throw new ProcmeshError('PROTOCOL_ERROR', `invite: bad answer from the node: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** Lines before the token: what it carries and grants. */
export function describeInvite (r: InviteOutput, viaNode: boolean): string[] {
  const lines = [
    `Join token for the mesh of ${r.name} (${r.peerId}).`,
    `On the new host run: procmesh join TOKEN   (then start its node)`,
    `- ${r.name} becomes an admin of the joining node (exec and control there).`,
    r.role !== null
      ? `- the joining node gets the ${r.role} role on ${r.name} (single use, until ${new Date(r.expiresAt ?? 0).toISOString()}).`
      : '- the joining node gets read on this node, like every mesh member (grant more with --role).'
  ]
  if (!viaNode) lines.push('- no node is running here, so the token carries no addresses: the new host finds this one by mDNS or --bootstrap.')
  lines.push('The token holds the mesh key: pass it only to the host that joins.')
  return lines
}

export const inviteCommand: CommandSpec = {
  usage: 'procmesh invite [--role exec|control|read] [--home DIR] [--json]\n' +
    '  prints a join token (alone on the last line of stdout) for procmesh join on another host',
  options: {
    role: { type: 'string' }
  },
  positionals: [0, 0],
  async run (ctx, values) {
    const roleText = str(values, 'role')
    if (roleText !== undefined && !(ROLES as readonly string[]).includes(roleText)) throw new UsageError(`--role: one of ${ROLES.join(', ')}, got ${JSON.stringify(roleText)}`)
    const role = roleText as Role | undefined
    let result: InviteOutput
    let viaNode = true
    try {
      result = parseInviteResult(await callOnce<unknown>(ctx.home, CONTROL_METHODS.invite, role !== undefined ? { role } : {}))
    } catch (err: unknown) {
      if (!(err instanceof ProcmeshError) || err.code !== 'NO_NODE') throw err
      viaNode = false
      const { createInviteOffline } = await import('../../node/security/invite.js')
      result = await createInviteOffline(ctx.home, role)
    }
    if (ctx.json) {
      ctx.out(JSON.stringify(result))
      return 0
    }
    ctx.out([...describeInvite(result, viaNode), result.token].join('\n'))
    return 0
  }
}
