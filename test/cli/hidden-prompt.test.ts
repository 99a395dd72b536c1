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
