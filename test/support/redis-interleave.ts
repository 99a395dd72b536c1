import type { Command } from 'ioredis'
import type { Teardown } from '../helper.ts'

interface CommandSender { sendCommand: (command: Command) => unknown }

/**
 * Another replica's step, made to land between one command of `client` and its answer, every run:
 * the next command `client` sends is answered by Redis as usual, but handed back only after `between`
 * has run. Only that one command; the client is as it was after the test. (ioredis' own client; no
 * module of the broker is stood in for.)
 */
export function betweenNextAnswer (t: Teardown, client: CommandSender, between: () => Promise<void>): void {
  const send = client.sendCommand.bind(client) as (command: Command) => Promise<unknown>
  let armed = true
  client.sendCommand = ((command: Command) => {
    const answer = send(command)
    if (!armed) return answer
    armed = false
    return answer.then(async (value) => {
      await between()
      return value
    })
  }) as CommandSender['sendCommand']
  t.teardown(() => { client.sendCommand = send })
}
