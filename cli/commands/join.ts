import { bool, type CommandSpec } from '../command.js'
import { nodeRunning } from '../control-client.js'

export const joinCommand: CommandSpec = {
  usage: 'procmesh join TOKEN [--force] [--home DIR] [--json]\n' +
    '  joins the mesh of the token: stores its key and makes the inviting node an admin here;\n' +
    '  --force leaves the mesh this home belongs to now',
  options: {
    force: { type: 'boolean' }
  },
  positionals: [1, 1],
  async run (ctx, values, positionals) {
    // the daemon's modules load only here (libp2p peer ids, the trust store)
    const { joinMesh } = await import('../../node/security/invite.js')
    const result = await joinMesh(ctx.home, positionals[0], { force: bool(values, 'force') })
    const running = await nodeRunning(ctx.home)
    if (ctx.json) {
      ctx.out(JSON.stringify({ mesh: result.mesh, admin: result.admin, adminName: result.adminName, grant: result.grant, keyChanged: result.keyChanged, restartNeeded: running }))
      return 0
    }
    const lines = [
      `joined mesh ${result.mesh}${result.keyChanged ? ' (replacing the mesh key this home had)' : ''}`,
      `${result.adminName} (${result.admin}) is an admin of this node: it holds exec here (procmesh trust remove ${result.admin} takes that back)`
    ]
    if (result.grant !== null) lines.push(`this node will claim the ${result.grant} role on ${result.adminName} when it first connects to it`)
    lines.push(running
      ? `a node is running for ${ctx.home}: restart it (stop it and run procmesh node again) so it uses the mesh key and claims its grant`
      : `start the node: procmesh node --home ${ctx.home}`)
    ctx.out(lines.join('\n'))
    return 0
  }
}
