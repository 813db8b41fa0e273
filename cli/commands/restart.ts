import type { RestartParams, RestartResultEntry } from '../../protocols/control.js'
import { MANAGED_REF_PATTERN } from '../../protocols/managed.js'
import { UsageError } from '../args.js'
import type { CommandSpec } from '../command.js'

export function checkRef (text: string): string {
  if (!MANAGED_REF_PATTERN.test(text)) throw new UsageError(`NAME|ID: not a name, managed id or pid: ${JSON.stringify(text)}`)
  return text
}

export const restartCommand: CommandSpec = {
  usage: 'procmesh restart TARGET NAME|ID [--home DIR] [--json]\n' +
    '  stops a managed process (TERM, KILL after 5 s) and starts it again with the same id; also\n' +
    '  brings back one in crash-loop, exited or stopped (its restart budget starts afresh)',
  options: {},
  positionals: [2, 2],
  async run (ctx, _values, positionals) {
    const params: RestartParams = { target: positionals[0], ref: checkRef(positionals[1]) }
    const client = await ctx.connect()
    let result: RestartResultEntry
    try {
      result = await client.restart(params)
    } finally {
      client.close()
    }
    ctx.out(ctx.json
      ? JSON.stringify({ peerId: result.peerId, name: result.name, managedId: result.managedId, pid: result.pid, startTime: result.startTime })
      : `restarted ${result.managedId} pid ${result.pid} on ${result.name}`)
    return 0
  }
}
