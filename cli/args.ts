/** Argument helpers for the CLI: usage errors, durations, K=V pairs, the home directory. */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { MAX_INTERVAL_MS, MIN_INTERVAL_MS } from '../protocols/limits.js'

/** A usage error: exit code 2 and the command's usage. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** `--interval` of node and top: a duration within MIN_INTERVAL_MS..MAX_INTERVAL_MS; `fallback` when absent. */
export function parseInterval (text: string | undefined, fallback: number): number {
  const ms = text !== undefined ? parseDuration(text, '--interval') : fallback
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) throw new UsageError(`--interval: must be between ${MIN_INTERVAL_MS} ms and ${MAX_INTERVAL_MS / 60000} min`)
  return ms
}

/** "2s", "500ms", "1m", "7d", or a bare number of seconds. */
export function parseDuration (text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (m === null) throw new UsageError(`${flag}: expected a duration like 2s, 500ms or 1m, got ${JSON.stringify(text)}`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000
  return Math.round(n * factor)
}

/** "256MiB", "64M", "1GiB", "500k", or a bare number of bytes. */
export function parseSize (text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|b)?$/i.exec(text.trim())
  if (m === null) throw new UsageError(`${flag}: expected a size like 256MiB, 64M or 1G, got ${JSON.stringify(text)}`)
  const unit = (m[2] ?? '').toLowerCase()
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1
  return Math.round(Number(m[1]) * factor)
}

/** Repeated K=V flags into a record. */
export function parsePairs (items: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of items ?? []) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw new UsageError(`${flag}: expected KEY=VALUE, got ${JSON.stringify(item)}`)
    out[item.slice(0, eq)] = item.slice(eq + 1)
  }
  return out
}

export function parsePositiveInt (text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0) throw new UsageError(`${flag}: expected a positive integer, got ${JSON.stringify(text)}`)
  return Number(text)
}

/** --home, else $PROCMESH_HOME, else ~/.procmesh (resolved once, at the edge). */
export function resolveHome (flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== '') return resolve(flag)
  if (env.PROCMESH_HOME !== undefined && env.PROCMESH_HOME !== '') return resolve(env.PROCMESH_HOME)
  return join(homedir(), '.procmesh')
}

/** Resolve with the signal name on the first SIGINT or SIGTERM (long-running commands stop cleanly). */
export async function untilStopSignal (): Promise<NodeJS.Signals> {
  return await new Promise(resolve => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve(sig)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
