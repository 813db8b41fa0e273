import type { RmParams, RmResult } from '../../protocols/control.js'
import type { CommandSpec } from '../command.js'
import { checkRef } from './restart.js'

export const rmCommand: CommandSpec = {
  usage: 'procmesh rm TARGET NAME|ID [--home DIR] [--json]\n' +
    '  forgets a managed process: stops it first when it runs (TERM, KILL after 5 s), deletes its\n' +
    '  log files and frees its name; it is not brought back after a reboot',
  options: {},
  positionals: [2, 2],
  async run (ctx, _values, positionals) {
    const params: RmParams = { target: positionals[0], ref: checkRef(positionals[1]) }
    const client = await ctx.connect()
    let result: RmResult
    try {
      result = await client.rm(params)
    } finally {
      client.close()
    }
    ctx.out(ctx.json
      ? JSON.stringify(result)
      : `removed ${result.managedName !== null ? `${result.managedName} (${result.managedId})` : result.managedId} on ${result.name}${result.stopped ? ' (stopped it first)' : ''}`)
    return 0
  }
}
