/** `procmesh deploy`, `deployments` and `undeploy`: desired state across the mesh (protocols/deploy.ts). */
import { validateDeployName, validateDeployParams, type DeployParams, type DeploymentStatus } from '../../protocols/deploy.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { MAX_REPLICAS } from '../../protocols/limits.js'
import { RESTART_POLICIES, type RestartPolicyName } from '../../protocols/managed.js'
import { UsageError, parsePairs } from '../args.js'
import { str, strs, type CommandSpec } from '../command.js'
import { safe, table } from '../format.js'

/** Check locally what the node would refuse anyway: a typo is a usage error naming the flag. */
function usageCheck<T> (check: () => T): T {
  try {
    return check()
  } catch (err: unknown) {
    if (err instanceof ProcmeshError) throw new UsageError(err.message)
    throw err
  }
}

/** `--replicas 3` or `--replicas every`. */
export function parseReplicas (text: string | undefined): number | 'every' {
  if (text === undefined) throw new UsageError('--replicas N|every is required')
  if (text === 'every') return 'every'
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > MAX_REPLICAS) throw new UsageError(`--replicas: a number 1..${MAX_REPLICAS} or every, got ${JSON.stringify(text)}`)
  return Number(text)
}

/** The deploy request the flags describe (pure). */
export function deployParams (name: string, values: Parameters<CommandSpec['run']>[1], rest: string[]): DeployParams {
  const on = str(values, 'on')
  if (on === undefined) throw new UsageError('--on SELECTOR is required (all, tag:KEY=VALUE, or NAME[,NAME...])')
  if (rest.length === 0) throw new UsageError('missing the command: procmesh deploy NAME --on SELECTOR --replicas N -- CMD [ARG...]')
  const restart = str(values, 'restart')
  if (restart !== undefined && !(RESTART_POLICIES as readonly string[]).includes(restart)) throw new UsageError(`--restart: one of ${RESTART_POLICIES.join(', ')}, got ${JSON.stringify(restart)}`)
  const spreadText = str(values, 'spread')
  if (spreadText !== undefined && !/^\d{1,3}$/.test(spreadText)) throw new UsageError(`--spread: copies per host, a number, got ${JSON.stringify(spreadText)}`)
  const envPairs = strs(values, 'env')
  const cwd = str(values, 'cwd')
  return usageCheck(() => validateDeployParams({
    name,
    argv: rest,
    selector: on,
    replicas: parseReplicas(str(values, 'replicas')),
    ...(restart !== undefined ? { restart: restart as RestartPolicyName } : {}),
    ...(spreadText !== undefined ? { spread: Number(spreadText) } : {}),
    ...(envPairs.length > 0 ? { env: parsePairs(envPairs, '--env') } : {}),
    ...(cwd !== undefined ? { cwd } : {})
  }))
}

export const deployCommand: CommandSpec = {
  usage: 'procmesh deploy NAME --on SELECTOR --replicas N|every [--restart always|on-failure|no] [--spread K]\n' +
    '                       [--cwd DIR] [--env K=V]... [--home DIR] [--json] -- CMD [ARG...]\n' +
    '  keeps N copies of CMD running on the live hosts SELECTOR names (all, tag:KEY=VALUE, NAME[,NAME...]),\n' +
    '  at most K per host (default 1); every: one on each matching host. The spec is signed by this node\n' +
    '  and spread to every node; each host runs its copies only if this node holds exec in its trust.\n' +
    '  Copies are managed processes named NAME-vVERSION-SLOT (default --restart always). Deploying NAME\n' +
    '  again rolls the new spec out host by host (start new, then stop old).',
  options: {
    on: { type: 'string' },
    replicas: { type: 'string' },
    restart: { type: 'string' },
    spread: { type: 'string' },
    cwd: { type: 'string' },
    env: { type: 'string', multiple: true }
  },
  positionals: [1, Infinity],
  passThrough: true,
  async run (ctx, values, positionals, rest) {
    if (positionals.length > 1) throw new UsageError(`the command goes after --: procmesh deploy ${positionals[0]} ... -- ${positionals.slice(1).join(' ')}`)
    const params = deployParams(usageCheck(() => validateDeployName(positionals[0], 'NAME')), values, rest)
    const client = await ctx.connect()
    try {
      const r = await client.deploy(params)
      ctx.out(ctx.json ? JSON.stringify(r) : `deployed ${r.name} version ${r.version} (${params.replicas === 'every' ? 'every matching host' : `${params.replicas} replica(s)`} on ${safe(params.selector)}); procmesh deployments shows where it runs`)
    } finally {
      client.close()
    }
    return 0
  }
}

/** The table `procmesh deployments` prints (pure): one block per deployment. */
export function formatDeployments (list: DeploymentStatus[]): string {
  if (list.length === 0) return 'no deployments'
  const blocks: string[] = []
  for (const d of list) {
    const head = `${safe(d.name)} v${d.version}  ${d.running}/${d.desired} running${d.old > 0 ? ` (+${d.old} old)` : ''}  on ${safe(d.selector)}  replicas ${d.replicas}  restart ${d.restart}  cmd ${safe(d.argv.join(' '))}`
    const rows = d.placed.map(p => [safe(p.host), safe(p.copy), p.state])
    const lines = [head]
    if (rows.length > 0) lines.push(table(['HOST', 'COPY', 'STATE'], rows).split('\n').map(l => `  ${l}`).join('\n'))
    for (const p of d.problems) lines.push(`  ! ${safe(p)}`)
    blocks.push(lines.join('\n'))
  }
  return blocks.join('\n\n')
}

export const deploymentsCommand: CommandSpec = {
  usage: 'procmesh deployments [NAME] [--home DIR] [--json]\n' +
    '  every deployment as this node sees it: desired vs running copies, where each replica is placed\n' +
    '  and its state, and why replicas cannot be placed (too few live matching hosts, hosts refusing)',
  options: {},
  positionals: [0, 1],
  async run (ctx, _values, positionals) {
    const name = positionals[0] !== undefined ? usageCheck(() => validateDeployName(positionals[0], 'NAME')) : undefined
    const client = await ctx.connect()
    try {
      const list = await client.deployments(name !== undefined ? { name } : {})
      ctx.out(ctx.json ? JSON.stringify(list) : formatDeployments(list))
    } finally {
      client.close()
    }
    return 0
  }
}

export const undeployCommand: CommandSpec = {
  usage: 'procmesh undeploy NAME [--home DIR] [--json]\n' +
    '  stops every copy of deployment NAME on every host (a signed undeploy, one version up)',
  options: {},
  positionals: [1, 1],
  async run (ctx, _values, positionals) {
    const name = usageCheck(() => validateDeployName(positionals[0], 'NAME'))
    const client = await ctx.connect()
    try {
      const r = await client.undeploy({ name })
      ctx.out(ctx.json ? JSON.stringify(r) : `undeployed ${r.name} (version ${r.version}); every host stops its copies`)
    } finally {
      client.close()
    }
    return 0
  }
}
