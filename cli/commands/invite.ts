import type { InviteResult } from '../../protocols/control.js'
import { ROLES, type Role } from '../../protocols/wire.js'
import { isOneOf } from '../../protocols/validate.js'
import { UsageError } from '../args.js'
import { str, type CommandSpec } from '../command.js'
import { isNoNode, withClient } from '../control-client.js'

/** Lines before the token: what it carries and grants. */
export function describeInvite (r: InviteResult, viaNode: boolean): string[] {
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
    if (roleText !== undefined && !isOneOf(roleText, ROLES)) throw new UsageError(`--role: one of ${ROLES.join(', ')}, got ${JSON.stringify(roleText)}`)
    const role: Role | undefined = roleText
    let result: InviteResult
    let viaNode = true
    try {
      result = await withClient(ctx.home, async c => await c.invite(role !== undefined ? { role } : {}))
    } catch (err: unknown) {
      if (!isNoNode(err)) throw err
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
