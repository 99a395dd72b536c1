import type { RedisSharedState } from '../../src/shared-state/redis-state.ts'

const HOUR_MS = 3_600_000

/**
 * firstConnect with an hour to wait, so that only a refusal Redis gave (or a connection) can end it
 * early, raced against a minute (`waited`): a refusal not recognised fails the test, not hangs it.
 */
export async function firstConnectOrMinute (state: RedisSharedState): Promise<boolean | 'waited'> {
  let timer: NodeJS.Timeout | undefined
  const minute = new Promise<'waited'>(resolve => { timer = setTimeout(() => resolve('waited'), 60_000) })
  try {
    return await Promise.race([state.firstConnect(HOUR_MS), minute])
  } finally {
    clearTimeout(timer)
  }
}
