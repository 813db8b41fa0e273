import { CONTROL_METHODS, type RmParams, type RmResult } from '../../protocols/control.js'
import { ProcmeshError, toProcmeshError } from '../../protocols/errors.js'
import { MANAGED_ID_PATTERN } from '../../protocols/messages.js'
import { expectBoolean, expectRecord, expectString } from '../../protocols/validate.js'
import type { CommandSpec } from '../command.js'
import { checkRef } from './restart.js'

export function parseRmResult (value: unknown): RmResult {
  try {
    const r = expectRecord(value, 'result')
    return {
      peerId: expectString(r.peerId, 'result.peerId'),
      name: expectString(r.name, 'result.name'),
      managedId: expectString(r.managedId, 'result.managedId', { pattern: MANAGED_ID_PATTERN }),
      managedName: r.managedName === null ? null : expectString(r.managedName, 'result.managedName', { maxBytes: 64 }),
      stopped: expectBoolean(r.stopped, 'result.stopped')
    }
  } catch (err: unknown) {
    throw new ProcmeshError('PROTOCOL_ERROR', `rm: bad answer from the node: ${toProcmeshError(err).message}`)
  }
}

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
      result = parseRmResult(await client.call<unknown>(CONTROL_METHODS.rm, params))
    } finally {
      client.close()
    }
    ctx.out(ctx.json
      ? JSON.stringify(result)
      : `removed ${result.managedName !== null ? `${result.managedName} (${result.managedId})` : result.managedId} on ${result.name}${result.stopped ? ' (stopped it first)' : ''}`)
    return 0
  }
}
