import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { ACME } from '../helper.ts'
import { startBroker } from '../support/broker.ts'
import { SFB, simControl, SOURCE_CONDITION } from './support.ts'

/**
 * The hidden prompt as a person meets it: sfb runs in a real terminal (a tmux pane on a private
 * socket), the test types like a person (tmux send-keys) and reads the screen (capture-pane).
 */
const run = promisify(execFile)
const socket = `sfb-test-${process.pid}`
const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args])

async function screen (pane: string): Promise<string> {
  return (await tmux('capture-pane', '-p', '-J', '-t', pane)).stdout
}

/** Polls the screen until `pattern` shows (generous bound: the machine is shared). */
async function waitFor (pane: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const text = await screen(pane)
    if (pattern.test(text)) return text
    if (Date.now() > until) throw new Error(`timed out waiting for ${pattern} on the screen:\n${text}`)
    await sleep(100)
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`

t.test('sfb reads a secret from a hidden prompt in a real terminal', async (t) => {
  await run('tmux', ['-V']).catch(() => { throw new Error('tmux is needed for this test (apt-get install tmux)') })
  const broker = await startBroker(t, { acme: { flow: 'soap' } })
  const dir = await mkdtemp(join(tmpdir(), 'sfb-prompt-'))
  const keyFile = join(dir, 'admin-key')
  await writeFile(keyFile, broker.principals.adminKey, { mode: 0o600 })
  t.teardown(async () => {
    await tmux('kill-server').catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  const open = async (name: string, args: string[]) => {
    const command = ['env', '-u', 'NODE_OPTIONS', `SFB_URL=${broker.baseUrl}`, `SFB_ADMIN_KEY_FILE=${keyFile}`, process.execPath, SOURCE_CONDITION, SFB, ...args].map(shellQuote).join(' ')
    await tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', `${command}; echo "EXIT=$?"; sleep 600`)
    return `${name}:0.0`
  }

  await t.test('the token is typed, not shown, and the rotation goes through', async (t) => {
    const { securityToken } = await simControl(broker.sim.loginUrl, 'POST', `orgs/acme/users/${encodeURIComponent(ACME.username)}/reset-token`)
    const pane = await open('rotate', ['connections', 'rotate', 'acme', 'securityToken'])
    await waitFor(pane, /New security token \(from the reset e-mail\) \(hidden\): $/m)
    await tmux('send-keys', '-t', pane, '-l', String(securityToken))
    await tmux('send-keys', '-t', pane, 'Enter')
    const text = await waitFor(pane, /EXIT=\d+/)
    t.match(text, /rotated acme: now version 2/)
    t.match(text, /EXIT=0/)
    t.notMatch(text, String(securityToken), 'the secret never appeared on the screen')
    t.equal(broker.sim.stats('acme').failures, 0)
  })

  await t.test('backspace edits, Ctrl-C cancels with 130 and stores nothing', async (t) => {
    const pane = await open('cancel', ['connections', 'rotate', 'acme', 'password'])
    await waitFor(pane, /\(hidden\): $/m)
    await tmux('send-keys', '-t', pane, '-l', 'half-typed')
    await tmux('send-keys', '-t', pane, 'BSpace', 'C-c')
    const text = await waitFor(pane, /EXIT=\d+/)
    t.match(text, /EXIT=130/)
    t.notMatch(text, 'half-type')
    const meta = await fetch(`${broker.baseUrl}/v1/admin/connections/acme`, { headers: { authorization: `Bearer ${broker.principals.adminKey}` } })
    t.equal(((await meta.json()) as { version: number }).version, 2)
  })

  await t.test('Ctrl-U starts over and arrow keys add nothing: the token typed is the token sent', async (t) => {
    const { securityToken } = await simControl(broker.sim.loginUrl, 'POST', `orgs/acme/users/${encodeURIComponent(ACME.username)}/reset-token`)
    const failures = broker.sim.stats('acme').failures
    const pane = await open('edit', ['connections', 'rotate', 'acme', 'securityToken'])
    await waitFor(pane, /\(hidden\): $/m)
    await tmux('send-keys', '-t', pane, '-l', 'a-typo')
    await tmux('send-keys', '-t', pane, 'C-u', 'Left', 'Right')
    await tmux('send-keys', '-t', pane, '-l', String(securityToken))
    await tmux('send-keys', '-t', pane, 'Enter')
    const text = await waitFor(pane, /EXIT=\d+/)
    t.match(text, /rotated acme: now version 3/)
    t.match(text, /EXIT=0/)
    t.equal(broker.sim.stats('acme').failures, failures, 'no failed login at Salesforce')
  })

  await t.test('--stdin at a terminal is refused before anything is typed: the terminal would echo the secret', async (t) => {
    const pane = await open('stdin-at-terminal', ['connections', 'rotate', 'acme', 'securityToken', '--stdin'])
    const text = await waitFor(pane, /EXIT=\d+/, 5_000).catch(async () => {
      // what happens without the check: sfb waits for end of input while the terminal echoes each key
      await tmux('send-keys', '-t', pane, '-l', 'typed-with-echo-on')
      await tmux('send-keys', '-t', pane, 'Enter', 'C-d')
      return waitFor(pane, /EXIT=\d+/)
    })
    t.match(text, /EXIT=2/)
    t.match(text, /--stdin reads a pipe or a file/)
    t.notMatch(text, 'typed-with-echo-on', 'no secret on the screen')
  })

  await t.test('delete asks for the name in the terminal', async (t) => {
    const pane = await open('delete', ['connections', 'delete', 'acme'])
    await waitFor(pane, /Type the name "acme"/)
    await tmux('send-keys', '-t', pane, '-l', 'acme')
    await tmux('send-keys', '-t', pane, 'Enter')
    const text = await waitFor(pane, /EXIT=\d+/)
    t.match(text, /deleted acme/)
    t.match(text, /EXIT=0/)
  })
})
