import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ArgvSyntaxError, joinArgv, shellLookalikes, splitArgv } from '../../../cli/tui/argv.js'

describe('splitArgv', () => {
  const ok: Array<[string, string[]]> = [
    ['', []],
    ['   ', []],
    ['sleep 60', ['sleep', '60']],
    ['  sleep \t 60  ', ['sleep', '60']],
    ["echo 'hello world'", ['echo', 'hello world']],
    ['echo "hello world"', ['echo', 'hello world']],
    ["echo ''", ['echo', '']],
    ['echo ""', ['echo', '']],
    ["a'b'c", ['abc']],
    ['a"b c"d', ['ab cd']],
    ['echo hello\\ world', ['echo', 'hello world']],
    ["echo 'it'\\''s'", ['echo', "it's"]],
    ['echo "say \\"hi\\""', ['echo', 'say "hi"']],
    ['echo "back\\\\slash"', ['echo', 'back\\slash']],
    ['echo "keep \\n as is"', ['echo', 'keep \\n as is']],
    ["echo '$HOME' $HOME", ['echo', '$HOME', '$HOME']],
    ['ls *.log', ['ls', '*.log']],
    ['sh -c "echo hi | wc -c"', ['sh', '-c', 'echo hi | wc -c']],
    ['a | b', ['a', '|', 'b']],
    ['echo; rm -rf /', ['echo;', 'rm', '-rf', '/']],
    ['echo $(id)', ['echo', '$(id)']],
    ['printf "%s\\n" x', ['printf', '%s\\n', 'x']]
  ]
  for (const [line, argv] of ok) {
    it(`${JSON.stringify(line)} -> ${JSON.stringify(argv)}`, () => { assert.deepEqual(splitArgv(line), argv) })
  }

  const bad: Array<[string, RegExp]> = [
    ["echo 'open", /unterminated ' quote starting at column 6/],
    ['echo "open', /unterminated " quote/],
    ['echo \\', /trailing backslash/],
    ['echo "a\\"', /unterminated " quote/]
  ]
  for (const [line, message] of bad) {
    it(`rejects ${JSON.stringify(line)}`, () => {
      assert.throws(() => splitArgv(line), (e: unknown) => e instanceof ArgvSyntaxError && message.test(e.message))
    })
  }
})

describe('shellLookalikes', () => {
  it('finds bare shell operators', () => {
    assert.deepEqual(shellLookalikes('tail -f x | grep y > out'), ['|', '>'])
    assert.deepEqual(shellLookalikes('make && make install'), ['&&'])
  })
  it('ignores ordinary words', () => {
    assert.deepEqual(shellLookalikes("sleep 60 'a|b'"), [])
  })
})

describe('joinArgv', () => {
  const cases: string[][] = [['sleep', '60'], ['echo', 'hello world'], ['echo', "it's"], ['a', ''], ['x', '$HOME', '*', '|']]
  for (const argv of cases) {
    it(`round-trips ${JSON.stringify(argv)}`, () => { assert.deepEqual(splitArgv(joinArgv(argv)), argv) })
  }
  it('leaves plain words unquoted', () => { assert.equal(joinArgv(['sleep', '60', '/tmp/a-b.c']), 'sleep 60 /tmp/a-b.c') })
})
