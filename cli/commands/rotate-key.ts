import { ProcmeshError } from '../../protocols/errors.js'
import { MAX_ROTATE_MEMBERS, type RotateKeyResultLocal } from '../../protocols/rotate-key.js'
import { UsageError } from '../args.js'
import { bool, type CommandSpec } from '../command.js'
import { withClient } from '../control-client.js'
import { safe } from '../format.js'

const USAGE = 'procmesh rotate-key MEMBER... [--yes] [--alone] [--home DIR] [--json]\n' +
  '  makes a new mesh key and hands it, over the mesh, to each MEMBER (node name or peer id) that\n' +
  '  grants this node exec; they and this node switch to it a few seconds later. Every other holder\n' +
  '  of the old key (a removed or blocked member, a leaked invite token) can no longer connect.\n' +
  '  Without --yes it only shows who stays and who is out. --alone: name no member (this node only).'

/** The human lines of a rotation's outcome. */
export function describeRotation (r: RotateKeyResultLocal): string[] {
  const lines = [`new mesh ${r.mesh}: this node switches in ${Math.round(r.switchInMs / 1000)} s`]
  for (const m of r.members) {
    lines.push('error' in m
      ? `- ${safe(m.name)} (${m.peerId}): NOT handed the key: ${m.error.code}: ${safe(m.error.message)} (it is out; procmesh invite lets it back in)`
      : `- ${safe(m.name)} (${m.peerId}): took the key, switching`)
  }
  return lines
}

export const rotateKeyCommand: CommandSpec = {
  usage: USAGE,
  options: {
    yes: { type: 'boolean' },
    alone: { type: 'boolean' }
  },
  positionals: [0, MAX_ROTATE_MEMBERS],
  async run (ctx, values, positionals) {
    if (positionals.length === 0 && !bool(values, 'alone')) throw new UsageError('rotate-key needs the MEMBERs that keep the mesh (or --alone to keep none)')
    if (positionals.length > 0 && bool(values, 'alone')) throw new UsageError('--alone goes without MEMBERs')
    return await withClient(ctx.home, async c => {
      if (!bool(values, 'yes')) {
        const peers = (await c.peers()).filter(p => !p.self)
        const kept = new Set(positionals)
        const isKept = (name: string, id: string): boolean => kept.has(name) || kept.has(id) || positionals.some(t => t.length >= 8 && id.startsWith(t))
        const out = peers.filter(p => !isKept(p.name, p.peerId))
        const stay = peers.filter(p => isKept(p.name, p.peerId))
        throw new ProcmeshError('REFUSED', `rotate-key would keep ${stay.length > 0 ? stay.map(p => safe(p.name)).join(', ') : 'no other member'} and put out ${out.length > 0 ? out.map(p => safe(p.name)).join(', ') : 'no member in the view'} (and anyone else holding the old key); repeat with --yes`)
      }
      const result = await c.rotateKey({ members: positionals })
      ctx.out(ctx.json ? JSON.stringify(result) : describeRotation(result).join('\n'))
      return result.members.some(m => 'error' in m) ? 1 : 0
    })
  }
}
