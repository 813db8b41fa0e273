import { ProcmeshError, errorMessage, toProcmeshError } from '../../protocols/errors.js'
import { untilStopSignal } from '../args.js'
import { bool, str, type CommandSpec } from '../command.js'
import { withClient } from '../control-client.js'
import { DEFAULT_WEB_LISTEN, WEB_TOKEN_FILE, isLoopback, loadOrCreateToken, parseListen } from '../web/access.js'
import { loadStaticAssets } from '../web/page.js'
import { WebServer } from '../web/server.js'

export const webCommand: CommandSpec = {
  usage: `procmesh web [--listen ${DEFAULT_WEB_LISTEN}] [--allow-control] [--require-token] [--home DIR] [--json]\n` +
    '  a browser dashboard and JSON API over the whole mesh, as a client of the local node\n' +
    `  --listen: HOST:PORT; any address other than loopback needs the API token in <home>/${WEB_TOKEN_FILE}\n` +
    '    (made on first use and shown once; send it as Authorization: Bearer TOKEN or enter it in the page)\n' +
    '  --allow-control: allow starting and stopping processes from the page and the API (the targets\' roles still apply);\n' +
    '    it always needs the API token, on loopback too\n' +
    '  --require-token: ask for the token on loopback too (other users of this machine can reach loopback)',
  options: {
    listen: { type: 'string' },
    'allow-control': { type: 'boolean' },
    'require-token': { type: 'boolean' }
  },
  positionals: [0, 0],
  async run (ctx, values) {
    const listen = parseListen(str(values, 'listen') ?? DEFAULT_WEB_LISTEN)
    const allowControl = bool(values, 'allow-control')
    // control starts processes as the node's user: every local user reaches loopback, so it always needs the token
    const needToken = !isLoopback(listen.host) || bool(values, 'require-token') || allowControl
    let token: string | undefined
    let createdToken: string | undefined
    let tokenFile: string | undefined
    if (needToken) {
      try {
        const loaded = await loadOrCreateToken(ctx.home)
        token = loaded.token
        tokenFile = loaded.path
        if (loaded.created) createdToken = loaded.token
      } catch (err: unknown) {
        const why = !isLoopback(listen.host) ? `${listen.host} is not a loopback address` : allowControl ? '--allow-control was given' : '--require-token was given'
        throw new ProcmeshError('REFUSED', `refusing to start without an API token (${why}): ${errorMessage(err)}`)
      }
    }

    // a checkout compiled by tsc alone has no page script: say so before listening
    await loadStaticAssets().catch((err: unknown) => { throw new ProcmeshError('UNAVAILABLE', errorMessage(err)) })
    const server = new WebServer({
      listen,
      home: ctx.home,
      allowControl,
      token,
      log: line => { ctx.err(`procmesh web: ${line}`) }
    })
    try {
      await server.start()
    } catch (err: unknown) {
      throw new ProcmeshError('UNAVAILABLE', `cannot listen on ${str(values, 'listen') ?? DEFAULT_WEB_LISTEN}: ${errorMessage(err)}`)
    }

    if (ctx.json) {
      ctx.out(JSON.stringify({
        url: server.url,
        allowControl,
        tokenRequired: token !== undefined,
        ...(tokenFile !== undefined ? { tokenFile } : {}),
        ...(createdToken !== undefined ? { token: createdToken } : {})
      }))
    } else {
      if (createdToken !== undefined) {
        ctx.out(`procmesh web: created the API token in ${tokenFile ?? WEB_TOKEN_FILE} (shown only this once):`)
        ctx.out(createdToken)
      }
      ctx.out(`procmesh web: serving ${server.url} (${allowControl ? 'control allowed' : 'read-only'}; ${token !== undefined ? `API token required, from ${tokenFile ?? WEB_TOKEN_FILE}` : 'no token: loopback only'})`)
    }
    try {
      await withClient(ctx.home, async c => await c.id({ timeoutMs: 3000 }))
    } catch (err: unknown) {
      ctx.err(`procmesh web: warning: ${toProcmeshError(err).message}; the dashboard shows the node as unavailable until it answers`)
    }

    await untilStopSignal()
    await server.stop()
    return 0
  }
}
