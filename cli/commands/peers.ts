import type { CommandSpec } from '../command.js'
import { withClient } from '../control-client.js'
import { peerJson, peersTable } from '../peer-view.js'

export const peersCommand: CommandSpec = {
  usage: 'procmesh peers [--home DIR] [--json]',
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    const peers = await withClient(ctx.home, async c => await c.peers())
    ctx.out(ctx.json ? JSON.stringify(peers.map(peerJson)) : peersTable(peers, Date.now()))
    return 0
  }
}
