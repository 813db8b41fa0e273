/**
 * Small, dependency-free validators. Each takes the value and the path of the field
 * it came from, and throws InvalidFieldError naming that path, so every rejection
 * says exactly which field was wrong (`argv[3]: longer than 4096 bytes`).
 */
import { InvalidFieldError } from './errors.js'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function expectRecord (value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) throw new InvalidFieldError(path, `expected an object, got ${describe(value)}`)
  return value
}

/**
 * Bytes of `text` in UTF-8, as Buffer.byteLength counts them (a lone surrogate is the
 * 3-byte replacement character), without Buffer: the browser dashboard shares this module.
 */
export function utf8ByteLength (text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++ } else n += 3
  }
  return n
}

export interface StringRules { maxBytes?: number, minLength?: number, noNul?: boolean, pattern?: RegExp }

export function expectString (value: unknown, path: string, rules: StringRules = {}): string {
  if (typeof value !== 'string') throw new InvalidFieldError(path, `expected a string, got ${describe(value)}`)
  if (rules.minLength !== undefined && value.length < rules.minLength) {
    throw new InvalidFieldError(path, rules.minLength === 1 ? 'must not be empty' : `shorter than ${rules.minLength} characters`)
  }
  // a UTF-16 unit is 1 to 3 bytes: count only when the length alone does not decide
  if (rules.maxBytes !== undefined && value.length * 3 > rules.maxBytes && (value.length > rules.maxBytes || utf8ByteLength(value) > rules.maxBytes)) {
    throw new InvalidFieldError(path, `longer than ${rules.maxBytes} bytes`)
  }
  if (rules.noNul === true && value.includes('\0')) throw new InvalidFieldError(path, 'contains a NUL byte')
  if (rules.pattern !== undefined && !rules.pattern.test(value)) throw new InvalidFieldError(path, `does not match ${String(rules.pattern)}`)
  return value
}

export interface NumberRules { min?: number, max?: number, integer?: boolean }

export function expectNumber (value: unknown, path: string, rules: NumberRules = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidFieldError(path, `expected a finite number, got ${describe(value)}`)
  if (rules.integer === true && !Number.isSafeInteger(value)) throw new InvalidFieldError(path, 'expected an integer')
  if (rules.min !== undefined && value < rules.min) throw new InvalidFieldError(path, `must be >= ${rules.min}`)
  if (rules.max !== undefined && value > rules.max) throw new InvalidFieldError(path, `must be <= ${rules.max}`)
  return value
}

export function expectInt (value: unknown, path: string, rules: Omit<NumberRules, 'integer'> = {}): number {
  return expectNumber(value, path, { ...rules, integer: true })
}

export function expectBoolean (value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidFieldError(path, `expected a boolean, got ${describe(value)}`)
  return value
}

export function expectArray (value: unknown, path: string, maxItems: number): unknown[] {
  if (!Array.isArray(value)) throw new InvalidFieldError(path, `expected an array, got ${describe(value)}`)
  if (value.length > maxItems) throw new InvalidFieldError(path, `more than ${maxItems} items`)
  return value
}

/** True when `value` is one of `allowed`, narrowing it: no cast needed after the check. */
export function isOneOf<T extends string> (value: unknown, allowed: readonly T[]): value is T {
  return typeof value === 'string' && allowed.some(a => a === value)
}

export function expectOneOf<T extends string> (value: unknown, path: string, allowed: readonly T[]): T {
  if (!isOneOf(value, allowed)) throw new InvalidFieldError(path, `expected one of ${allowed.join(', ')}, got ${describe(value)}`)
  return value
}

export function optional<T> (value: unknown, check: (v: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value)
}

/** A map of short string keys to short string values (tags, env). */
export function expectStringMap (value: unknown, path: string, maxEntries: number, maxBytes: number): Record<string, string> {
  const rec = expectRecord(value, path)
  const keys = Object.keys(rec)
  if (keys.length > maxEntries) throw new InvalidFieldError(path, `more than ${maxEntries} entries`)
  const out: Record<string, string> = {}
  for (const key of keys) {
    expectString(key, `${path} key`, { maxBytes, minLength: 1, noNul: true })
    out[key] = expectString(rec[key], `${path}.${key}`, { maxBytes, noNul: true })
  }
  return out
}

export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return value.length > 20 ? 'a string' : JSON.stringify(value)
  if (typeof value === 'number') return String(value)
  return typeof value
}
