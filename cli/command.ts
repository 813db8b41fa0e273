/** The shape of a CLI command module. */
import type { ParseArgsConfig } from 'node:util'
import type { CliContext } from './context.js'

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>
export type OptionValues = Record<string, string | boolean | Array<string | boolean> | undefined>

export interface CommandSpec {
  usage: string
  options: OptionsConfig
  /** positional arguments allowed (min, max); max Infinity for any */
  positionals: [number, number]
  /** arguments after `--` are passed through untouched (run) */
  passThrough?: boolean
  run: (ctx: CliContext, values: OptionValues, positionals: string[], rest: string[]) => Promise<number>
}

export function str (values: OptionValues, key: string): string | undefined {
  const v = values[key]
  return typeof v === 'string' ? v : undefined
}

export function strs (values: OptionValues, key: string): string[] {
  const v = values[key]
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

export function bool (values: OptionValues, key: string): boolean {
  return values[key] === true
}
