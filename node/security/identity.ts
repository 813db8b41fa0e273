/** The node's stable Ed25519 identity, kept in its home with mode 0600. */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { readFile, writeFile } from 'node:fs/promises'
import { errorMessage, errnoCode } from '../../protocols/errors.js'

export class IdentityError extends Error {
  override name = 'IdentityError'
}

/**
 * Load the key at `file`, or create it when the file does not exist. A file that
 * exists but cannot be read or parsed is an error naming the file: silently making
 * a new identity would make every peer see a stranger.
 */
export async function loadOrCreateIdentity (file: string): Promise<{ key: PrivateKey, created: boolean }> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err: unknown) {
    if (errnoCode(err) !== 'ENOENT') throw new IdentityError(`cannot read identity key ${file}: ${errorMessage(err)}`)
    const key = await generateKeyPair('Ed25519')
    // 'wx': never overwrite a key another process wrote in the meantime
    await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    return { key, created: true }
  }
  try {
    const key = privateKeyFromProtobuf(bytes)
    if (key.type !== 'Ed25519') throw new Error(`expected an Ed25519 key, found ${key.type}`)
    return { key, created: false }
  } catch (err: unknown) {
    throw new IdentityError(`identity key ${file} is corrupt (${errorMessage(err)}); move it away to create a new identity, or restore it from a backup`)
  }
}
