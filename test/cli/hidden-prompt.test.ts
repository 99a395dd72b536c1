import { PassThrough } from 'node:stream'
import t from 'tap'
import { CliError } from '../../src/cli/broker-api.ts'
import { hiddenPrompt } from '../../src/cli/secret-input.ts'

/**
 * The order a person sees on a busy machine: the question shows only once echo is off. Seen in a
 * real terminal (test/cli/prompt.test.ts) under load: the question showed, the person typed, and the
 * process had not yet switched echo off, so the terminal printed the secret.
 */
function terminal () {
  const events: string[] = []
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    setRawMode (raw: boolean) { events.push(raw ? 'echo off' : 'echo on'); return input },
  }) as unknown as NodeJS.ReadStream
  const output = { write (text: string) { events.push(`shows ${JSON.stringify(text)}`); return true } } as unknown as NodeJS.WriteStream
  return { input, output, events }
}

t.test('echo is off before the question shows, and on again after the answer', async (t) => {
  const { input, output, events } = terminal()
  const answer = hiddenPrompt('Password (hidden): ', input, output)
  input.push('s3cret\r')
  t.equal(await answer, 's3cret')
  t.same(events, ['echo off', 'shows "Password (hidden): "', 'echo on', 'shows "\\n"'])
})

t.test('Ctrl-C turns echo on again and cancels with 130', async (t) => {
  const { input, output, events } = terminal()
  const answer = hiddenPrompt('Password (hidden): ', input, output)
  input.push('half\u0003')
  const refused = await answer.then(() => undefined, (err: unknown) => err)
  t.ok(refused instanceof CliError && refused.exitCode === 130, 'cancelled with 130')
  t.equal(events.at(-2), 'echo on')
})

t.test('line-editing keys edit the hidden value as in any password prompt; none of their bytes ends up in the secret', async (t) => {
  // a terminal in raw mode sends keys as bytes: Ctrl-U (start over, as at sudo's or passwd's prompt),
  // the arrow, Home/End and Delete keys as escape sequences (CSI `ESC [ … final`, SS3 `ESC O x`)
  const cases: Array<{ name: string, keys: string[], secret: string }> = [
    { name: 'Ctrl-U after a typo starts over', keys: ['typo\u0015s3cret\r'], secret: 's3cret' },
    { name: 'an arrow key is no part of the secret', keys: ['s3\u001b[Dcret\r'], secret: 's3cret' },
    { name: 'Delete, Home and End are no part of it', keys: ['s3\u001b[3~cr\u001bOH\u001bOFet\r'], secret: 's3cret' },
    { name: 'a sequence split across reads', keys: ['s3\u001b', '[1;5Dcret\r'], secret: 's3cret' },
    { name: 'the Escape key alone takes nothing after it', keys: ['s3\u001b', 'cret\r'], secret: 's3cret' },
  ]
  for (const { name, keys, secret } of cases) {
    const { input, output } = terminal()
    const answer = hiddenPrompt('Password (hidden): ', input, output)
    for (const chunk of keys) input.push(chunk)
    t.equal(await answer, secret, name)
  }
})
