import type { CommandSpec } from '../command.js'
import { withClient } from '../control-client.js'

export const idCommand: CommandSpec = {
  usage: 'procmesh id [--home DIR] [--json]',
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    const info = await withClient(ctx.home, async c => await c.id())
    if (ctx.json) {
      ctx.out(JSON.stringify({ peerId: info.peerId, name: info.name, addrs: info.addrs }))
    } else {
      ctx.out([`peer id  ${info.peerId}`, `name     ${info.name}`, ...info.addrs.map((a, i) => `${i === 0 ? 'addrs' : '     '}    ${a}`)].join('\n'))
    }
    return 0
  }
}
