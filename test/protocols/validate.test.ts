/** validate.ts counts UTF-8 bytes itself (it is shared with the browser dashboard): exactly as Buffer.byteLength does. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { expectString, utf8ByteLength } from '../../protocols/validate.js'
import { InvalidFieldError } from '../../protocols/errors.js'

describe('utf8ByteLength', () => {
  it('agrees with Buffer.byteLength, lone surrogates included', () => {
    const samples = ['', 'a', 'é', '€', '😀', 'a😀b', '\ud800', '\udc00x', 'x\ud83d', '\u0000', 'ß'.repeat(100), '漢字かな', '\u07ff\u0800\uffff']
    for (const s of samples) assert.equal(utf8ByteLength(s), Buffer.byteLength(s), JSON.stringify(s))
    let seed = 7
    for (let n = 0; n < 200; n++) {
      let s = ''
      for (let i = 0; i < 20; i++) { seed = (seed * 1103515245 + 12345) % 2147483648; s += String.fromCharCode(seed % 0x10000) }
      assert.equal(utf8ByteLength(s), Buffer.byteLength(s), `random string ${n}`)
    }
  })

  it('expectString refuses a string over maxBytes by its UTF-8 size, whatever its length', () => {
    assert.equal(expectString('€€', 'f', { maxBytes: 6 }), '€€')
    assert.throws(() => expectString('€€€', 'f', { maxBytes: 8 }), (err: unknown) => err instanceof InvalidFieldError && err.message === 'f: longer than 8 bytes')
    assert.throws(() => expectString('a'.repeat(9), 'f', { maxBytes: 8 }), /longer than 8 bytes/)
    assert.equal(expectString('a'.repeat(8), 'f', { maxBytes: 8 }), 'a'.repeat(8))
    assert.equal(expectString('😀😀', 'f', { maxBytes: 8 }), '😀😀')
  })
})
